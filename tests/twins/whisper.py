"""A random-weight twin of `openai/whisper-tiny` (the default model of notebook 05).

Real: `WhisperForConditionalGeneration`, d_model 384, 6 heads, ffn 1536, 80 mel bins, 1500 source and 448 target
positions, the 51865-token vocabulary in Whisper's layout (a GPT-2-style byte-level BPE of 50257 tokens with the
256 byte tokens first, so 220 is the space as in GPT-2; then <|endoftext|> 50257, <|startoftranscript|> 50258, the
99 language tokens, the task and other special tokens, <|notimestamps|> 50363 and 1501 timestamp tokens), every id
of `generation_config.json` and the feature extractor's settings. Shrunk: one encoder and one decoder layer.
The weights are random with a larger init std than Whisper's (see `INIT_STD`), so that the decoder's tokens depend
on the audio.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.twins import byte_level_bpe, repo_dir

if TYPE_CHECKING:
    from transformers import WhisperTokenizer

NAME = "openai/whisper-tiny"

# Source: openai/whisper-tiny config.json, as copied in public fine-tunes (for example
# huggingface.co/aisak-ai/aisak-listen/config.json, whose _name_or_path is openai/whisper-tiny).
REAL_CONFIG: dict[str, Any] = {
    "architectures": ["WhisperForConditionalGeneration"],
    "d_model": 384, "encoder_layers": 4, "decoder_layers": 4, "encoder_attention_heads": 6,
    "decoder_attention_heads": 6, "encoder_ffn_dim": 1536, "decoder_ffn_dim": 1536, "vocab_size": 51865,
    "num_mel_bins": 80, "max_source_positions": 1500, "max_target_positions": 448, "activation_function": "gelu",
    "scale_embedding": False, "bos_token_id": 50257, "eos_token_id": 50257, "pad_token_id": 50257,
    "decoder_start_token_id": 50258, "begin_suppress_tokens": [220, 50257],
}
SHRUNK = {"encoder_layers": 1, "decoder_layers": 1}

# Source: openai/whisper-tiny generation_config.json as quoted in the issue (the ids, forced_decoder_ids, max_length,
# is_multilingual); max_initial_timestamp_index and return_timestamps as in the multilingual checkpoints' files.
# lang_to_id and the alignment heads are built below: the 99 languages of tiny..large-v2 in Whisper's order from
# <|en|> 50259 to <|su|> 50357; tiny's alignment heads [[2, 2], [3, 0], [3, 2], [3, 3], [3, 4], [3, 5]] name layers
# 2 and 3, which the one-layer twin maps to layer 0. suppress_tokens: openai/whisper's non_speech_tokens for the
# multilingual vocabulary, then <|startoftranscript|>, <|translate|>, <|transcribe|>, <|startoflm|>, <|startofprev|>,
# <|nospeech|> (the list multilingual Whisper configs carry; the issue allows any valid subset).
REAL_GENERATION: dict[str, Any] = {
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
REAL_ALIGNMENT_HEADS = [[2, 2], [3, 0], [3, 2], [3, 3], [3, 4], [3, 5]]
N_LANGUAGES = 99  # tiny to large-v2; large-v3 added <|yue|>, the 100th of transformers' LANGUAGES

# Source: openai/whisper-tiny preprocessor_config.json.
REAL_FEATURES: dict[str, Any] = {"feature_size": 80, "n_fft": 400, "hop_length": 160, "chunk_length": 30,
                                 "sampling_rate": 16000, "padding_value": 0.0, "return_attention_mask": False}

BASE_VOCAB = 50257  # GPT-2's byte-level BPE without its <|endoftext|>; Whisper puts that at 50257
SPECIALS = ("<|translate|>", "<|transcribe|>", "<|startoflm|>", "<|startofprev|>", "<|nospeech|>", "<|notimestamps|>")
TIMESTAMPS = 1501  # <|0.00|> .. <|30.00|> in steps of 20 ms
# Whisper initialises with std 0.02. At that scale the random twin wrote one token eight times, the same for three
# different clips; at 0.25 the three answers differ from their first token on.
INIT_STD = 0.25


def gpt2_bpe(vocab_size: int) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Return (vocab, merges) of a `byte_level_bpe` of `vocab_size` tokens, no specials, renumbered so the 256 byte
    tokens come first in GPT-2's order, as in GPT-2's, Whisper's and Qwen2's vocabularies ("Ġ", the space, is 220;
    "Ċ", the newline, 198)."""
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    spec = json.loads(byte_level_bpe(vocab_size, []).to_str())["model"]
    vocab = {char: i for i, char in enumerate(bytes_to_unicode().values())}
    for token, _ in sorted(spec["vocab"].items(), key=lambda item: item[1]):
        vocab.setdefault(token, len(vocab))
    merges = [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in spec["merges"]]
    return vocab, merges


