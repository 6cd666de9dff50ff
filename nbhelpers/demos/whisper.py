"""Offline Whisper models: the demo speech recogniser `nbhelpers/demo-whisper`, a tiny `WhisperForConditionalGeneration`
that hears the English digit words "zero" ... "nine", and its cost model `nbhelpers/demo-whisper-cost`.

The demo is committed in `DATA` with held-out clips in voices it never heard in training; `nbhelpers.models` uses
that folder as the model's snapshot and caches its exports under a digest of the weights, so a retrained model
gets fresh exports. The training program is `tools/train_demo_whisper.py` (it needs espeak-ng).

The cost model has random weights at whisper-tiny's real size (39 M parameters, 4 + 4 layers of 384, the 51865-token
vocabulary with Whisper's special ids): the demo is too small to time (its calls are mostly overhead), the cost model
costs what whisper-tiny costs. `whisper_tokenizer` builds Whisper's token layout for all three (demo, cost model,
the tests' twin of whisper-tiny).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbhelpers.audio import SAMPLE_RATE  # Whisper hears 16 kHz mono, the rate nbhelpers.audio loads at

if TYPE_CHECKING:
    from transformers import WhisperTokenizer

__all__ = ["DATA", "DIGITS", "HELDOUT_CLIPS", "SAMPLE_RATE", "TIME_STEP", "build_cost_model", "clip_words",
           "iter_clips", "whisper_tokenizer"]

DATA = Path(__file__).parent / "data" / "demo-whisper"  # the committed model and clips
DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")  # all the model knows
TIME_STEP = 0.02  # seconds per timestamp token, as in Whisper
HELDOUT_CLIPS = 100  # enough to measure exact match in 1 % steps, so one clip cannot move it by several percent


def iter_clips(folder: Path = DATA / "clips") -> Iterator[tuple[Path, list[tuple[float, float, str]]]]:
    """Yield (clip file, its segments) for the held-out clips; a segment is (start s, end s, words)."""
    for entry in json.loads((folder / "manifest.json").read_text()):
        yield folder / entry["file"], [tuple(s) for s in entry["segments"]]


def clip_words(folder: Path = DATA / "clips") -> list[list[tuple[float, float, str]] | None]:
    """Each held-out clip's words with their true start and end (s), in `iter_clips` order; None for a clip whose
    words silence detection could not tell apart (tools/find_alignment_heads.py wrote them)."""
    return [[tuple(w) for w in entry["words"]] if entry.get("words") else None
            for entry in json.loads((folder / "manifest.json").read_text())]


# ---------------------------------------------------------------- Whisper's token layout, and whisper-tiny's facts

# After the text tokens: <|endoftext|>, <|startoftranscript|>, the language tokens, these, then the timestamps.
SPECIALS = ("<|translate|>", "<|transcribe|>", "<|startoflm|>", "<|startofprev|>", "<|nospeech|>", "<|notimestamps|>")
TIMESTAMPS = 1501  # <|0.00|> .. <|30.00|> in steps of TIME_STEP
N_LANGUAGES = 99  # tiny to large-v2; large-v3 added <|yue|>, the 100th of transformers' LANGUAGES
BASE_VOCAB = 50257  # GPT-2's byte-level BPE without its <|endoftext|>; Whisper puts that at 50257

# Source: openai/whisper-tiny config.json, as copied in public fine-tunes (for example
# huggingface.co/aisak-ai/aisak-listen/config.json, whose _name_or_path is openai/whisper-tiny).
TINY_CONFIG: dict[str, Any] = {
    "architectures": ["WhisperForConditionalGeneration"],
    "d_model": 384, "encoder_layers": 4, "decoder_layers": 4, "encoder_attention_heads": 6,
    "decoder_attention_heads": 6, "encoder_ffn_dim": 1536, "decoder_ffn_dim": 1536, "vocab_size": 51865,
    "num_mel_bins": 80, "max_source_positions": 1500, "max_target_positions": 448, "activation_function": "gelu",
    "scale_embedding": False, "bos_token_id": 50257, "eos_token_id": 50257, "pad_token_id": 50257,
    "decoder_start_token_id": 50258, "begin_suppress_tokens": [220, 50257],
}
# Source: openai/whisper-tiny generation_config.json (the ids, forced_decoder_ids, max_length, is_multilingual);
# max_initial_timestamp_index and return_timestamps as in the multilingual checkpoints' files. lang_to_id and the
# alignment heads are added by `tiny_generation_config`. suppress_tokens: openai/whisper's non_speech_tokens for the
# multilingual vocabulary, then <|startoftranscript|>, <|translate|>, <|transcribe|>, <|startoflm|>, <|startofprev|>,
# <|nospeech|> (the list multilingual Whisper configs carry).
TINY_GENERATION: dict[str, Any] = {
    "begin_suppress_tokens": [220, 50257], "bos_token_id": 50257, "decoder_start_token_id": 50258,
    "eos_token_id": 50257, "pad_token_id": 50257, "forced_decoder_ids": [[1, None], [2, 50359]],
    "is_multilingual": True, "max_initial_timestamp_index": 50, "max_length": 448, "no_timestamps_token_id": 50363,
    "prev_sot_token_id": 50361, "return_timestamps": False, "task_to_id": {"transcribe": 50359, "translate": 50358},
    "suppress_tokens": [
        1, 2, 7, 8, 9, 10, 14, 25, 26, 27, 28, 29, 31, 58, 59, 60, 61, 62, 63, 90, 91, 92, 93, 359, 503, 522, 542,
        873, 893, 902, 918, 922, 931, 1350, 1853, 1982, 2460, 2627, 3246, 3253, 3268, 3536, 3846, 3961, 4183, 4667,
        6585, 6647, 7273, 9061, 9383, 10428, 10929, 11938, 12033, 12331, 12562, 13793, 14157, 14635, 15265, 15618,
        16553, 16604, 18362, 18956, 20075, 21675, 22520, 26130, 26161, 26435, 28279, 29464, 31650, 32302, 32470,
        36865, 42863, 47425, 49870, 50254, 50258, 50358, 50359, 50360, 50361, 50362,
    ],
}
TINY_ALIGNMENT_HEADS = [[2, 2], [3, 0], [3, 2], [3, 3], [3, 4], [3, 5]]
# Source: openai/whisper-tiny preprocessor_config.json.
TINY_FEATURES: dict[str, Any] = {"feature_size": 80, "n_fft": 400, "hop_length": 160, "chunk_length": 30,
                                 "sampling_rate": 16000, "padding_value": 0.0, "return_attention_mask": False}


def whisper_tokenizer(vocab: dict[str, int], merges: list[tuple[str, str]],
                      languages: int = N_LANGUAGES) -> WhisperTokenizer:
    """Return a `WhisperTokenizer` of the byte-level BPE (`vocab`, `merges`) followed by Whisper's other tokens in
    Whisper's order: <|endoftext|>, <|startoftranscript|>, the first `languages` language tokens, `SPECIALS`
    (<|notimestamps|> last), then the timestamps <|0.00|> ... <|30.00|>."""
    from tokenizers import AddedToken
    from transformers import WhisperTokenizer
    from transformers.models.whisper.tokenization_whisper import LANGUAGES

    tokenizer = WhisperTokenizer(vocab=vocab, merges=merges, clean_up_tokenization_spaces=False)
    specials = ["<|startoftranscript|>", *(f"<|{code}|>" for code in list(LANGUAGES)[:languages]), *SPECIALS]
    tokenizer.add_special_tokens({"extra_special_tokens": [AddedToken(s, special=True, normalized=False)
                                                           for s in specials]})
    tokenizer.add_tokens([AddedToken(f"<|{i * TIME_STEP:.2f}|>", special=False, normalized=False)
                          for i in range(TIMESTAMPS)])
    return tokenizer


def tiny_generation_config(tokenizer: WhisperTokenizer, alignment_heads: list[list[int]]) -> dict[str, Any]:
    """Return whisper-tiny's generation_config.json for `tokenizer` (whisper-tiny's ids) and `alignment_heads`."""
    from transformers.models.whisper.tokenization_whisper import LANGUAGES

    lang_to_id = {f"<|{code}|>": tokenizer.convert_tokens_to_ids(f"<|{code}|>")
                  for code in list(LANGUAGES)[:N_LANGUAGES]}
    return {**TINY_GENERATION, "alignment_heads": alignment_heads, "lang_to_id": lang_to_id}


def filler_vocab(size: int) -> dict[str, int]:
    """Return a byte-level BPE vocabulary of `size` tokens: the 256 byte tokens in GPT-2's order (220 is the space),
    then made-up words (" aa", " ab", ...). No merge makes the words, so text encodes byte by byte, but every id
    decodes: a random-weight model's tokens read as nonsense words."""
    import string
    from itertools import count, product

    from transformers.convert_slow_tokenizer import bytes_to_unicode

    vocab = {char: i for i, char in enumerate(bytes_to_unicode().values())}
    space = bytes_to_unicode()[ord(" ")]
    words = ("".join(w) for n in count(2) for w in product(string.ascii_lowercase, repeat=n))
    while len(vocab) < size:
        vocab[space + next(words)] = len(vocab)
    return vocab


