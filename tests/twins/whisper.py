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
from typing import TYPE_CHECKING

from nbhelpers.demos.whisper import (
    BASE_VOCAB,
    TINY_ALIGNMENT_HEADS,
    TINY_CONFIG,
    TINY_FEATURES,
    tiny_generation_config,
    whisper_tokenizer,
)
from tests.twins import byte_level_bpe, repo_dir

if TYPE_CHECKING:
    from transformers import WhisperTokenizer

NAME = "openai/whisper-tiny"

# whisper-tiny's config.json, generation_config.json and preprocessor_config.json, with their sources, are kept in
# nbhelpers.demos.whisper (its cost model has the real size); the twin shrinks the layers.
REAL_CONFIG = TINY_CONFIG
SHRUNK = {"encoder_layers": 1, "decoder_layers": 1}
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
    tokens first in GPT-2's order), then the special, language and timestamp tokens."""
    return whisper_tokenizer(*gpt2_bpe(BASE_VOCAB))


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
    WhisperFeatureExtractor(**TINY_FEATURES).save_pretrained(out)
    # tiny's alignment heads name layers 2 and 3, which the one-layer twin maps to layer 0
    heads = [[0, head] for head in sorted({head for _, head in TINY_ALIGNMENT_HEADS})]
    (out / "generation_config.json").write_text(json.dumps(tiny_generation_config(tokenizer, heads), indent=2) + "\n")
    return out
