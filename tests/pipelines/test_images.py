from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from pipelines.core.images import fit_image, load_rgb


def test_cover_crops_centre_and_fills() -> None:
    # 200x100: left half red, right half blue; cover to 100x100 keeps the centre (both colours).
    img = Image.new("RGB", (200, 100), (255, 0, 0))
    img.paste((0, 0, 255), (100, 0, 200, 100))
    out = np.asarray(fit_image(img, 100, 100, "cover"))
    assert out.shape == (100, 100, 3)
    assert out[50, 5, 0] > 200 and out[50, 95, 2] > 200  # red at left edge, blue at right edge
    assert out[0, 0].sum() > 0  # no black bars


def test_contain_letterboxes_on_black() -> None:
    img = Image.new("RGB", (200, 100), (0, 255, 0))
    out = np.asarray(fit_image(img, 100, 100, "contain"))
    assert out.shape == (100, 100, 3)
    assert out[10, 50].sum() == 0 and out[90, 50].sum() == 0  # bars above and below
    assert out[50, 50, 1] > 200


def test_alpha_and_palette_become_rgb(tmp_path: Path) -> None:
    rgba = Image.new("RGBA", (8, 8), (255, 0, 0, 0))  # fully transparent red -> black
    p = tmp_path / "a.png"
    rgba.save(p)
    out = load_rgb(p)
    assert out.mode == "RGB" and out.getpixel((0, 0)) == (0, 0, 0)
    pal = Image.new("P", (8, 8))
    pal.save(tmp_path / "p.png")
    assert load_rgb(tmp_path / "p.png").mode == "RGB"


def test_exif_rotation_is_applied(tmp_path: Path) -> None:
    img = Image.new("RGB", (40, 20), (255, 255, 255))
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    p = tmp_path / "r.jpg"
    img.save(p, exif=exif)
    assert load_rgb(p).size == (20, 40)
