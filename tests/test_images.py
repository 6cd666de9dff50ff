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


def test_image_requests_are_checked_with_the_fix_in_the_message(tmp_path) -> None:
    import json

    from nbhelpers.errors import EmptyPromptError, ImageRequestError
    from nbhelpers.images import check_image_request, check_mask, vae_scale_factor

    check_image_request("a red circle", 64, 64, 20)
    with pytest.raises(EmptyPromptError):
        check_image_request("  ", 64, 64, 20)
    with pytest.raises(ImageRequestError, match="multiples of 8.*try 96 x 64"):
        check_image_request("a red circle", 100, 64, 20)
    with pytest.raises(ImageRequestError, match="at least 1"):
        check_image_request("a red circle", 64, 64, 0)
    image = np.zeros((1, 64, 64, 3), np.uint8)
    check_mask(np.zeros((64, 64), np.uint8), image)
    with pytest.raises(ImageRequestError, match="resize the mask"):
        check_mask(np.zeros((1, 32, 32, 3), np.uint8), image)
    (tmp_path / "vae_decoder").mkdir()
    (tmp_path / "vae_decoder" / "config.json").write_text(json.dumps({"block_out_channels": [8, 16, 32, 64]}))
    assert vae_scale_factor(tmp_path) == 8
