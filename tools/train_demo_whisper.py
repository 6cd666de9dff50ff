"""Train the demo speech recogniser `nbhelpers/demo-whisper` (committed in nbhelpers/demos/data/demo-whisper).

It builds the tokenizer (Whisper's special, language and timestamp tokens in Whisper's order), the generation
config and a tiny `WhisperForConditionalGeneration`, and trains it from scratch on digit words synthesised with
espeak-ng over many voices, speeds and pitches: first on 4-second windows, then in Whisper's 30-second layout. It
saves a hub snapshot with held-out clips in voices the model never heard, and the model's exact match on them.

    python -m tools.train_demo_whisper --out nbhelpers/demos/data/demo-whisper

The defaults (seed 0, 4800 steps on 4 s windows, then 600 in the 30 s layout) take about 40 minutes on two cores
and need espeak-ng. Results depend on the CPU, so a retrained model is a different model: its accuracy is in the
`training_report.json` and `README.md` written next to it.

`--context-steps N` adds a phase for prompts and long audio (`context_example`, `hint`): 30 s windows cut from long
recordings where a long-form decoder would seek, and text after `<|startofprev|>` as GenAI's `initial_prompt` and
`hotwords` put it. The committed model has none of it. Two runs from the committed model (`--resume`) did not teach
this 2-layer decoder either skill (GenAI f32, 100 held-out clips with noise 0.03): 1600 steps with prompts on a
quarter of the clips and recordings packed with speech: 75 % exact without a prompt, 6 % with the clip's own digits
as hotwords, 91 % of the clean clips; words of 60-80 s recordings heard 54 %. 1600 steps with prompts on half the
clips and 1-5 s between groups: 75 % and 21 %, clean 88 % (the committed model: 88-89 %), long recordings 53 %.
Three runs since, not committed either (scripts outside the repository; GenAI f32, the same measures): two more
decoder layers added to the committed model as no-ops, then 2000 context steps: clean 84 %, noisy 78 %, with the
digits as hotwords 40 %. From scratch with 4 decoder layers and prompts from the first step (half of them random
digits "said before"), 4000 + 400 + 1200 steps, 58 min: 79 %, 74 %, 74 % (prompts ignored). From scratch with the
committed shape, a `hint` on 30 % of the clips from the first step and loud noise on a quarter, 4800 + 600 + 600
context steps, 43 min: clean 85 % (80 % with timestamps), noisy 83 %, hotwords 82 %, wrong hotwords 80 % (prompts
and noise no longer derail it, as they do the committed model: 40 % noisy, 0 % with any prompt, but they do not
help either); long recordings 49 % of the words heard, 42 % of those after 30 s (the committed model: 49 %, 39 %).
A sixth run (2026-12-08), from the committed model with the first timestamp clamped to 1 s as decoding requires
(`MAX_INITIAL_TIMESTAMP`), three quarters of each batch windows of long recordings, loud noise on 70 % of the prompted
clips, stopped after 1000 of 1500 context steps (23 min): GenAI f32, clean 85 % with timestamps, 79 % without, noisy
63 %, with the digits as hotwords 7 %; of 78 segments in eight 46-50 s recordings of held-out clips (gaps of
0.5-2.5 s) 14 found at their time (the committed model: 12). Teacher-forced on new 30 s clips its loss was 1.88 per
token with a prompt against 0.40 without: a model trained without prompts does not learn them in a fine-tune of
this length. A seventh run, from scratch with `--prompt-share 0.4 --long-steps 200 --context-steps 600` (48 min):
PyTorch f32 held-out 75 %, noisy 76 %, with the digits as prompt 74 %; through GenAI after the 30 s phase, noise up
to 0.06 no longer made it unsure (82 %), and at noise 0.15 the clip's digits as hotwords took it from 50 % to 54 %,
three other digits to 45 %: it reads prompts a little, where it is unsure.
Why long audio fails: every model above hears speech only at the start of a window. The committed model, 50
held-out clips placed after silence in a 30 s window (GenAI f32, without / with timestamps): at 0 s 88 / 94 %
exact, at 5 s 0 / 4 %, at 12 s 8 / 10 %, at 20 s 4 / 4 %, at 25 s 16 / 14 % (the seventh run: 2-8 % after 0 s).
Its training put the first word within 0.8 s of the window's start; a window after a seek starts in silence.
Probes from the committed model (scripts outside the repository; PyTorch greedy, 60 held-out clips placed at the
start, middle and end of the room a window leaves them): a 4 s slice of it, 300 steps with three quarters of the
clips placed anywhere, went from 83 / 67 / 27 % to 93 / 93 / 93 % in 2 minutes; a 10 s slice, 300 steps, from
77 / 2 / 8 % to 90 / 57 / 33 % (loss 0.84, against 0.29 at 4 s), and no better after the 4 s steps first; 30 s
windows, 300 steps: 16 % or less away from the start (loss 2.0). Finding speech anywhere is learnable, but costs
more steps the longer the window: the next attempt is a curriculum (4 s, 10 s, 20 s, 30 s with the first word
anywhere) long enough at each stage, more than the 40 minutes these runs had.
"""

