"""Pictures where resolution matters, for the demo Gemma 4 (`nbhelpers/demo-gemma4`): a few small coloured shapes
far apart on a wide or tall canvas, and their caption, read from top to bottom.

A shape's size is a fraction of the picture's side (`side_fraction`), so what a model sees of it depends on the
resolution the picture is read at, not on how many pixels the picture has: Gemma 4 resizes every picture to its
token budget. `scene_caption` names the shapes ("a red circle, a blue square and a green cross."),
`parse_scene_caption` reads such a caption back.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

from nbhelpers.demos.shapes import COLOURS, SHAPES, Shape, _outline, random_shape

MAX_SHAPES = 3


def paint(pen: Any, shape: str, cx: float, cy: float, r: float, fill: tuple[int, ...]) -> None:
    """Draw a solid `shape` of half-size `r` centred at (cx, cy) with `pen` (a PIL ImageDraw)."""
    if shape == "circle":
        pen.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill)
    else:
        pen.polygon(_outline(shape, cx, cy, r), fill=fill)
ASPECTS = (0.5, 0.75, 1.0, 4 / 3, 2.0)  # width / height


@dataclass(frozen=True)
class Scene:
    """What a scene picture shows: its shapes from top to bottom, and their size (radius over the geometric mean
    of the picture's sides)."""

    shapes: tuple[Shape, ...]
    side_fraction: float

    @property
    def caption(self) -> str:
        return scene_caption(self.shapes)


def scene_caption(shapes: tuple[Shape, ...] | list[Shape]) -> str:
    """'a red circle.', 'a red circle and a blue square.', 'a red circle, a blue square and a green cross.'"""
    words = [s.words for s in shapes]
    return (", ".join(words[:-1]) + " and " + words[-1] if len(words) > 1 else words[0]) + "."


def parse_scene_caption(text: str) -> tuple[Shape, ...] | None:
    """Return the shapes a caption names, in order, or None if it is not a list of colour-shape pairs."""
    words = text.lower().replace(".", " ").replace(",", " ").split()
    words = [w for w in words if w not in ("a", "an", "and")]
    pairs = list(zip(words[::2], words[1::2], strict=False))
    if not words or len(words) % 2 or any(c not in COLOURS or s not in SHAPES for c, s in pairs):
        return None
    return tuple(Shape(c, s) for c, s in pairs)


def draw_scene(rng: random.Random, pixels: int = 400_000, count: int | None = None, aspect: float | None = None,
               side_fraction: float | None = None, with_centres: bool = False) -> tuple[Any, ...]:
    """Return a picture of `count` (1 to MAX_SHAPES, random if None) solid shapes far apart and its scene.

    The picture has about `pixels` pixels at width / height `aspect` (random among ASPECTS if None); each shape's
    radius is `side_fraction` (random in 0.006-0.03 if None) of the geometric mean of the sides. Shapes are a
    quarter of the height apart vertically, so "top to bottom" is well defined at any resolution a picture is read
    at. With `with_centres`, the shapes' centres (x, y in pixels, top to bottom) come third. Raises ValueError if
    the shapes do not fit.
    """
    from PIL import Image, ImageDraw

    count = count or rng.randint(1, MAX_SHAPES)
    aspect = aspect or rng.choice(ASPECTS)
    side_fraction = side_fraction or rng.uniform(0.006, 0.03)
    if not 1 <= count <= MAX_SHAPES:
        raise ValueError(f"a scene has 1 to {MAX_SHAPES} shapes, not {count}")
    width, height = round(math.sqrt(pixels * aspect)), round(math.sqrt(pixels / aspect))
    r = side_fraction * math.sqrt(pixels)
    margin = 2 * r
    centres: list[tuple[float, float]] = []
    for _ in range(2000):  # start again after 20 misses: the first shapes may leave no room for the last
        if len(centres) == count:
            break
        for _ in range(20):
            c = (rng.uniform(margin, width - margin), rng.uniform(margin, height - margin))
            if all(abs(c[1] - y) > max(4 * r, height / 4) and math.hypot(c[0] - x, c[1] - y) > 8 * r
                   for x, y in centres):
                centres.append(c)
                break
        else:
            centres = []
    if len(centres) < count:
        raise ValueError(f"{count} shapes of radius {r:.0f} do not fit far apart in {width} x {height}")
    grey = rng.randint(210, 250)
    image = Image.new("RGB", (width, height), tuple(min(255, grey + rng.randint(-10, 5)) for _ in range(3)))
    pen = ImageDraw.Draw(image)
    placed = sorted(((c, random_shape(rng)) for c in centres), key=lambda item: item[0][1])
    for (cx, cy), shape in placed:
        fill = tuple(min(255, max(0, c + rng.randint(-20, 20))) for c in COLOURS[shape.colour])
        paint(pen, shape.shape, cx, cy, r, fill)
    scene = Scene(tuple(s for _, s in placed), side_fraction)
    return (image, scene, [c for c, _ in placed]) if with_centres else (image, scene)


CLIP_SIZE = (160, 120)  # width, height of a clip's frames


@dataclass(frozen=True)
class Clip:
    """What a clip shows: one shape that changes colour once, at frame `change`."""

    shape: Shape
    new_colour: str
    change: int

    @property
    def caption(self) -> str:
        return f"{self.shape.words} turning {self.new_colour}."


def parse_clip_caption(text: str) -> tuple[Shape, str] | None:
    """Return the shape and the colour it turns a clip caption names ("a red circle turning blue."), or None."""
    words = text.lower().replace(".", " ").split()
    colours = [w for w in words if w in COLOURS]
    shapes = [w for w in words if w in SHAPES]
    if len(colours) != 2 or len(shapes) != 1 or "turning" not in words:
        return None
    return Shape(colours[0], shapes[0]), colours[1]


def draw_clip(rng: random.Random, frames: int = 6, change: int | None = None) -> tuple[Any, Clip]:
    """Return `frames` RGB frames (uint8, frames x height x width x 3, CLIP_SIZE) of one solid shape drifting a
    little, in one colour until frame `change` (random from 1 to frames - 1 if None) and another from it on, and the
    clip. Raises ValueError unless 1 <= change < frames."""
    import numpy as np
    from PIL import Image, ImageDraw

    change = change if change is not None else rng.randint(1, frames - 1)
    if not 1 <= change < frames:
        raise ValueError(f"a clip of {frames} frames changes colour at a frame from 1 to {frames - 1}, not {change}")
    width, height = CLIP_SIZE
    shape = random_shape(rng)
    new_colour = rng.choice([c for c in COLOURS if c != shape.colour])
    r = rng.uniform(0.1, 0.15) * height
    cx, cy = rng.uniform(2 * r, width - 2 * r), rng.uniform(2 * r, height - 2 * r)
    dx, dy = rng.uniform(-r, r) / frames, rng.uniform(-r, r) / frames
    grey = rng.randint(210, 250)
    background = tuple(min(255, grey + rng.randint(-10, 5)) for _ in range(3))
    out = []
    for i in range(frames):
        colour = shape.colour if i < change else new_colour
        fill = tuple(min(255, max(0, c + rng.randint(-10, 10))) for c in COLOURS[colour])
        x, y = cx + dx * i, cy + dy * i
        image = Image.new("RGB", (width, height), background)
        paint(ImageDraw.Draw(image), shape.shape, x, y, r, fill)
        out.append(np.asarray(image))
    return np.stack(out), Clip(shape, new_colour, change)
