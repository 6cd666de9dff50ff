"""The pictures and clips of the demo Gemma 4 (`nbhelpers.demos.scenes`): what they show is what their captions say."""

from __future__ import annotations

import random

import numpy as np
import pytest

from nbhelpers.demos import scenes
from nbhelpers.demos.shapes import COLOURS, Shape, foreground


def nearest_colour(pixel: np.ndarray) -> str:
    return min(COLOURS, key=lambda c: float(np.abs(pixel.astype(int) - np.array(COLOURS[c])).sum()))


def test_captions_read_back() -> None:
    shapes = (Shape("red", "circle"), Shape("orange", "square"), Shape("blue", "cross"))
    assert scenes.scene_caption(shapes[:1]) == "a red circle."
    assert scenes.scene_caption(shapes[:2]) == "a red circle and an orange square."
    assert scenes.scene_caption(shapes) == "a red circle, an orange square and a blue cross."
    for n in (1, 2, 3):
        assert scenes.parse_scene_caption(scenes.scene_caption(shapes[:n])) == shapes[:n]
    assert scenes.parse_scene_caption("a red circle and a square.") is None
    assert scenes.parse_scene_caption("") is None
    clip = scenes.Clip(Shape("green", "triangle"), "red", 2)
    assert clip.caption == "a green triangle turning red."
    assert scenes.parse_clip_caption(clip.caption) == (Shape("green", "triangle"), "red")
    assert scenes.parse_clip_caption("a green triangle.") is None


def test_scene_shapes_are_where_and_what_the_caption_says_top_to_bottom() -> None:
    rng = random.Random(0)
    for count in (1, 2, 3, None):
        for _ in range(10):
            picture, scene, centres = scenes.draw_scene(rng, pixels=200_000, count=count, with_centres=True)
            pixels = np.asarray(picture)
            assert abs(picture.width * picture.height - 200_000) < 2000
            assert len(scene.shapes) == len(centres) == (count or len(scene.shapes))
            ys = [y for _, y in centres]
            assert ys == sorted(ys) and all(b - a > picture.height / 4 for a, b in zip(ys, ys[1:], strict=False))
            for (x, y), shape in zip(centres, scene.shapes, strict=True):
                assert nearest_colour(pixels[round(y), round(x)]) == shape.colour
            assert foreground(pixels).mean() < 0.05  # small shapes on a light background
    with pytest.raises(ValueError, match="1 to 3 shapes"):
        scenes.draw_scene(rng, count=4)
    with pytest.raises(ValueError, match="do not fit"):
        scenes.draw_scene(rng, count=3, side_fraction=0.2)


def test_a_clip_changes_its_shapes_colour_once_where_it_says() -> None:
    rng = random.Random(1)
    for change in (1, 3, 5, None):
        for _ in range(5):
            frames, clip = scenes.draw_clip(rng, frames=6, change=change)
            assert frames.shape == (6, scenes.CLIP_SIZE[1], scenes.CLIP_SIZE[0], 3) and frames.dtype == np.uint8
            seen = []
            for frame in frames:
                ys, xs = np.nonzero(foreground(frame))
                assert 0.01 < len(xs) / foreground(frame).size < 0.2  # one shape of a tenth of the height or so
                seen.append(nearest_colour(np.median(frame[ys, xs], axis=0)))
            assert clip.change == (change or clip.change) and 1 <= clip.change <= 5
            assert seen == [clip.shape.colour] * clip.change + [clip.new_colour] * (6 - clip.change), (seen, clip)
            assert clip.new_colour != clip.shape.colour
    with pytest.raises(ValueError, match="changes colour at a frame from 1 to 5"):
        scenes.draw_clip(rng, frames=6, change=6)