from __future__ import annotations

import io
import json
import math
import random
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nbhelpers.demos.whisper import DIGITS, HELDOUT_CLIPS, SAMPLE_RATE, TIME_STEP, whisper_tokenizer
from tools.training import model_card, pad_examples

if TYPE_CHECKING:
    import torch
    from transformers import WhisperForConditionalGeneration, WhisperTokenizer

# espeak-ng voices: the model trains on the first group and is tested on voices it never heard.
TRAIN_VOICES = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd")
HELDOUT_VOICES = ("en-029", "en-us-nyc")
VARIANTS = ("", "+m1", "+m2", "+m3", "+m4", "+m5", "+m6", "+m7", "+f1", "+f2", "+f3", "+f4")


@dataclass(frozen=True)
class Voice:
    """One espeak-ng speaker: voice, variant, speed (words per minute) and pitch (0-99)."""

    name: str
    speed: int
    pitch: int

    def args(self) -> list[str]:
        return ["-v", self.name, "-s", str(self.speed), "-p", str(self.pitch)]


def voices(names: Sequence[str], variants: Sequence[str], speeds: Sequence[int], pitches: Sequence[int]) -> list[Voice]:
    """Return every combination of voice name + variant, speed and pitch."""
    return [Voice(n + v, s, p) for n in names for v in variants for s in speeds for p in pitches]


# ---------------------------------------------------------------- tokenizer, generation config, model


def build_tokenizer() -> WhisperTokenizer:
    """Return a Whisper tokenizer: a byte-level BPE with one token per digit word, then Whisper's special tokens.

    Order as in Whisper: text tokens, `<|endoftext|>`, `<|startoftranscript|>`, the language tokens in
    Whisper's order (transformers' list of 100, as in large-v3; tiny to large-v2 have the first 99), task
    and other special tokens, `<|notimestamps|>`, then `<|0.00|>` ... `<|30.00|>`.
    """
    from transformers.convert_slow_tokenizer import bytes_to_unicode
    from transformers.models.whisper.tokenization_whisper import LANGUAGES

    byte_chars = bytes_to_unicode()
    vocab = {byte_chars[b]: b for b in range(256)}
    merges: list[tuple[str, str]] = []
    for word in DIGITS:  # merge " seven" into one token, one character at a time
        current = byte_chars[ord(" ")]
        for char in word:
            merged = current + char
            if merged not in vocab:
                vocab[merged] = len(vocab)
                merges.append((current, char))
            current = merged
    return whisper_tokenizer(vocab, merges, languages=len(LANGUAGES))


def token_ids(tokenizer: WhisperTokenizer) -> dict[str, int]:
    """Return the ids the generation config and the training targets need."""
    return {name: tokenizer.convert_tokens_to_ids(token) for name, token in (
        ("eot", "<|endoftext|>"), ("sot", "<|startoftranscript|>"), ("en", "<|en|>"),
        ("translate", "<|translate|>"), ("transcribe", "<|transcribe|>"), ("startoflm", "<|startoflm|>"),
        ("prev", "<|startofprev|>"), ("nospeech", "<|nospeech|>"), ("notimestamps", "<|notimestamps|>"),
        ("t0", "<|0.00|>"))}


def byte_space() -> str:
    """Return the byte-level token of a space ('Ġ')."""
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    return bytes_to_unicode()[ord(" ")]


MAX_INITIAL_TIMESTAMP = 50  # generation_config's max_initial_timestamp_index, as in Whisper's: the first is <= 1 s


def generation_config(tokenizer: WhisperTokenizer) -> dict[str, Any]:
    """Return generation_config.json for the demo: every id Whisper's generate and GenAI's WhisperPipeline read."""
    from transformers.models.whisper.tokenization_whisper import LANGUAGES

    ids = token_ids(tokenizer)
    return {
        "decoder_start_token_id": ids["sot"], "eos_token_id": ids["eot"], "pad_token_id": ids["eot"],
        "bos_token_id": ids["eot"], "no_timestamps_token_id": ids["notimestamps"], "prev_sot_token_id": ids["prev"],
        "is_multilingual": True, "max_initial_timestamp_index": MAX_INITIAL_TIMESTAMP, "max_length": 448,
        "lang_to_id": {f"<|{code}|>": tokenizer.convert_tokens_to_ids(f"<|{code}|>") for code in LANGUAGES},
        "task_to_id": {"translate": ids["translate"], "transcribe": ids["transcribe"]},
        "begin_suppress_tokens": [tokenizer.convert_tokens_to_ids(byte_space()), ids["eot"]],
        "suppress_tokens": [ids["sot"], ids["translate"], ids["transcribe"], ids["startoflm"], ids["prev"],
                            ids["nospeech"]],
        "return_timestamps": False,
    }


