"""Random-weight twins of the real default models, for testing their code paths offline.

A twin is real where it changes the code path (architecture class, hidden size against int4 group sizes, head_dim
and the KV-head ratio, vocabulary size and special token ids, rope settings, tied embeddings, the chat template,
the vision tower, image and patch size, feature layer and strategy, the processor's files) and shrunk where it
only changes cost (layer counts, intermediate sizes no group-size rule depends on). Each module here builds the
twins of one kind from the real configuration, kept as data with its source; tests/test_twins_*.py run each twin
through the notebook's export flags, its GenAI pipeline, and OpenVINO's logits against PyTorch's at f32.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers


def synthetic_corpus(words: int = 120_000, seed: int = 0) -> list[str]:
    """Random lower-case words in lines of 50: enough distinct pairs to train a BPE up to a real vocabulary size."""
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    drawn = ["".join(rng.choice(letters) for _ in range(rng.randint(3, 9))) for _ in range(words)]
    return [" ".join(drawn[i:i + 50]) for i in range(0, len(drawn), 50)]


def byte_level_bpe(vocab_size: int, specials: Sequence[str]) -> Tokenizer:
    """A GPT-2-style byte-level BPE (SmolLM2, Qwen2, Whisper's base vocabulary) with `specials` at ids 0..n-1,
    trained on `synthetic_corpus` until it holds exactly `vocab_size` tokens."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(specials), show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(synthetic_corpus(), trainer)
    if tok.get_vocab_size() != vocab_size:
        raise ValueError(f"the synthetic corpus gave {tok.get_vocab_size()} tokens, not {vocab_size}")
    return tok


def sentencepiece_bpe(vocab_size: int, specials: Sequence[str] = ("<unk>", "<s>", "</s>")) -> Tokenizer:
    """A Llama-style SentencePiece BPE (byte fallback, "▁" for spaces, <0x00>..<0xFF> after the specials), as in
    TinyLlama's tokenizer.json, filled to `vocab_size` tokens."""
    trained = Tokenizer(models.BPE())
    trained.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    budget = vocab_size - len(specials) - 256
    trainer = trainers.BpeTrainer(vocab_size=budget, show_progress=False, limit_alphabet=1000)
    trained.train_from_iterator(synthetic_corpus(), trainer)
    spec = json.loads(trained.to_str())
    vocab = {token: i for i, token in enumerate(specials)}
    vocab.update({f"<0x{b:02X}>": len(specials) + b for b in range(256)})
    for token, _ in sorted(spec["model"]["vocab"].items(), key=lambda item: item[1]):
        vocab.setdefault(token, len(vocab))
    merges = [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in spec["model"]["merges"]]
    tok = Tokenizer(models.BPE(vocab, merges, unk_token=specials[0], byte_fallback=True, fuse_unk=True))
    tok.normalizer = trained.normalizer
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                     decoders.Strip(" ", 1, 0)])
    if tok.get_vocab_size() != vocab_size:
        raise ValueError(f"built {tok.get_vocab_size()} tokens, not {vocab_size}")
    return tok


def repo_dir(root: Path, name: str) -> Path:
    """The folder a twin of hub model `name` lives in: named like the real repository (optimum-intel picks its
    per-model default quantization configs by hub id or folder name)."""
    folder = Path(root) / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder
