from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

from nbhelpers.audio import SAMPLE_RATE, duration, from_upload, load_audio
from nbhelpers.errors import AudioError


def tone(rate: int, seconds: float = 0.5, channels: int = 1) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    wave = 0.5 * np.sin(2 * np.pi * 440 * t).astype(np.float32)
    return np.stack([wave] * channels, axis=1) if channels > 1 else wave


def test_files_of_any_rate_and_channel_count_become_16k_mono(tmp_path: Path) -> None:
    for rate, channels, suffix in ((16000, 1, "wav"), (44100, 2, "flac"), (8000, 1, "ogg")):
        path = tmp_path / f"tone-{rate}.{suffix}"
        soundfile.write(path, tone(rate, channels=channels), rate)
        audio = load_audio(path)
        assert audio.dtype == np.float32 and audio.ndim == 1
        assert duration(audio) == pytest.approx(0.5, abs=0.01) and len(audio) == pytest.approx(SAMPLE_RATE / 2, abs=2)
        assert 0.3 < np.abs(audio).max() <= 1.0


def test_arrays_bytes_and_uploads(tmp_path: Path) -> None:
    assert load_audio(tone(16000), sampling_rate=16000).shape == (8000,)
    pcm = (tone(16000) * 32767).astype(np.int16)  # integer PCM is scaled to [-1, 1]
    assert np.abs(load_audio(pcm, sampling_rate=16000)).max() == pytest.approx(0.5, abs=0.01)
    path = tmp_path / "a.wav"
    soundfile.write(path, tone(22050), 22050)
    data = path.read_bytes()
    assert load_audio(data).shape == (8000,)
    upload = ({"name": "a.wav", "content": memoryview(data)},)  # ipywidgets.FileUpload's value
    channels_first = np.stack([tone(16000), tone(16000)])  # (2, samples), as torchaudio returns
    assert load_audio(channels_first, sampling_rate=16000).shape == (8000,)
    assert np.abs(load_audio(np.full(100, 128, np.uint8), sampling_rate=16000)).max() == 0.0  # 8-bit silence
    assert from_upload(upload).shape == (8000,) and from_upload(()) is None


def test_bad_input_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="needs its sampling rate"):
        load_audio(tone(16000))
    with pytest.raises(AudioError, match="empty"):
        load_audio(np.zeros(0, np.float32), sampling_rate=16000)
    with pytest.raises(AudioError, match="use a wav, flac, ogg or mp3 file"):
        load_audio(b"this is not audio")
    with pytest.raises(AudioError, match="no audio file at"):
        load_audio(tmp_path / "missing.wav")
    for rate in (0, -16000):
        with pytest.raises(AudioError, match=f"must be a positive number of samples per second, got {rate}"):
            load_audio(tone(16000), sampling_rate=rate)
    for bad in (np.nan, np.inf, -np.inf):
        samples = tone(16000)
        samples[[10, 20]] = bad
        with pytest.raises(AudioError, match=r"2 samples that are not numbers \(NaN or infinity\).*np.nan_to_num"):
            load_audio(samples, sampling_rate=16000)
    with pytest.raises(AudioError, match="got an array of shape"):
        load_audio(np.zeros((2, 2, 2), np.float32), sampling_rate=16000)