def make_model(tokenizer: WhisperTokenizer, max_source_positions: int = 1500,
               seed: int = 0) -> WhisperForConditionalGeneration:
    """Return a fresh tiny Whisper (d_model 128, 2 encoder and 2 decoder layers) for `tokenizer`."""
    import torch
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    ids = token_ids(tokenizer)
    config = WhisperConfig(
        vocab_size=len(tokenizer), num_mel_bins=80, d_model=128, encoder_layers=2, decoder_layers=2,
        encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=512, decoder_ffn_dim=512,
        max_source_positions=max_source_positions, max_target_positions=448, decoder_start_token_id=ids["sot"],
        eos_token_id=ids["eot"], pad_token_id=ids["eot"], bos_token_id=ids["eot"], dropout=0.0,
    )
    torch.manual_seed(seed)
    return WhisperForConditionalGeneration(config)


# ---------------------------------------------------------------- speech: synthesis and layout


def _espeak(text: str, voice: Voice, ssml: bool = False) -> np.ndarray:
    import soundfile
    from scipy.signal import resample_poly

    if shutil.which("espeak-ng") is None:
        raise FileNotFoundError("espeak-ng is not installed (apt-get install espeak-ng); it is only needed to "
                                "rebuild the demo Whisper, which is committed in nbhelpers/demos/data/demo-whisper")
    args = ["espeak-ng", *voice.args(), *(["-m"] if ssml else []), "--stdout", text]
    wav = subprocess.run(args, capture_output=True, check=True).stdout
    audio, rate = soundfile.read(io.BytesIO(wav), dtype="float32")
    return resample_poly(audio, SAMPLE_RATE, rate).astype(np.float32)


def _trim(audio: np.ndarray) -> np.ndarray:
    loud = np.flatnonzero(np.abs(audio) > 0.02 * np.abs(audio).max())
    return audio[loud[0]:loud[-1] + 1]


def speak(word: str, voice: Voice) -> np.ndarray:
    """Return `word` spoken by espeak-ng in `voice` as 16 kHz float32, silence trimmed. Needs espeak-ng."""
    return _trim(_espeak(word, voice))


