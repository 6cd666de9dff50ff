"""Offline demo speech recogniser `nbhelpers/demo-whisper`: a tiny `WhisperForConditionalGeneration` that hears the
English digit words "zero" ... "nine", with Whisper's tokenizer layout and timestamps.

The model is committed in `DATA` with held-out clips in voices it never heard in training; `nbhelpers.models` uses
that folder as the model's snapshot and caches its exports under a digest of the weights, so a retrained model
gets fresh exports. The training program is `tools/train_demo_whisper.py` (it needs espeak-ng).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from nbhelpers.audio import SAMPLE_RATE  # Whisper hears 16 kHz mono, the rate nbhelpers.audio loads at

__all__ = ["DATA", "DIGITS", "HELDOUT_CLIPS", "SAMPLE_RATE", "TIME_STEP", "iter_clips"]

DATA = Path(__file__).parent / "data" / "demo-whisper"  # the committed model and clips
DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")  # all the model knows
TIME_STEP = 0.02  # seconds per timestamp token, as in Whisper
HELDOUT_CLIPS = 100  # enough to measure exact match in 1 % steps, so one clip cannot move it by several percent


def iter_clips(folder: Path = DATA / "clips") -> Iterator[tuple[Path, list[tuple[float, float, str]]]]:
    """Yield (clip file, its segments) for the held-out clips; a segment is (start s, end s, words)."""
    for entry in json.loads((folder / "manifest.json").read_text()):
        yield folder / entry["file"], [tuple(s) for s in entry["segments"]]
