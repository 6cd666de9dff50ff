"""Write a benchmark's results: `rows.jsonl` row by row while it runs, then `results.json`, `results.md` and plots."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from nbhelpers.bench.machine import machine_line
from nbhelpers.timing import markdown_table

ENGINE_COLOURS = {"pytorch": "#ee4c2c", "openvino": "#0068b5", "llama.cpp": "#6a9955"}


def append_row(path: Path, row: dict[str, Any]) -> None:
    """Append `row` to the JSON-lines file at `path` as one line, flushed to disk before returning."""
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")
        f.flush()
        os.fsync(f.fileno())


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Return the rows of a JSON-lines file written by append_row (a last line cut short is left out)."""
    rows = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def _ok(record: dict[str, Any]) -> bool:
    return record.get("status", "ok") == "ok"  # results from before the status column were all measured


def decode_rows(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Return the decode records as table rows, keyed 'size engine precision'; a failed one shows only its status."""
    rows = {}
    for r in results["decode"]:
        row = {"params (M)": f"{r['params'] / 1e6:.0f}",
               "weights read per token (MB)": f"{r['weight_bytes'] / 1e6:.0f}" if "weight_bytes" in r else ""}
        if _ok(r):
            roofline = "cache-resident" if r.get("cache_resident") else f"{r['roofline_fraction']:.0%}"
            spread = f"[{r['tokens_per_s_low']:.1f}-{r['tokens_per_s_high']:.1f}]"
            row.update({
                "status": "ok",
                "decode tokens/s": f"{r['tokens_per_s']:.1f} {spread}",
                "vs PyTorch fp32": f"{r['vs_pytorch_fp32']:.2f}x" if r.get("vs_pytorch_fp32") else "",
                "roofline": roofline,
                f"TTFT ms ({results['config']['short_prompt']} tokens)": f"{r['ttft_ms']:.0f}",
                f"TTFT ms ({results['config']['long_prompt']} tokens)": f"{r['ttft_long_ms']:.0f}",
            })
        else:
            row["status"] = f"{r['status']} ({r['failed_during']})" if r.get("failed_during") else r["status"]
        rows[f"{r['size']} {r['engine']} {r['precision']}"] = row
    return rows


def _cache_line(results: dict[str, Any]) -> str:
    cache = results["cache"]
    sweep = ", ".join(f"{mib} MiB {gbs:.0f}" for mib, gbs in cache["sweep_gbs"].items())
    x = cache["resident_below_mib"]
    return (f"Reads are cache-resident below **{x} MiB** (read bandwidth, GB/s, against working set: {sweep}): rows "
            f"whose weights read per token are under {2 * x} MiB say \"cache-resident\" instead of a roofline "
            "fraction, which would not be meaningful.")


def _failures(results: dict[str, Any]) -> list[str]:
    lines = []
    for r in results["decode"]:
        if not _ok(r):
            lines += [f"- {r['size']} {r['engine']} {r['precision']}: {r['status']} during {r['failed_during']} "
                      f"(worker log `{r.get('log', '')}`); its last lines:", "", "  ```",
                      *[f"  {line}" for line in r.get("stderr_tail", "").splitlines()], "  ```", ""]
    return ["## Failed configurations", "", *lines] if lines else []


def _serving_lines(results: dict[str, Any]) -> list[str]:
    if not results.get("serving"):
        return []
    rows = {}
    for r in results["serving"]:
        rows[f"{r['users']} users"] = ({
            "aggregate tokens/s": f"{r['tokens_per_s']:.1f} [{r['tokens_per_s_low']:.1f}-{r['tokens_per_s_high']:.1f}]",
            "vs one user": f"{r['vs_one_user']:.2f}x" if r.get("vs_one_user") else "",
            "TPOT ms per user (median)": f"{r['tpot_ms']:.1f}", "TTFT ms (median)": f"{r['ttft_ms']:.0f}"}
            if _ok(r) else {"aggregate tokens/s": f"{r['status']} ({r.get('failed_during', '')})"})
    first = results["serving"][0]
    return [f"## Serving: ContinuousBatchingPipeline, users arriving at once ({first['size']}, OpenVINO "
            f"{first['precision']})", "", f"Each user: a different {results['config']['short_prompt']}-token prompt, "
            f"{results['config']['new_tokens']} new tokens; prefix caching off.", "", markdown_table(rows), ""]


def _summary_lines(results: dict[str, Any]) -> list[str]:
    """The project's recipe against llama.cpp's best at equal bits, and both engines' speculative rows."""
    recipe, summary = results.get("recipe"), results.get("summary") or {}
    if not recipe:
        return []
    long = results["config"]["long_prompt"]
    rows = {r["size"]: {"OpenVINO, recommended here": f"{r['openvino_tps']:.1f}",
                        "llama.cpp best at equal bits": f"{r['llama_cpp_tps']:.1f} ({r['llama_cpp']})",
                        "decode ratio": f"{r['decode_ratio']:.2f}x",
                        f"TTFT ms at {long} tokens, OpenVINO / llama.cpp": f"{r['openvino_ttft_long_ms']:.0f} / "
                                                                           f"{r['llama_cpp_ttft_long_ms']:.0f}",
                        "prefill ratio": f"{r['prefill_ratio']:.2f}x"} for r in summary.get("sizes", [])}
    lines = ["## The project's recipe against llama.cpp", "",
             f"Recommended here: **{recipe['label']}** (the tuner's choice on {recipe['tuned_on']}: "
             f"{recipe['source']}); "
             "decode tokens/s, median of the run; ratio = OpenVINO / llama.cpp (prefill: llama.cpp's TTFT / "
             "OpenVINO's).", "", markdown_table(rows) if rows else "(no size has both rows)", ""]
    spec = results.get("speculative_rows") or []
    if spec:
        table = {f"{r['engine']} {r['method']}": (
            {"weights": r["weights"], "tokens/s": f"{r['tokens_per_s']:.1f} [{r['tokens_per_s_low']:.1f}-"
                                                  f"{r['tokens_per_s_high']:.1f}]",
             "speed-up over the engine's plain": f"{r['speedup']:.2f}x [{r['speedup_low']:.2f}-{r['speedup_high']:.2f}]"
             if "speedup" in r else "", "tokens per target pass": f"{r['tokens_per_pass']:.2f}",
             "same tokens as plain": f"{r['identical']} of {r['compared']}" if "identical" in r else ""}
            if _ok(r) else {"weights": r["weights"], "tokens/s": f"{r['status']} ({r.get('failed_during', '')})"})
            for r in spec}
        lines += ["### Fewer target passes: each engine's speculative decoding on the demo pair (notebook 03)", "",
                  "Greedy, the same chat-template token ids for both engines, up to "
                  f"{results['config']['new_tokens']} new tokens (stops at EOS), wall clock around each call (prefill "
                  "included), a fresh set of 4 held-out prompts per round; speed-up round by round.", "",
                  markdown_table(table), ""]
    if s := summary.get("speculative"):
        lines += [f"Each engine's best: OpenVINO {s['method_openvino']} {s['tps_openvino']:.1f} tokens/s "
                  f"({s['speedup_openvino']:.2f}x its plain) against llama.cpp {s['method_llama.cpp']} "
                  f"{s['tps_llama.cpp']:.1f} ({s['speedup_llama.cpp']:.2f}x its plain): **{s['best_ratio']:.2f}x** "
                  f"(plain against plain: {s['plain_ratio']:.2f}x).", ""]
    return lines


def write_markdown(results: dict[str, Any], out: Path) -> Path:
    """Write `results.md`: the machine, the decode table and the extra measurements; return its path."""
    cfg = results["config"]
    lines = [
        f"# Benchmark results: {results['machine']['cpu']}", "",
        f"Machine: {machine_line(results['machine'])}. Memory bandwidth (STREAM-style, all cores, best of the "
        f"samples taken during the run): **{results['bandwidth_gbs']:.1f} GB/s** ("
        + ", ".join(f"{k} {v:.1f}" for k, v in results["bandwidth"].items())
        + f"; samples: {', '.join(map(str, results['bandwidth_samples_gbs']))} GB/s).",
        "",
        f"Command: `{results['command']}`. Greedy, {cfg['new_tokens']} new tokens, median [min-max] of "
        f"{cfg['repeats']} interleaved runs after a warm-up, a different random prompt each run, each engine "
        "configuration in its own worker process. Roofline = weights read per token x tokens/s / bandwidth. "
        "Timings on a shared machine are noisy: compare ratios within this run.",
        "", *([_cache_line(results), ""] if "cache" in results else []),
        *_summary_lines(results),
        "## Decode and time to first token", "", markdown_table(decode_rows(results)), "",
    ]
    if results.get("notes"):
        lines += ["Notes:", "", *[f"- {n}" for n in results["notes"]], ""]
    lines += _failures(results) + _serving_lines(results)
    extra = []
    if "speculative" in results:
        s = results["speculative"]
        sweep = ", ".join(f"{k}: {v['speedup']:.2f}x ({v['acceptance']:.0%})" for k, v in s["sweep"].items())
        extra.append(f"- Speculative decoding ({s['model']}, f32): **{s['speedup']:.2f}x** at "
                     f"{s['assistant_tokens']} draft tokens per step, acceptance {s['acceptance']:.0%}, identical "
                     f"greedy output: {s['identical_output']}. By draft tokens per step: {sweep} (median "
                     f"{s['median_over_sweep']:.2f}x).")
    if "lora" in results:
        lo = results["lora"]
        modes = ", ".join(f"{m.removeprefix('MODE_')} {v:+.0%}" for m, v in lo["modes"].items())
        extra.append(f"- LoRA rank {lo['rank']} on every linear layer ({lo['model']}): time per token "
                     f"**{lo['dynamic_overhead']:+.0%}** in GenAI's default (dynamic) mode "
                     f"({lo['base_tpot_ms']:.1f} -> {lo['adapter_tpot_ms']:.1f} ms). By adapter mode: {modes}.")
    if "kv_cache" in results:
        kv = results["kv_cache"]
        extra.append(f"- Per-token latency at {kv['context']} tokens of context ({kv['model']}): stateful "
                     f"{kv['stateful_ms']:.1f} ms, stateless (cache passed by the application) "
                     f"{kv['stateless_ms']:.1f} ms, no cache {kv['no_cache_ms']:.1f} ms.")
    if extra:
        lines += ["## Speculative decoding, LoRA, KV-cache", "", *extra, ""]
    lines += ["## Plots", "", *[f"![{p.stem}]({p.name})" for p in sorted(out.glob("*.png"))], ""]
    path = out / "results.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def write_plots(results: dict[str, Any], out: Path) -> list[Path]:
    """Draw decode tokens/s, roofline fraction and TTFT per engine and precision, one panel per model size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    measured = [r for r in results["decode"] if _ok(r)]
    sizes = list(dict.fromkeys(r["size"] for r in measured))
    paths = []
    long_prompt = results["config"]["long_prompt"]
    for key, title, fmt in (("tokens_per_s", "Decode tokens/s (higher is better)", "{:.0f}"),
                            ("roofline_fraction", "Fraction of the memory-bandwidth roofline", "{:.0%}"),
                            ("ttft_long_ms", f"TTFT ms, {long_prompt}-token prompt (lower is better)", "{:.0f}")):
        fig, axes = plt.subplots(1, max(1, len(sizes)), figsize=(6 * max(1, len(sizes)), 4), squeeze=False)
        for ax, size in zip(axes[0], sizes, strict=False):
            recs = [r for r in measured if r["size"] == size]
            labels = [f"{r['engine']}\n{r['precision']}" for r in recs]
            colours = [ENGINE_COLOURS.get(r["engine"], "gray") for r in recs]
            values = [r[key] for r in recs]
            # a roofline fraction of cache-resident weights is not meaningful: a pale hatched bar, labelled so
            cached = [key == "roofline_fraction" and bool(r.get("cache_resident")) for r in recs]
            bars = ax.bar(range(len(recs)), values, color=colours)
            ax.set_xticks(range(len(recs)), labels, fontsize=7)
            for i, (bar, value, cache) in enumerate(zip(bars, values, cached, strict=True)):
                if cache:
                    bar.set(alpha=0.3, hatch="//")
                text = "cache-resident" if cache else fmt.format(value)
                ax.annotate(text, (i, value), ha="center", va="bottom", fontsize=7)
            ax.set_title(f"{size} ({recs[0]['params'] / 1e6:.0f} M parameters)")
            ax.grid(axis="y", alpha=0.3)
        fig.suptitle(title)
        fig.text(0.01, 0.01, machine_line(results["machine"]), fontsize=7, color="gray")
        fig.tight_layout(rect=(0, 0.03, 1, 1))
        path = out / f"{key}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths


def write_all(results: dict[str, Any], out: Path) -> dict[str, Path]:
    """Write results.json, the plots and results.md into `out`; return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    json_path = out / "results.json"
    json_path.write_text(json.dumps(results, indent=2), encoding="utf-8")
    plots = write_plots(results, out)
    return {"json": json_path, "markdown": write_markdown(results, out), **{p.stem: p for p in plots}}