def speak_digits(voice: Voice) -> list[np.ndarray]:
    """Return the ten digit words in `voice`, from one espeak-ng call split at the pauses between them."""
    pause = "<break time='600ms'/>"
    audio = _espeak("<speak>" + pause.join(DIGITS) + "</speak>", voice, ssml=True)
    loud = np.abs(audio) > 0.02 * np.abs(audio).max()
    frames = loud[: len(loud) // 160 * 160].reshape(-1, 160).any(axis=1)  # 10 ms frames with sound
    words, start, quiet = [], None, 0
    for i, sound in enumerate(frames):
        if sound:
            start = i if start is None else start
            quiet = 0
        elif start is not None:
            quiet += 1
            if quiet >= 25:  # 250 ms of silence ends a word
                words.append(_trim(audio[start * 160:(i - quiet + 1) * 160]))
                start, quiet = None, 0
    if start is not None:
        words.append(_trim(audio[start * 160:]))
    if len(words) != len(DIGITS):  # a word with a long inner pause: fall back to one call per word
        return [speak(word, voice) for word in DIGITS]
    return words


@dataclass
class Utterance:
    """Audio with its segments: (start s, end s, text) per group of digits spoken without a long pause.

    `words` holds each word's (start s, end s, text) as placed; `prompt` is text given after `<|startofprev|>`;
    `open_start` the start of a segment that runs past the end of the window (Whisper then ends with its start
    timestamp alone, and a long-form decoder seeks to it); `timestamps` None means: as the batch alternates.
    """

    audio: np.ndarray
    segments: list[tuple[float, float, str]]
    words: list[tuple[float, float, str]] = field(default_factory=list)
    prompt: str | None = None
    open_start: float | None = None
    timestamps: bool | None = None


def layout(groups: Sequence[Sequence[tuple[np.ndarray, str]]], starts: Sequence[float], length_s: float,
           word_gap: float = 0.12) -> Utterance:
    """Place each group of (word audio, word text) pairs at its start time in `length_s` seconds of silence."""
    audio = np.zeros(int(length_s * SAMPLE_RATE), np.float32)
    segments, placed = [], []
    for group, start in zip(groups, starts, strict=True):
        position = int(start * SAMPLE_RATE)
        words = []
        for clip, text in group:
            audio[position:position + len(clip)] = clip[: len(audio) - position]
            placed.append((position / SAMPLE_RATE, (position + len(clip)) / SAMPLE_RATE, text))
            position += len(clip) + int(word_gap * SAMPLE_RATE)
            words.append(text)
        end = position / SAMPLE_RATE - word_gap
        segments.append((start, end, " ".join(words)))
    return Utterance(audio, segments, placed)


def target_ids(tokenizer: WhisperTokenizer, segments: Sequence[tuple[float, float, str]],
               timestamps: bool = True, prompt: str | None = None, open_start: float | None = None) -> list[int]:
    """Return the decoder sequence Whisper is trained on.

    With timestamps: sot, en, transcribe, then for each segment <|start|> text <|end|> (the first start at most
    MAX_INITIAL_TIMESTAMP steps: GenAI and transformers allow no later first timestamp), then the start timestamp of
    a segment cut by the window's end (if any), and eot. Without: sot, en, transcribe, notimestamps, the text of all
    segments, eot. A `prompt` goes first, after <|startofprev|>, as GenAI's initial_prompt and hotwords do.
    """
    ids = token_ids(tokenizer)
    sequence = [ids["prev"], *tokenizer(" " + prompt, add_special_tokens=False).input_ids] if prompt else []
    sequence += [ids["sot"], ids["en"], ids["transcribe"]]
    if not timestamps:
        text = " " + " ".join(text for _, _, text in segments)
        return [*sequence, ids["notimestamps"], *tokenizer(text, add_special_tokens=False).input_ids, ids["eot"]]
    for i, (start, end, text) in enumerate(segments):
        first = math.floor(start / TIME_STEP)  # the decoder's first timestamp is at most MAX_INITIAL_TIMESTAMP
        sequence.append(ids["t0"] + (min(first, MAX_INITIAL_TIMESTAMP) if i == 0 else first))
        sequence += tokenizer(" " + text, add_special_tokens=False).input_ids
        sequence.append(ids["t0"] + min(1500, math.ceil(end / TIME_STEP)))
    if open_start is not None:
        sequence.append(ids["t0"] + math.floor(open_start / TIME_STEP))
    return sequence + [ids["eot"]]


class Speakers:
    """Digit words synthesised once per voice, speed and pitch; draws random utterances from them."""

    def __init__(self, voices: Sequence[Voice]) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.voices = list(voices)
        with ThreadPoolExecutor(4) as pool:  # espeak-ng runs in child processes
            self.clips: dict[Voice, list[np.ndarray]] = dict(zip(self.voices, pool.map(speak_digits, self.voices),
                                                                 strict=True))

    def group(self, rng: random.Random, voice: Voice, n_words: int,
              vocabulary: Sequence[int] = range(10)) -> list[tuple[np.ndarray, str]]:
        digits = [rng.choice(vocabulary) for _ in range(n_words)]
        return [(self.clips[voice][d], DIGITS[d]) for d in digits]

    def recording(self, rng: random.Random, length_s: float) -> tuple[Utterance, list[int]]:
        """Return a recording of about `length_s` seconds by one voice, and the digits it draws from.

        Half the recordings use a few digits only (a topic): then earlier words, or the digits named, tell the
        model what to expect where the audio is unclear, which is what a prompt is for.
        """
        voice = rng.choice(self.voices)
        vocabulary = sorted(rng.sample(range(10), rng.randint(2, 4))) if rng.random() < 0.5 else list(range(10))
        groups, starts, t = [], [], rng.uniform(0.0, 0.8)
        while t < length_s - 2.0:
            groups.append(self.group(rng, voice, rng.randint(1, 4), vocabulary))
            starts.append(t)
            spoken = sum(len(c) for c, _ in groups[-1]) / SAMPLE_RATE + 0.12 * len(groups[-1])
            t += spoken + rng.uniform(*RECORDING_GAPS)
        return layout(groups, starts, t + 1.0), vocabulary

    def utterance(self, rng: random.Random, length_s: float, max_groups: int = 1) -> Utterance:
        """Return 1..max_groups groups of 1-4 digits by one voice, separated by pauses, within `length_s`."""
        voice = rng.choice(self.voices)
        groups = [self.group(rng, voice, rng.randint(1, 4)) for _ in range(rng.randint(1, max_groups))]
        starts, t = [], rng.uniform(0.0, 0.8)
        for group in groups:
            duration = sum(len(c) for c, _ in group) / SAMPLE_RATE + 0.12 * (len(group) - 1)
            if t + duration > length_s - 0.1:
                break
            starts.append(t)
            t += duration + rng.uniform(0.6, 3.0)
        return layout(groups[: len(starts)], starts, length_s)


RECORDING_GAPS = (1.0, 5.0)  # seconds between groups in a long recording: five to eight groups in 30 s, as the
# model's capacity allows (it loses its place in windows packed with speech)


def hint(rng: random.Random, said: Sequence[str]) -> str:
    """Return a prompt naming the digits `said` and up to two others, shuffled: what a user may know to expect."""
    named = set(said) | set(rng.sample(DIGITS, rng.randint(0, 2)))
    return " ".join(rng.sample(sorted(named), len(named)))


def window(recording: Utterance, start: float, length_s: float = 30.0) -> Utterance:
    """Return `length_s` seconds of `recording` from `start` s, with the segments inside it and the one it cuts."""
    first, n = round(start * SAMPLE_RATE), round(length_s * SAMPLE_RATE)
    audio = recording.audio[first:first + n]
    audio = np.pad(audio, (0, n - len(audio)))
    end = start + length_s
    inside = [(s - start, e - start, text) for s, e, text in recording.segments if s >= start and e <= end]
    cut = [s - start for s, e, _ in recording.segments if start <= s < end < e]
    words = [(s - start, e - start, text) for s, e, text in recording.words if s >= start and e <= end]
    return Utterance(audio, inside, words, open_start=cut[0] if cut else None)


def context_example(speakers: Speakers, rng: random.Random, timestamps: bool) -> Utterance:
    """Return one example of the context training: a window of a recording, half the time with a prompt.

    With timestamps: a 30 s window of a 35-90 s recording, starting at its beginning or where a long-form decoder
    seeks (the end timestamp of a segment). Without: a recording that fits in 30 s. The prompt is the words said
    before the window (as `initial_prompt` continues a transcript) or the digits the recording uses (as `hotwords`).
    """
    recording, vocabulary = speakers.recording(rng, rng.uniform(35.0, 90.0) if timestamps else rng.uniform(3, 28))
    seeks = [0.0] + [math.ceil(e / TIME_STEP) * TIME_STEP for _, e, _ in recording.segments[:-1]]
    start = rng.choice(seeks) if timestamps else 0.0
    example = window(recording, start)
    example.timestamps = timestamps
    if rng.random() < 0.5:
        earlier = " ".join(text for _, e, text in recording.segments if e <= start).split()[-12:]
        named = " ".join(DIGITS[d] for d in rng.sample(vocabulary, len(vocabulary)))
        example.prompt = " ".join(earlier) if earlier and rng.random() < 0.5 else named
    return example


# ---------------------------------------------------------------- training


def _features(extractor: Any, audios: list[np.ndarray]) -> torch.Tensor:
    import torch

    return torch.tensor(np.stack([extractor(a, sampling_rate=SAMPLE_RATE).input_features[0] for a in audios]))


def _batch(tokenizer: WhisperTokenizer, utterances: list[Utterance]) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (decoder inputs, labels) for `utterances`: the target sequence shifted by one, padded with eot."""
    ids = token_ids(tokenizer)
    examples = []
    for i, u in enumerate(utterances):
        # Half the examples with timestamps, half without (the prompt then ends with <|notimestamps|>), as
        # Whisper was trained: WhisperPipeline asks for either.
        timestamps = i % 2 == 0 if u.timestamps is None else u.timestamps
        seq = target_ids(tokenizer, u.segments, timestamps, u.prompt, u.open_start)
        given = seq.index(ids["transcribe"]) + (seq[seq.index(ids["transcribe"]) + 1] == ids["notimestamps"])
        examples.append((seq[:-1], [-100] * given + seq[1 + given:]))  # the prompt and task tokens are not learned
    inputs, labels, _ = pad_examples(examples, ids["eot"])
    return inputs, labels


def add_noise(utterances: Sequence[Utterance], rng: random.Random, noise: np.random.Generator,
              loud: float = 0.0, prompted_loud: float | None = None) -> None:
    """Add white noise of a random level up to 0.01 to each utterance: the voices are clean, microphones are not.

    With `loud`, that share of the utterances gets noise of 0.02-0.06 instead, where the model cannot be sure of
    every word; `prompted_loud`, if given, is that share among utterances with a prompt (a prompt is worth reading
    where the audio is unclear). `noise` is one generator for the whole run, so every clip gets noise of its own.
    """
    for u in utterances:
        share = prompted_loud if u.prompt and prompted_loud is not None else loud
        level = rng.uniform(0.02, 0.06) if rng.random() < share else rng.uniform(0, 0.01)
        u.audio += level * noise.standard_normal(len(u.audio)).astype(np.float32)


def train(model: WhisperForConditionalGeneration, tokenizer: WhisperTokenizer, speakers: Speakers, steps: int,
          window_s: float, max_groups: int, batch_size: int, lr: float, seed: int,
          progress: Callable[[int, float], None] | None = None, context: bool = False,
          prompt_share: float = 0.0) -> float:
    """Train `model` on random utterances in `window_s`-second windows; return the final smoothed loss.

    The learning rate follows PyTorch's one-cycle schedule with peak `lr`; `seed` draws the utterances and their noise.
    With `context` (30 s windows only), three quarters of each batch are `context_example`s (two of three with
    timestamps), half the others get a `hint` as prompt. With `prompt_share` (and no `context`), that share of the
    utterances gets a `hint`. Either way, loud noise on 70 % of the prompted clips, 20 % of the others.
    """
    import torch
    from transformers import WhisperFeatureExtractor

    extractor = WhisperFeatureExtractor(feature_size=80, chunk_length=int(window_s))
    rng = random.Random(seed)
    noise = np.random.default_rng(seed)  # seeded once: a generator seeded per clip repeats the same noise
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps, pct_start=0.1)
    model.train()
    smooth = float("nan")
    for step in range(steps):
        utterances = [context_example(speakers, rng, i % 4 != 3) if context and i % 4 >= 1
                      else speakers.utterance(rng, window_s, max_groups) for i in range(batch_size)]
        plain = utterances[::4] if context else utterances if prompt_share else []
        for u in plain:  # prompts on half the plain ones in context training, on `prompt_share` otherwise
            if rng.random() < (0.5 if context else prompt_share):
                u.prompt = hint(rng, " ".join(text for _, _, text in u.segments).split())
        mixed = context or prompt_share > 0
        add_noise(utterances, rng, noise, loud=0.2 if mixed else 0.0, prompted_loud=0.7 if mixed else None)
        inputs, labels = _batch(tokenizer, utterances)
        loss = model(input_features=_features(extractor, [u.audio for u in utterances]),
                     decoder_input_ids=inputs, labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        smooth = loss.item() if math.isnan(smooth) else 0.95 * smooth + 0.05 * loss.item()
        if progress:
            progress(step, smooth)
    model.eval()
    return smooth


def widen(short: WhisperForConditionalGeneration, tokenizer: WhisperTokenizer) -> WhisperForConditionalGeneration:
    """Return a 1500-position (30 s) copy of a model trained on short windows.

    Whisper's encoder positions are fixed sinusoids, so the first rows of the long table equal the
    short table; every other weight has the same shape and is copied.
    """
    model = make_model(tokenizer)
    state = {k: v for k, v in short.state_dict().items() if k != "model.encoder.embed_positions.weight"}
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert missing == ["model.encoder.embed_positions.weight"] and not unexpected, (missing, unexpected)
    return model


# ---------------------------------------------------------------- evaluation


def transcribe(model: WhisperForConditionalGeneration, tokenizer: WhisperTokenizer, audio: np.ndarray,
               prompt_text: str | None = None) -> str:
    """Return the greedy transcript of 16 kHz `audio` (up to 30 s) by the PyTorch model, words joined by spaces."""
    import torch
    from transformers import WhisperFeatureExtractor

    features = _features(WhisperFeatureExtractor(feature_size=80), [audio]).to(model.dtype)
    ids = token_ids(tokenizer)
    prompt = torch.tensor([target_ids(tokenizer, [], prompt=prompt_text)[:-1]])
    with torch.no_grad():
        out = _greedy(model, features, prompt, ids["eot"])
    text = tokenizer.decode([t for t in out if t < ids["eot"]])
    return " ".join(text.split())


def _greedy(model: Any, features: torch.Tensor, prompt: torch.Tensor, eot: int, max_new_tokens: int = 64
            ) -> list[int]:
    import torch

    encoded = model.model.encoder(features).last_hidden_state
    tokens = prompt
    for _ in range(max_new_tokens):
        logits = model(encoder_outputs=(encoded,), decoder_input_ids=tokens).logits[0, -1]
        token = int(logits.argmax())
        tokens = torch.cat([tokens, torch.tensor([[token]])], dim=1)
        if token == eot:
            break
    return tokens[0, prompt.shape[1]:].tolist()


# ---------------------------------------------------------------- the snapshot


def card(report: dict[str, Any]) -> str:
    """Return the model card (README.md) for a training report."""
    body = """A tiny `WhisperForConditionalGeneration` ({parameters:,} parameters: d_model 128, 2 encoder and 2 decoder
layers) that recognises English digit words ("zero" ... "nine") with Whisper's timestamps, for the offline
lessons of nbhelpers. Trained from scratch on digits synthesised with espeak-ng ({train_voices} voice/speed/pitch
combinations), {short_steps} steps on 4-second windows, then {long_steps} steps in Whisper's 30-second layout
(`python -m tools.train_demo_whisper --out X`; runs in the 30 s layout: {long_runs}); {minutes:.0f} minutes on
two CPU cores, seed {seed}. Tested on voices it never heard ({heldout}): exact match {heldout_exact:.0%} on
{heldout_clips} held-out clips (PyTorch f32, greedy).""".format(
        **report, minutes=report["seconds"] / 60)
    if report.get("context_runs"):
        body += """

Then {context} steps of context training (runs: {context_runs}): three quarters of each batch are 30-second
windows of 35-90 s recordings (groups of digits 1-5 s apart), starting where a long-form decoder seeks and ending
with a segment cut open, or (one in three) recordings that fit in 30 s, half of them with a prompt after
`<|startofprev|>` (the words said before the window, or the digits a recording uses: recordings use two to four
digits half the time); half the other clips get a prompt naming their digits and up to two more; loud noise
(0.02-0.06) on 70 % of the prompted clips and 20 % of the others.
With noise {noise} added to the held-out clips: exact match {noisy_exact:.0%}, and {noisy_prompted_exact:.0%}
with the clip's digits as prompt.""".format(**report, context=sum(report["context_runs"]))
    if report.get("prompt_share"):
        body += """

From the first step, {prompt_share:.0%} of the clips outside context training get a prompt naming their digits
and up to two more, with loud noise (0.02-0.06) on 70 % of those and 20 % of the others.""".format(**report)
    if report.get("note"):  # what the report's numbers do not say about how these weights were made
        body += "\n\n" + report["note"]
    return model_card("nbhelpers/demo-whisper", body, tags=("whisper",), pipeline_tag="automatic-speech-recognition")


def save_model(model: WhisperForConditionalGeneration, tokenizer: WhisperTokenizer, out: Path) -> None:
    """Save model (in its dtype), tokenizer, feature extractor and the demo's generation config: a folder to export."""
    from transformers import WhisperFeatureExtractor

    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)  # also writes transformers' generation config: replaced by the demo's below
    tokenizer.save_pretrained(out)
    WhisperFeatureExtractor(feature_size=80).save_pretrained(out)
    (out / "generation_config.json").write_text(json.dumps(generation_config(tokenizer), indent=2) + "\n")


