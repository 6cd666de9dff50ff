from __future__ import annotations

import matplotlib
import pytest

matplotlib.use("Agg")

from nbhelpers.plots import bars, image_grid, lines, scatter, timeline, waveform  # noqa: E402
from nbhelpers.timing import spread  # noqa: E402


def test_bars_draw_medians_with_whiskers() -> None:
    fig = bars({"a": 1.0, "b": spread([1.0, 2.0, 4.0])}, "title", "ms", note="demo model")
    ax = fig.axes[0]
    assert [p.get_height() for p in ax.patches] == [1.0, 2.0]
    assert ax.get_title() == "title" and ax.get_ylabel() == "ms"


def test_lines_with_reference() -> None:
    fig = lines([1, 2, 4], {"x": [1, 2, 3], "y": [2, 3, 4]}, "t", "tokens", "ms", reference=(100, "limit"), logx=True)
    ax = fig.axes[0]
    assert len(ax.lines) == 3 and ax.get_xscale() == "log" and ax.get_yscale() == "linear"
    assert lines([1, 2], {"x": [1, 10]}, "t", "a", "b", logy=True).axes[0].get_yscale() == "log"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["x", "y", "limit"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "4"]
    few = lines([1, 2, 3], {"x": [5, 6, 7]}, "t", "images", "ms").axes[0]  # ticks on the points, not between
    assert list(few.get_xticks()) == [1, 2, 3]
    many = lines(list(range(20)), {"x": list(range(20))}, "t", "a", "b").axes[0]  # matplotlib's own ticks
    assert len(many.get_xticks()) < 20


def test_scatter_labels_every_point() -> None:
    fig = scatter({"int8": (0.5, 1e-4), "int4": (0.26, 2e-3)}, "t", "size", "KL", logy=True)
    ax = fig.axes[0]
    assert sorted(t.get_text() for t in ax.texts) == ["int4", "int8"] and ax.get_yscale() == "log"


def test_image_grid_shows_images_and_heat_maps() -> None:
    import numpy as np

    rgb = np.zeros((8, 8, 3), dtype=np.uint8)
    heat = np.arange(64, dtype=float).reshape(8, 8)
    fig = image_grid({"a": rgb, "b": rgb, "": None, "|a-b|": heat}, "grid", ncols=2, note="demo")
    image_axes = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title() for ax in image_axes] == ["a", "b", "|a-b|"]
    assert image_axes[2].images[0].get_clim() == (0, 63.0)
    assert len(fig.axes) == 5 and not fig.axes[2].images  # 2 x 2 grid, the third cell empty, and a colour bar
    assert image_grid({"x": heat}, "t", vmax=10).axes[0].images[0].get_clim() == (0, 10)


def test_waveform_shades_each_segment() -> None:
    import numpy as np

    audio = np.sin(np.linspace(0, 100, 32000)).astype(np.float32)
    fig = waveform(audio, 16000, [(0.2, 0.5, "three"), (1.0, 1.6, "seven one")], "heard", note="demo")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.texts] == ["three", "seven one"]
    assert len(ax.patches) == 2 and ax.get_xlim() == (0, pytest.approx(2.0, abs=1e-3))


def test_timeline_draws_one_row_per_request_with_a_dot_per_token() -> None:
    fig = timeline({"user 1": (0, [1, 2, 3]), "user 2": (2, [4, 5])}, "joining", note="demo")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["user 1", "user 2"]
    assert sum(len(c.get_offsets()) for c in ax.collections) == 5  # one dot per token
    assert [p.get_x() + 0.4 for p in ax.patches] == [0, 2] and ax.patches[1].get_width() == 2  # joined -> first
