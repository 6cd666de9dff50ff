"""Matplotlib helpers for what the notebooks show: bars with spread, lines, scatter, image grids, waveforms."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from nbhelpers.timing import Spread


def bars(values: Mapping[str, float | Spread], title: str, ylabel: str, note: str = "") -> Figure:
    """Return a bar chart of {label: value}; a `Spread` value draws its median with a min-max whisker."""
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    labels = list(values)
    mids = [v.median if isinstance(v, Spread) else float(v) for v in values.values()]
    err = [[m - v.low if isinstance(v, Spread) else 0 for m, v in zip(mids, values.values(), strict=False)],
           [v.high - m if isinstance(v, Spread) else 0 for m, v in zip(mids, values.values(), strict=False)]]
    has_spread = any(isinstance(v, Spread) for v in values.values())
    ax.bar(labels, mids, yerr=err if has_spread else None, capsize=4, color="#0068b5")
    for i, m in enumerate(mids):
        ax.annotate(f"{m:.3g}", (i, m), ha="center", va="bottom", xytext=(0, 3), textcoords="offset points")
    _finish(ax, title, ylabel, note)
    return fig


def lines(
    x: Sequence[float], series: Mapping[str, Sequence[float]], title: str, xlabel: str, ylabel: str,
    reference: tuple[float, str] | None = None, note: str = "", logx: bool = False, logy: bool = False,
) -> Figure:
    """Return a line chart of several series over `x`; `reference=(y, label)` adds a dashed line.

    `logx` uses a base-2 axis labelled with the x values; `logy` a base-10 value axis.
    """
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for name, ys in series.items():
        ax.plot(x, ys, marker="o", label=name)
    if reference is not None:
        ax.axhline(reference[0], color="gray", linestyle="--", label=reference[1])
    if logx:
        ax.set_xscale("log", base=2)
    if logx or len(x) <= 12:  # label the measured points, not fractions between them
        ax.set_xticks(list(x), [f"{v:g}" for v in x])
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.legend()
    _finish(ax, title, ylabel, note)
    return fig


def scatter(points: Mapping[str, tuple[float, float]], title: str, xlabel: str, ylabel: str,
            note: str = "", logy: bool = False) -> Figure:
    """Return a labelled scatter plot of {label: (x, y)}, e.g. size against quality loss per variant."""
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for i, (label, (x, y)) in enumerate(sorted(points.items(), key=lambda item: item[1])):
        ax.scatter([x], [y], color="#0068b5")  # neighbours' labels alternate above and below their points
        ax.annotate(label, (x, y), fontsize=8, xytext=(5, 4 if i % 2 else -11), textcoords="offset points")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    _finish(ax, title, ylabel, note)
    return fig


def _finish(ax: plt.Axes, title: str, ylabel: str, note: str) -> None:
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.grid(axis="y", alpha=0.3)
    if note:
        ax.figure.text(0.01, 0.01, note, fontsize=8, color="gray")
    ax.figure.tight_layout()


def image_grid(images: Mapping[str, np.ndarray | None], title: str, ncols: int = 4, note: str = "",
               cmap: str = "magma", vmax: float | None = None) -> Figure:
    """Return a grid of images {label: array}, row by row; HxWx3 arrays are shown as they are, HxW as heat maps.

    Heat maps share one colour scale from 0 to `vmax` (default: their largest value) and a colour bar.
    A None value leaves its cell empty (to line a row of differences up under the images they compare).
    """
    nrows = -(-len(images) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.6 * ncols, 2.7 * nrows + 0.4), squeeze=False)
    maps = [a for a in images.values() if a is not None and a.ndim == 2]
    top = vmax if vmax is not None else max((float(a.max()) for a in maps), default=1.0)
    shown = None
    for ax, (label, image) in zip(axes.flat, images.items(), strict=False):
        if image is None:
            continue
        if image.ndim == 2:
            shown = ax.imshow(image, cmap=cmap, vmin=0, vmax=top or 1.0)
        else:
            ax.imshow(image)
        ax.set_title(label, fontsize=9)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
        if not ax.images:
            ax.set_axis_off()
    if shown is not None:
        fig.colorbar(shown, ax=axes.ravel().tolist(), shrink=0.8)
    fig.suptitle(title)
    if note:
        fig.text(0.01, 0.01, note, fontsize=8, color="gray")
    return fig


def waveform(audio: np.ndarray, sampling_rate: int, segments: Sequence[tuple[float, float, str]], title: str,
             note: str = "") -> Figure:
    """Return the waveform of `audio` with each (start s, end s, text) segment shaded and labelled above it."""
    fig, ax = plt.subplots(figsize=(9, 2.8))
    t = np.arange(len(audio)) / sampling_rate
    ax.plot(t, audio, color="#555555", linewidth=0.5)
    top = float(np.abs(audio).max() or 1.0)
    for i, (start, end, text) in enumerate(segments):
        ax.axvspan(start, end, color="#0068b5", alpha=0.2)
        ax.annotate(text, ((start + end) / 2, top * (1.05 if i % 2 else 1.25)), ha="center", fontsize=8,
                    annotation_clip=False)
    ax.set_xlim(0, t[-1] if len(t) else 1)
    ax.set_ylim(-top * 1.1, top * 1.45)
    ax.set_xlabel("seconds")
    ax.set_yticks([])
    ax.set_title(title)
    if note:
        fig.text(0.01, 0.01, note, fontsize=8, color="gray")
    fig.tight_layout()
    return fig


def timeline(requests: Mapping[str, tuple[int, Sequence[int]]], title: str, xlabel: str = "pipeline step",
             note: str = "") -> Figure:
    """Return a chart of requests over steps: {label: (step it joined, steps at which it produced a token)}.

    Each request is a row: a thin bar from the step it joined to its first token (reading the prompt, possibly
    in several chunks) and a dot per token it produced.
    """
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * len(requests) + 1.4))
    for row, (joined, steps) in enumerate(requests.values()):
        first = steps[0] if steps else joined
        ax.barh(row, max(first - joined, 0.3), left=joined - 0.4, height=0.35, color="#f0a030",
                label="reading the prompt" if row == 0 else None)
        ax.scatter(steps, [row] * len(steps), s=10, color="#0068b5", label="a new token" if row == 0 else None)
    ax.set_yticks(range(len(requests)), list(requests))
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.legend(loc="lower right", fontsize=8)
    _finish(ax, title, "", note)
    return fig