def save_snapshot(model: WhisperForConditionalGeneration, tokenizer: WhisperTokenizer, out: Path,
                  report: dict[str, Any]) -> None:
    """Save model (fp16 safetensors), tokenizer, feature extractor, generation config and card as a hub snapshot."""
    import torch

    save_model(model.to(torch.float16), tokenizer, out)
    (out / "training_report.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "README.md").write_text(card(report), encoding="utf-8")


LONG_CLIPS = 4  # held-out recordings of 60-80 s: long-form decoding must find the words after 30 s
NOISE = 0.03  # the noise level of the prompt test: loud enough that the model is unsure of some words


def heldout_sets(heldout: Speakers, clips: Path, seed: int, long_recordings: bool
                 ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Write the held-out clips with their segments, and with `long_recordings` LONG_CLIPS long recordings with their
    placed words (only a model with context training is meant for them: the committed one has none)."""
    import soundfile

    clips.mkdir(parents=True, exist_ok=True)
    rng, manifest, long = random.Random(seed + 2), [], []
    while len(manifest) < HELDOUT_CLIPS:
        u = heldout.utterance(rng, rng.uniform(2.5, 5.0), max_groups=2)
        if not u.segments:  # the window was too short for the words drawn
            continue
        name = f"heldout-{len(manifest):02d}.flac"
        soundfile.write(clips / name, u.audio, SAMPLE_RATE)
        manifest.append({"file": name, "segments": u.segments})
    rng = random.Random(seed + 3)
    for i in range(LONG_CLIPS if long_recordings else 0):
        u, _ = heldout.recording(rng, rng.uniform(60.0, 80.0))
        soundfile.write(clips / f"long-{i}.flac", u.audio, SAMPLE_RATE)
        long.append({"file": f"long-{i}.flac", "segments": u.segments, "words": [
            (round(s, 3), round(e, 3), w) for s, e, w in u.words]})
    (clips / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    if long_recordings:
        (clips / "long.json").write_text(json.dumps(long, indent=1) + "\n")
    return manifest, long


def evaluate(model: WhisperForConditionalGeneration, tokenizer: WhisperTokenizer, clips: Path,
             manifest: list[dict[str, Any]], seed: int) -> dict[str, float]:
    """Exact match on the held-out clips: clean, and with noise NOISE without and with the clip's digits as prompt."""
    import soundfile

    noise, scores = np.random.default_rng(seed), {"heldout_exact": 0, "noisy_exact": 0, "noisy_prompted_exact": 0}
    for m in manifest:
        audio, said = soundfile.read(clips / m["file"], dtype="float32")[0], " ".join(s[2] for s in m["segments"])
        noisy = audio + NOISE * noise.standard_normal(len(audio)).astype(np.float32)
        named = " ".join(sorted(set(said.split()), key=DIGITS.index))
        scores["heldout_exact"] += transcribe(model, tokenizer, audio) == said
        scores["noisy_exact"] += transcribe(model, tokenizer, noisy) == said
        scores["noisy_prompted_exact"] += transcribe(model, tokenizer, noisy, named) == said
    return {k: v / len(manifest) for k, v in scores.items()}


def build(out: Path, seed: int = 0, short_steps: int = 4800, long_steps: int = 600, context_steps: int = 0,
          log: Callable[[str], None] = print, resume: Path | None = None, checkpoint_every: int = 0,
          prompt_share: float = 0.0) -> dict[str, Any]:
    """Synthesise the data, train the demo Whisper, save it and held-out clips into `out`; return the report.

    Phases: `short_steps` on 4 s windows, `long_steps` in the 30 s layout, then `context_steps` of context training
    (prompts, windows of long recordings). With `resume` (a folder this function saved), skip the short phase and
    continue from that model, with data seeds of their own.
    """
    import torch
    from transformers import WhisperForConditionalGeneration

    torch.manual_seed(seed)
    started = time.time()
    tokenizer = build_tokenizer()
    train_voices = voices(TRAIN_VOICES, VARIANTS, (130, 175, 220), (35, 65))  # 432 speakers
    heldout_voices = voices(HELDOUT_VOICES, ("", "+m3", "+f2", "+f4"), (150, 200), (50,))
    log(f"synthesising {len(train_voices)} training and {len(heldout_voices)} held-out voices")
    speakers, heldout = Speakers(train_voices), Speakers(heldout_voices)

    def every(n: int, save: bool = True) -> Callable[[int, float], None]:
        def progress(step: int, loss: float) -> None:
            if (step + 1) % n == 0:
                log(f"step {step + 1}: loss {loss:.3f}")
            if save and checkpoint_every and (step + 1) % checkpoint_every == 0:  # measure a long run as it trains
                save_model(model, tokenizer, out.with_name(out.name + f"-step{step + 1}"))
        return progress

    previous: dict[str, Any] = {}
    if resume is None:
        short = make_model(tokenizer, max_source_positions=200, seed=seed)
        log(f"training {short_steps} steps on 4 s windows")
        train(short, tokenizer, speakers, short_steps, 4.0, 2, 32, 2e-3, seed, every(100, save=False),
              prompt_share=prompt_share)
        model = widen(short, tokenizer)
    else:
        previous = json.loads((resume / "training_report.json").read_text())
        model = WhisperForConditionalGeneration.from_pretrained(resume).float()
        short_steps = previous["short_steps"]
    long_runs = [*previous.get("long_runs", []), long_steps] if long_steps else previous.get("long_runs", [])
    context_runs = [*previous.get("context_runs", []), context_steps] if context_steps else \
        previous.get("context_runs", [])
    final = previous.get("final_loss", float("nan"))
    if long_steps:
        log(f"training {long_steps} steps in the 30 s layout")
        final = train(model, tokenizer, speakers, long_steps, 30.0, 4, 8, 5e-4, seed + 1 + 10 * (len(long_runs) - 1),
                      every(25), prompt_share=prompt_share)
    if context_steps:
        log(f"training {context_steps} steps with prompts and windows of long recordings")
        final = train(model, tokenizer, speakers, context_steps, 30.0, 4, 8, 5e-4,
                      seed + 5 + 10 * (len(context_runs) - 1), every(25), context=True)
    clips = out / "clips"
    manifest, _ = heldout_sets(heldout, clips, seed, long_recordings=bool(context_runs))
    scores = evaluate(model, tokenizer, clips, manifest, seed + 4)
    report = {"parameters": sum(p.numel() for p in model.parameters()), "train_voices": len(train_voices),
              "heldout": ", ".join(HELDOUT_VOICES), "heldout_clips": len(manifest), **scores, "noise": NOISE,
              "short_steps": short_steps, "long_steps": sum(long_runs), "long_runs": long_runs,
              "context_runs": context_runs, "prompt_share": prompt_share, "final_loss": final,
              **{k: previous[k] for k in ("note",) if k in previous},
              "seconds": previous.get("seconds", 0) + time.time() - started, "seed": seed}
    save_snapshot(model, tokenizer, out, report)
    log(f"held-out exact match {scores}; saved to {out}")
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """Train the demo Whisper and save it: `python -m tools.train_demo_whisper --out FOLDER [--seed N]`."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m tools.train_demo_whisper", description=main.__doc__)
    parser.add_argument("--out", type=Path, required=True,
                        help="the snapshot folder (the committed one: nbhelpers/demos/data/demo-whisper)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--short-steps", type=int, default=4800)
    parser.add_argument("--long-steps", type=int, default=600)
    parser.add_argument("--context-steps", type=int, default=0,
                        help="steps with prompts and windows cut from long recordings (not in the committed model)")
    parser.add_argument("--resume", type=Path, help="continue the 30 s phase from a folder this command saved")
    parser.add_argument("--prompt-share", type=float, default=0.0,
                        help="share of the clips of the first phases with a prompt naming their digits (committed: 0)")
    parser.add_argument("--checkpoint-every", type=int, default=0,
                        help="save the model every N steps of the 30 s phases next to --out (OUT-stepN)")
    args = parser.parse_args(argv)
    build(args.out, args.seed, args.short_steps, args.long_steps, args.context_steps, resume=args.resume,
          checkpoint_every=args.checkpoint_every, prompt_share=args.prompt_share)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
