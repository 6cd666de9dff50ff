"""The pictures the demo vision-language and text-to-image models are trained on, and a grader for pictures.

`draw` makes one shape in one colour on a light background (solid, outlined or striped); `grade` reads back the
colour, the shape and the style of a picture, whether drawn or generated. The colour and the style are read with
pixel rules; the shape with a nearest-centroid classifier fitted on drawn pictures (`ShapeClassifier`), checked on
freshly drawn ones by `tests/test_demo_sd.py` before it grades generated images.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from PIL import Image

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (215, 35, 35), "green": (35, 160, 55), "blue": (40, 75, 215),
    "yellow": (235, 205, 30), "purple": (135, 55, 175), "orange": (245, 135, 25),
}
SHAPES = ("circle", "square", "triangle", "cross")
STYLES = ("solid", "outline", "striped")
OUTLINE_WIDTH = 3  # pixels, at 64 x 64
STRIPE_PERIOD = 8  # pixels: 4 in colour, 4 of background, horizontal


@dataclass(frozen=True)
class Shape:
    """What one demo picture shows: a colour and a shape."""

    colour: str
    shape: str

    @property
    def words(self) -> str:
        """'a red circle', 'an orange square'."""
        return f"{'an' if self.colour[0] in 'aeiou' else 'a'} {self.colour} {self.shape}"

    @property
    def caption(self) -> str:
        return f"{self.words}."


def _outline(shape: str, cx: float, cy: float, r: float) -> list[tuple[float, float]]:
    """Return the polygon of `shape` (square, triangle, cross) centred at (cx, cy) with half-size r."""
    if shape == "square":
        s = r * 0.9
        return [(cx - s, cy - s), (cx + s, cy - s), (cx + s, cy + s), (cx - s, cy + s)]
    if shape == "triangle":
        return [(cx, cy - r), (cx + r, cy + r * 0.8), (cx - r, cy + r * 0.8)]
    w = r * 0.35
    return [(cx - w, cy - r), (cx + w, cy - r), (cx + w, cy - w), (cx + r, cy - w), (cx + r, cy + w), (cx + w, cy + w),
            (cx + w, cy + r), (cx - w, cy + r), (cx - w, cy + w), (cx - r, cy + w), (cx - r, cy - w), (cx - w, cy - w)]


def draw(shape: Shape, rng: random.Random, size: int = 64, style: str = "solid") -> Image.Image:
    """Return a `size` x `size` RGB picture of `shape`: random position, size, shade and a light background.

    `style` is "solid" (filled), "outline" (a line of `OUTLINE_WIDTH` pixels) or "striped" (filled with horizontal
    bands of the colour and the background). Raises ValueError for an unknown shape or style.
    """
    from PIL import Image, ImageDraw

    if shape.shape not in SHAPES:
        raise ValueError(f"unknown shape {shape.shape!r}; known: {', '.join(SHAPES)}")
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}; known: {', '.join(STYLES)}")
    grey = rng.randint(200, 255)
    background = tuple(min(255, max(0, grey + rng.randint(-20, 20))) for _ in range(3))
    fill = tuple(min(255, max(0, c + rng.randint(-25, 25))) for c in COLOURS[shape.colour])
    r = rng.uniform(0.2, 0.38) * size
    cx, cy = rng.uniform(r + 1, size - r - 1), rng.uniform(r + 1, size - r - 1)
    mask = Image.new("L", (size, size), 0)
    pen = ImageDraw.Draw(mask)
    width = max(1, round(OUTLINE_WIDTH * size / 64))
    if shape.shape == "circle":
        box = (cx - r, cy - r, cx + r, cy + r)
        pen.ellipse(box, outline=255, width=width) if style == "outline" else pen.ellipse(box, fill=255)
    elif style == "outline":
        pen.polygon(_outline(shape.shape, cx, cy, r), outline=255, width=width)
    else:
        pen.polygon(_outline(shape.shape, cx, cy, r), fill=255)
    if style == "striped":
        period = max(2, round(STRIPE_PERIOD * size / 64))
        phase = rng.randrange(period)
        rows = ((np.arange(size) + phase) % period) < period // 2
        mask = Image.fromarray((np.asarray(mask) * rows[:, None]).astype(np.uint8))
    image = Image.new("RGB", (size, size), background)
    image.paste(Image.new("RGB", (size, size), fill), mask=mask)
    return image


def random_shape(rng: random.Random) -> Shape:
    """Return a random colour and shape."""
    return Shape(rng.choice(list(COLOURS)), rng.choice(SHAPES))


def parse_caption(text: str) -> Shape | None:
    """Return the colour and shape a caption names ("a red circle."), or None if it names no single one."""
    words = text.lower().replace(".", " ").split()
    colours = [w for w in words if w in COLOURS]
    shapes = [w for w in words if w in SHAPES]
    return Shape(colours[0], shapes[0]) if len(colours) == 1 and len(shapes) == 1 else None


@dataclass(frozen=True)
class Grade:
    """What `grade` read from a picture; a field is None when the picture shows no shape."""

    colour: str | None
    shape: str | None
    style: str | None

    def shows(self, shape: Shape, style: str = "solid") -> bool:
        """True if the picture shows `shape` in `style`."""
        return (self.colour, self.shape, self.style) == (shape.colour, shape.shape, style)


FOREGROUND = 70  # a pixel is part of the shape if one channel differs from the background by more than this
SIDE = 16  # the classifier sees the shape's bounding box resized to SIDE x SIDE


def foreground(pixels: np.ndarray) -> np.ndarray:
    """Return the boolean mask of the pixels that differ from the background (the median of the border pixels)."""
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]]).astype(int)
    background = np.median(border, axis=0)
    return np.abs(pixels.astype(int) - background).max(-1) > FOREGROUND


def _box(mask: np.ndarray) -> tuple[int, int, int, int]:
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    return rows[0], rows[-1] + 1, cols[0], cols[-1] + 1


def _runs(line: np.ndarray) -> int:
    """Number of runs of at least two True values in a 1-D boolean array."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], line.astype(int), [0]])))
    return int(np.sum(edges[1::2] - edges[0::2] >= 2))


