"""Audio in, as speech models want it: 16 kHz, mono, float32 in [-1, 1].

`load_audio` takes a file path (wav, flac, ogg or mp3, read with soundfile), raw file bytes (an
ipywidgets upload) or a numpy array with its sampling rate; it averages stereo to mono and resamples
other rates with a polyphase filter (scipy). Anything it cannot convert raises `AudioError` with what
to do instead.
"""

from __future__ import annotations

import io
from math import gcd
from pathlib import Path
from typing import Any

import numpy as np

from nbhelpers.errors import AudioError

SAMPLE_RATE = 16000


def load_audio(source: str | Path | bytes | np.ndarray, sampling_rate: int | None = None) -> np.ndarray:
    """Return `source` as 16 kHz mono float32. A numpy array needs its `sampling_rate`.

    Arrays may be samples x channels (soundfile) or channels x samples (torchaudio), float or integer PCM.

    Raises AudioError for an empty input, a file that is not audio, a missing file, an array without a
    sampling rate or with one of zero or below, samples that are NaN or infinite, or an array that is not
    1-D (samples) or 2-D (samples x channels).
    """
    if isinstance(source, np.ndarray):
        if sampling_rate is None:
            raise AudioError("a numpy array needs its sampling rate: load_audio(samples, sampling_rate=44100)")
        audio, rate = source, sampling_rate
        if not rate > 0:
            raise AudioError(f"the sampling rate must be a positive number of samples per second, got {rate}: "
                             "pass the rate the audio was recorded at, e.g. sampling_rate=16000")
    else:
        audio, rate = _read(source)
    audio = np.asarray(audio)
    if audio.size == 0:
        raise AudioError("the audio is empty (no samples): record or choose a file with sound in it")
    if audio.dtype == np.uint8:  # 8-bit PCM is unsigned, centred on 128
        audio = (audio.astype(np.float32) - 128) / 128
    elif np.issubdtype(audio.dtype, np.integer):  # e.g. int16 PCM from a microphone
        audio = audio / float(np.iinfo(audio.dtype).max)
    if audio.ndim == 2 and audio.shape[0] <= 8 < audio.shape[1]:  # channels first (torchaudio, librosa mono=False)
        audio = audio.T
    if audio.ndim == 2:  # samples x channels (soundfile's layout): average to mono
        audio = audio.mean(axis=1)
    elif audio.ndim != 1:
        raise AudioError(f"expected samples (1-D) or samples x channels (2-D), got an array of shape {audio.shape}")
    audio = audio.astype(np.float32)
    if not np.isfinite(audio).all():
        bad = int((~np.isfinite(audio)).sum())
        raise AudioError(f"the audio has {bad} samples that are not numbers (NaN or infinity), e.g. from a failed "
                         "conversion or a division by zero: fix or drop them first (np.nan_to_num(audio))")
    if rate != SAMPLE_RATE:
        from scipy.signal import resample_poly

        common = gcd(int(rate), SAMPLE_RATE)
        audio = resample_poly(audio, SAMPLE_RATE // common, int(rate) // common).astype(np.float32)
    return np.clip(audio, -1.0, 1.0)


def _read(source: str | Path | bytes) -> tuple[np.ndarray, int]:
    import soundfile

    if isinstance(source, (str, Path)) and not Path(source).is_file():
        raise AudioError(f"no audio file at {source}: check the path")
    name = "the uploaded data" if isinstance(source, bytes) else str(source)
    try:
        audio, rate = soundfile.read(io.BytesIO(source) if isinstance(source, bytes) else source, dtype="float32",
                                     always_2d=False)
    except Exception as exc:  # soundfile raises LibsndfileError, RuntimeError or TypeError depending on the input
        raise AudioError(f"could not read {name} as audio ({exc}); use a wav, flac, ogg or mp3 file") from exc
    return audio, int(rate)


def from_upload(value: Any) -> np.ndarray | None:
    """Return the first file of an `ipywidgets.FileUpload` value as 16 kHz mono float32 (None if there is none)."""
    files = list(value or ())
    if not files:
        return None
    return load_audio(bytes(files[0]["content"]))


def duration(audio: np.ndarray) -> float:
    """Return the length of 16 kHz `audio` in seconds."""
    return len(audio) / SAMPLE_RATE
