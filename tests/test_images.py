from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nbhelpers.errors import ImageError
from nbhelpers.images import from_upload, load_image, to_png


def _png(mode: str = "RGBA", size: tuple[int, int] = (5, 4)) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, 200).save(buffer, format="PNG")
    return buffer.getvalue()


def test_load_image_from_path_bytes_pil_and_arrays(tmp_path: Path) -> None:
    path = tmp_path / "x.png"
    path.write_bytes(_png())
    for source in (path, str(path), _png(), Image.new("L", (5, 4), 7)):
        image = load_image(source)
        assert image.mode == "RGB" and image.size == (5, 4)
    grey = load_image(np.full((4, 5), 9, np.uint8))
    assert grey.size == (5, 4) and grey.getpixel((0, 0)) == (9, 9, 9)
    floats = load_image(np.ones((4, 5, 3), np.float32))
    assert floats.getpixel((0, 0)) == (255, 255, 255)
    assert load_image(np.zeros((4, 5, 4), np.uint8)).mode == "RGB"


def test_load_image_refuses_what_it_cannot_convert(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="no image file"):
        load_image(tmp_path / "missing.png")
    with pytest.raises(ImageError, match="could not read the uploaded data"):
        load_image(b"this is not an image")
    with pytest.raises(ImageError, match="shape"):
        load_image(np.zeros((2, 4, 5, 3), np.uint8))
    with pytest.raises(ImageError, match="shape"):
        load_image(np.zeros((4, 5, 2), np.uint8))
    with pytest.raises(ImageError, match="uint8"):
        load_image(np.full((4, 5, 3), 60000, np.uint16))
    with pytest.raises(ImageError, match="empty"):
        load_image(np.zeros((0, 5, 3), np.uint8))


def test_from_upload_and_to_png() -> None:
    assert from_upload(()) is None and from_upload(None) is None
    image = from_upload(({"name": "a.png", "content": memoryview(_png(size=(3, 2)))},))
    assert image is not None and image.size == (3, 2)
    assert load_image(to_png(image)).size == (3, 2)
