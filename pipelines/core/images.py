"""Input images: checked before anything loads, then fitted to the target size.

Fit rule (documented in the README): ``cover`` scales the image so it fills the target and
centre-crops the overflow (default; no black bars in the video); ``contain`` scales it to fit
inside and letterboxes on black. EXIF orientation is applied first; every mode becomes RGB.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from PIL import Image, ImageOps, UnidentifiedImageError

from pipelines.core.errors import InvalidSpec

# Refuse images whose header claims more pixels than this before decoding them (decompression bombs).
MAX_IMAGE_PIXELS = 40_000_000


def check_image_file(field: str, path: Path) -> tuple[int, int]:
    """Open and fully decode ``path``; return (width, height) or raise InvalidSpec naming ``field``."""
    if not path.is_file():
        raise InvalidSpec(field, str(path), "no such image file")
    try:
        with Image.open(path) as img:
            w, h = img.size
            if w * h > MAX_IMAGE_PIXELS:
                raise InvalidSpec(field, str(path), f"image is {w}x{h}, over {MAX_IMAGE_PIXELS} pixels")
            img.load()
    except InvalidSpec:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise InvalidSpec(field, str(path), f"not a decodable image ({exc.__class__.__name__})") from exc
    if w < 1 or h < 1:
        raise InvalidSpec(field, str(path), "image has no pixels")
    return w, h


def load_rgb(path: Path) -> Image.Image:
    with Image.open(path) as raw:
        img = ImageOps.exif_transpose(raw)
        if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
            # Composite transparency on black rather than letting PIL drop alpha arbitrarily.
            rgba = img.convert("RGBA")
            base = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
            return Image.alpha_composite(base, rgba).convert("RGB")
        return img.convert("RGB")


def fit_image(img: Image.Image, width: int, height: int, fit: Literal["cover", "contain"] = "cover") -> Image.Image:
    """Resize ``img`` to exactly ``width``x``height`` by the fit rule."""
    if img.size == (width, height):
        return img
    if fit == "cover":
        return ImageOps.fit(img, (width, height), method=Image.Resampling.LANCZOS, centering=(0.5, 0.5))
    inner = ImageOps.contain(img, (width, height), method=Image.Resampling.LANCZOS)
    canvas = Image.new("RGB", (width, height), (0, 0, 0))
    canvas.paste(inner, ((width - inner.width) // 2, (height - inner.height) // 2))
    return canvas


def load_fitted(path: Path, width: int, height: int, fit: Literal["cover", "contain"] = "cover") -> Image.Image:
    return fit_image(load_rgb(path), width, height, fit)