COST_CARD = """A `WhisperForConditionalGeneration` with random weights at openai/whisper-tiny's size ({params:.0f} M
parameters: 4 encoder and 4 decoder layers of 384, 6 heads, the 51865-token vocabulary with whisper-tiny's special
ids). Its transcripts are nonsense words, and it never ends one by itself (the <|endoftext|> row of the tied
embedding is zero, so that logit is 0 while the best of 51865 random logits is well above it): every engine writes
exactly `max_new_tokens` tokens. It exists so that timings measure the cost of a real Whisper of this size, not the
Python and call overhead that dominates the 1.5 M-parameter demo."""


def build_cost_model(out: Path, seed: int = 0) -> int:
    """Save the random-weight whisper-tiny-sized model described by `COST_CARD` as a hub snapshot in `out` (fp16
    weights) and return its parameter count."""
    import torch
    from transformers import WhisperConfig, WhisperFeatureExtractor, WhisperForConditionalGeneration

    from nbhelpers.demos import model_card

    tokenizer = whisper_tokenizer(filler_vocab(BASE_VOCAB), [])
    assert len(tokenizer) == TINY_CONFIG["vocab_size"], len(tokenizer)
    config = WhisperConfig(**{k: v for k, v in TINY_CONFIG.items() if k != "architectures"}, dropout=0.0)
    config.architectures = TINY_CONFIG["architectures"]
    torch.manual_seed(seed)
    model = WhisperForConditionalGeneration(config).eval()
    with torch.no_grad():  # the output projection is tied to this table: <|endoftext|> scores 0, never the best
        model.get_decoder().embed_tokens.weight[TINY_CONFIG["eos_token_id"]] = 0
    n_params = sum(p.numel() for p in model.parameters())
    out = Path(out)
    model.to(torch.float16).save_pretrained(out)
    tokenizer.save_pretrained(out)
    WhisperFeatureExtractor(**TINY_FEATURES).save_pretrained(out)
    generation = tiny_generation_config(tokenizer, TINY_ALIGNMENT_HEADS)
    (out / "generation_config.json").write_text(json.dumps(generation, indent=2) + "\n")
    card = model_card("nbhelpers/demo-whisper-cost", COST_CARD.format(params=n_params / 1e6), tags=("whisper",),
                      pipeline_tag="automatic-speech-recognition")
    (out / "README.md").write_text(card, encoding="utf-8")
    return n_params
