"""Find the demo Whisper's alignment heads, and the true word boundaries of its held-out clips; write both to the demo.

Word timestamps in GenAI come from the decoder's cross-attention: the heads named in `generation_config.json`'s
`alignment_heads` (a real checkpoint carries them) are averaged and aligned to the audio frames. The demo was
trained without them, so this program finds them the way they were found for Whisper: it scores every
cross-attention head by how well word times computed from it alone follow the true word boundaries, then keeps the
best few (the number whose combination errs least).

True boundaries: the clips are synthesized speech with digital silence between words (the trainer leaves at least
120 ms between words), so each word is a run of 10 ms frames above -35 dB of the clip's loudest frame, runs closer
than 80 ms merged (the closure inside "six" or "eight"); a clip whose run count differs from its word count is
left out. The words go into the clips' `manifest.json` ("words": [start s, end s, word]); the heads into the demo's
`generation_config.json`; the scores into `alignment_heads_report.json`.

`python -m tools.find_alignment_heads` (about a minute), or `--dry-run` to print without writing.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from nbhelpers.demos.whisper import DATA, SAMPLE_RATE, iter_clips

FRAME = SAMPLE_RATE // 100  # 10 ms
FLOOR_DB, MERGE_S = -35.0, 0.08


def word_bounds(audio: np.ndarray) -> list[tuple[float, float]]:
    """(start s, end s) of each run of sound in `audio`, runs closer than MERGE_S merged."""
    n = len(audio) // FRAME
    rms = np.sqrt((audio[: n * FRAME].reshape(n, FRAME) ** 2).mean(1) + 1e-12)
    loud = 20 * np.log10(rms / rms.max()) > FLOOR_DB
    edges = np.flatnonzero(np.diff(np.concatenate([[0], loud.astype(int), [0]])))
    runs = [(a / 100, b / 100) for a, b in zip(edges[::2], edges[1::2], strict=True)]
    merged: list[tuple[float, float]] = []
    for start, end in runs:
        if merged and start - merged[-1][1] < MERGE_S:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def true_words(audio: np.ndarray, segments: list[tuple[float, float, str]]) -> list[tuple[float, float, str]] | None:
    """The clip's words with their boundaries, or None when silence detection does not find one run per word."""
    said = " ".join(text for _, _, text in segments).split()
    bounds = word_bounds(audio)
    return [(round(s, 2), round(e, 2), w) for (s, e), w in zip(bounds, said, strict=True)] \
        if len(bounds) == len(said) else None


def errors_ms(pipe: Any, heads: list[tuple[int, int]], clips: list[tuple[np.ndarray, list]]) -> list[float]:
    """Start and end errors (ms) of GenAI's word timestamps from `heads`, on the clips transcribed word for word."""
    config = pipe.get_generation_config()
    config.language, config.task, config.max_new_tokens = "<|en|>", "transcribe", 64
    config.word_timestamps, config.alignment_heads = True, heads
    out = []
    for audio, truth in clips:
        found = pipe.generate(audio, config).words[0]
        if [w.text.strip() for w in found] == [w for _, _, w in truth]:
            out += [abs(a - b) * 1000 for w, (s, e, _) in zip(found, truth, strict=True)
                    for a, b in ((w.start_ts, s), (w.end_ts, e))]
    return out


def main(argv: list[str] | None = None) -> int:
    import openvino_genai as ov_genai
    import soundfile

    from nbhelpers.export import export_speech

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="print the scores, write nothing")
    args = parser.parse_args(argv)
    manifest_path = DATA / "clips" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    clips = []
    for entry, (file, segments) in zip(manifest, iter_clips(), strict=True):
        audio = soundfile.read(file, dtype="float32")[0]
        entry["words"] = true_words(audio, segments)
        if entry["words"]:
            clips.append((audio, entry["words"]))
    print(f"word boundaries found on {len(clips)} of {len(manifest)} clips")
    config = json.loads((DATA / "config.json").read_text())
    every = [(layer, head) for layer in range(config["decoder_layers"])
             for head in range(config["decoder_attention_heads"])]
    scratch = Path(tempfile.mkdtemp())  # the export with every head named: a pipeline built for word timestamps
    shutil.copytree(export_speech("nbhelpers/demo-whisper"), scratch, dirs_exist_ok=True)  # checks that they are set
    generation = json.loads((scratch / "generation_config.json").read_text())
    (scratch / "generation_config.json").write_text(json.dumps({**generation, "alignment_heads": every}))
    pipe = ov_genai.ASRPipeline(scratch, "CPU", word_timestamps=True, INFERENCE_PRECISION_HINT="f32")
    single = {head: errors_ms(pipe, [head], clips) for head in every}
    ranked = sorted(every, key=lambda h: statistics.median(single[h]) if single[h] else float("inf"))
    combos = {k: errors_ms(pipe, sorted(ranked[:k]), clips) for k in range(1, len(ranked) + 1)}
    best = min(combos, key=lambda k: statistics.median(combos[k]) if combos[k] else float("inf"))
    heads = sorted(ranked[:best])

    def summary(errors: list[float]) -> dict[str, float]:
        return {"median_ms": round(statistics.median(errors), 1), "p90_ms": round(float(np.percentile(errors, 90)), 1),
                "words_scored": len(errors) // 2} if errors else {"words_scored": 0}

    report = {"heads": heads, "single_heads": {f"{a},{b}": summary(single[(a, b)]) for a, b in every},
              "best_k": {str(k): summary(v) for k, v in combos.items()}, "clips_with_boundaries": len(clips),
              "method": __doc__.split("\n\n")[2].replace("\n", " ")}
    print(json.dumps(report, indent=1))
    if not args.dry_run:
        generation = json.loads((DATA / "generation_config.json").read_text())
        generation["alignment_heads"] = [list(h) for h in heads]
        (DATA / "generation_config.json").write_text(json.dumps(generation, indent=2) + "\n")
        manifest_path.write_text(json.dumps(manifest, indent=1) + "\n")
        (DATA / "alignment_heads_report.json").write_text(json.dumps(report, indent=1) + "\n")
        print(f"written: {DATA / 'generation_config.json'}, {manifest_path}, alignment_heads_report.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