def _span(mask: np.ndarray) -> np.ndarray:
    """Each row of `mask` filled from its first to its last True value."""
    idx = np.arange(mask.shape[1])
    has = mask.any(1)
    first = np.where(has, mask.argmax(1), mask.shape[1])
    last = np.where(has, mask.shape[1] - 1 - mask[:, ::-1].argmax(1), -1)
    return (idx >= first[:, None]) & (idx <= last[:, None])


def _filled(mask: np.ndarray) -> np.ndarray:
    """The mask with the gaps of each row and each column filled: outlines and stripes become solid shapes (the four
    shapes are convex along rows and columns)."""
    return _span(mask) | _span(mask.T).T


def _features(mask: np.ndarray) -> np.ndarray:
    from PIL import Image

    top, bottom, left, right = _box(mask)
    crop = Image.fromarray((_filled(mask)[top:bottom, left:right] * 255).astype(np.uint8))
    return np.asarray(crop.resize((SIDE, SIDE), Image.BILINEAR), dtype=np.float32).ravel() / 255


class ShapeClassifier:
    """Nearest-centroid shape classifier on the bounding box of a picture's foreground, fitted on drawn pictures."""

    def __init__(self, per_class: int = 60, seed: int = 1234) -> None:
        rng = random.Random(seed)
        rows = [[_features(foreground(np.asarray(draw(Shape(rng.choice(list(COLOURS)), s), rng, style=style))))
                 for _ in range(per_class) for style in STYLES] for s in SHAPES]
        self.centroids = np.stack([np.mean(r, axis=0) for r in rows])

    def __call__(self, mask: np.ndarray) -> str:
        distances = np.linalg.norm(self.centroids - _features(mask), axis=1)
        return SHAPES[int(distances.argmin())]


@functools.cache
def classifier() -> ShapeClassifier:
    """The shape classifier `grade` uses (fitted once per process, in well under a second)."""
    return ShapeClassifier()


def grade(image: Image.Image | np.ndarray, min_pixels: int = 12) -> Grade:
    """Return the colour, shape and style a picture shows (None fields if fewer than `min_pixels` differ from the
    background). Colour: the nearest named colour to the foreground's median. Style: "striped" if the column through
    the shape's centre crosses three or more bands, "outline" if the middle of its box is empty, else "solid"."""
    pixels = np.asarray(image)[..., :3]
    mask = foreground(pixels)
    if mask.sum() < min_pixels:
        return Grade(None, None, None)
    median = np.median(pixels[mask].astype(float), axis=0)
    colour = min(COLOURS, key=lambda c: float(np.linalg.norm(median - np.array(COLOURS[c]))))
    top, bottom, left, right = _box(mask)
    box = mask[top:bottom, left:right]
    h, w = box.shape
    if _runs(box[:, w // 2]) >= 3:
        style = "striped"
    else:
        middle = box[round(h * 0.42):max(round(h * 0.58), round(h * 0.42) + 1),
                     round(w * 0.42):max(round(w * 0.58), round(w * 0.42) + 1)]
        style = "outline" if middle.mean() < 0.5 else "solid"
    return Grade(colour, classifier()(mask), style)
