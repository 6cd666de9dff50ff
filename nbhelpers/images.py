"""Images in, as vision-language models want them (RGB pixels), and image-generation requests checked.

`load_image` takes a file path, raw file bytes (an ipywidgets upload), a PIL image or a numpy array and
returns an RGB `PIL.Image`; anything it cannot convert raises `ImageError` with what to do instead.
`check_image_request` and `check_mask` stop requests GenAI's image pipelines reject obscurely or accept silently.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nbhelpers.errors import ImageError, ImageRequestError

if TYPE_CHECKING:
    from PIL import Image


def load_image(source: str | Path | bytes | np.ndarray | Image.Image) -> Image.Image:
    """Return `source` as an RGB PIL image.

    Arrays must be height x width (grey), or height x width x 3/4 (RGB/RGBA), uint8 or floats in [0, 1].
    Raises ImageError for a missing file, bytes that are not an image, an empty image, an array of
    another shape or of another integer type (convert it to uint8 first: its range is not known here).
    """
    from PIL import Image, UnidentifiedImageError

    if isinstance(source, Image.Image):
        image = source
    elif isinstance(source, np.ndarray):
        array = source
        if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
            raise ImageError(f"expected height x width (x 3 or 4 channels), got an array of shape {array.shape}")
        if np.issubdtype(array.dtype, np.floating):
            array = (np.clip(array, 0, 1) * 255).round()
        elif array.dtype != np.uint8:
            raise ImageError(f"expected uint8 pixels or floats in [0, 1], got {array.dtype}: convert to uint8 first")
        image = Image.fromarray(array.astype(np.uint8))
    else:
        if isinstance(source, (str, Path)) and not Path(source).is_file():
            raise ImageError(f"no image file at {source}: check the path")
        name = "the uploaded data" if isinstance(source, bytes) else str(source)
        try:
            image = Image.open(io.BytesIO(source) if isinstance(source, bytes) else source)
            image.load()
        except (UnidentifiedImageError, OSError) as exc:
            raise ImageError(f"could not read {name} as an image ({exc}); use a png, jpeg, webp or gif file") from exc
    if image.width == 0 or image.height == 0:
        raise ImageError("the image is empty (0 pixels wide or high)")
    return image.convert("RGB")


def from_upload(value: Any) -> Image.Image | None:
    """Return the first file of an `ipywidgets.FileUpload` value as an RGB image (None if there is none)."""
    files = list(value or ())
    if not files:
        return None
    return load_image(bytes(files[0]["content"]))


def to_png(image: Image.Image) -> bytes:
    """Return `image` encoded as PNG (for `ipywidgets.Image`)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def vae_scale_factor(model_dir: Path | str) -> int:
    """Return how many pixels one latent covers, from an exported image model's `vae_decoder/config.json`."""
    import json

    config = json.loads((Path(model_dir) / "vae_decoder" / "config.json").read_text(encoding="utf-8"))
    return 2 ** (len(config["block_out_channels"]) - 1)


def check_image_request(prompt: str, width: int, height: int, steps: int, scale: int = 8) -> None:
    """Raise EmptyPromptError for an empty prompt, ImageRequestError for a size that is not a positive multiple of
    `scale` (the VAE's scale factor: GenAI 2026.4's Text2ImagePipeline stops at an internal check, and its
    Image2ImagePipeline draws a smaller picture without a word) or fewer than 1 step."""
    from nbhelpers.prompts import check_prompt

    check_prompt(prompt)
    if width <= 0 or height <= 0 or width % scale or height % scale:
        fit = [max(scale, round(side / scale) * scale) for side in (width, height)]
        raise ImageRequestError(f"width and height must be positive multiples of {scale} (the VAE's scale factor), "
                                f"not {width} x {height}: try {fit[0]} x {fit[1]}")
    if steps < 1:
        raise ImageRequestError(f"num_inference_steps must be at least 1, not {steps}")


def check_mask(mask: np.ndarray, image: np.ndarray) -> None:
    """Raise ImageRequestError unless `mask` (HxW or NxHxWxC) covers exactly the pixels of `image` (NxHxWxC)."""
    mask_size = mask.shape[:2] if mask.ndim == 2 else mask.shape[-3:-1]
    if tuple(mask_size) != tuple(image.shape[-3:-1]):
        raise ImageRequestError(f"the mask is {mask_size[1]} x {mask_size[0]} pixels but the image is "
                                f"{image.shape[-2]} x {image.shape[-3]}: resize the mask to the image's size")