def build_tokenizer() -> WhisperTokenizer:
    """Return a `WhisperTokenizer` with whisper-tiny's layout and ids: a trained 50257-token byte-level BPE (byte
    tokens first in GPT-2's order), then the special, language and timestamp tokens (as tools.train_demo_whisper)."""
    from tokenizers import AddedToken
    from transformers import WhisperTokenizer
    from transformers.models.whisper.tokenization_whisper import LANGUAGES

    vocab, merges = gpt2_bpe(BASE_VOCAB)
    tokenizer = WhisperTokenizer(vocab=vocab, merges=merges, clean_up_tokenization_spaces=False)
    specials = ["<|startoftranscript|>", *(f"<|{code}|>" for code in list(LANGUAGES)[:N_LANGUAGES]), *SPECIALS]
    tokenizer.add_special_tokens({"extra_special_tokens": [AddedToken(s, special=True, normalized=False)
                                                           for s in specials]})
    tokenizer.add_tokens([AddedToken(f"<|{i * 0.02:.2f}|>", special=False, normalized=False)
                          for i in range(TIMESTAMPS)])
    return tokenizer


def generation_config(tokenizer: WhisperTokenizer) -> dict[str, Any]:
    """Return whisper-tiny's generation_config.json (alignment heads moved into the twin's single layer)."""
    from transformers.models.whisper.tokenization_whisper import LANGUAGES

    lang_to_id = {f"<|{code}|>": tokenizer.convert_tokens_to_ids(f"<|{code}|>")
                  for code in list(LANGUAGES)[:N_LANGUAGES]}
    heads = sorted({(0, head) for _, head in REAL_ALIGNMENT_HEADS})
    return {**REAL_GENERATION, "alignment_heads": [list(h) for h in heads], "lang_to_id": lang_to_id}


def build(root: Path, seed: int = 0) -> Path:
    """Save the twin as a hub snapshot in `root`/openai/whisper-tiny (fp32 weights, as the real snapshot) and return
    the folder. Raises AssertionError if the tokenizer does not have whisper-tiny's ids."""
    import torch
    from transformers import WhisperConfig, WhisperFeatureExtractor, WhisperForConditionalGeneration

    out = repo_dir(root, NAME)
    tokenizer = build_tokenizer()
    ids = {token: tokenizer.convert_tokens_to_ids(token) for token in (
        "Ġ", "<|endoftext|>", "<|startoftranscript|>", "<|en|>", "<|su|>", "<|translate|>", "<|transcribe|>",
        "<|startofprev|>", "<|notimestamps|>", "<|0.00|>", "<|30.00|>")}
    assert list(ids.values()) == [220, 50257, 50258, 50259, 50357, 50358, 50359, 50361, 50363, 50364, 51864], ids
    assert len(tokenizer) == REAL_CONFIG["vocab_size"], len(tokenizer)
    fields = {k: v for k, v in REAL_CONFIG.items() if k != "architectures"}
    config = WhisperConfig(**{**fields, **SHRUNK}, init_std=INIT_STD, dropout=0.0)
    config.architectures = REAL_CONFIG["architectures"]
    torch.manual_seed(seed)
    model = WhisperForConditionalGeneration(config).eval()
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    WhisperFeatureExtractor(**REAL_FEATURES).save_pretrained(out)
    (out / "generation_config.json").write_text(json.dumps(generation_config(tokenizer), indent=2) + "\n")
    return out
