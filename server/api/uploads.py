"""Input images from requests: multipart files, data URLs or bare base64. Checked for size in
bytes, then for pixels from the header (before decoding anything), then decoded once; saved under
the job's folder and handed to ``resolve()`` as a path."""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from server.api.errors import InvalidRequest, PayloadTooLarge

_DATA_URL = re.compile(r"^data:(?P<mime>[\w/+.-]+)?(?:;[\w=.-]+)*;base64,(?P<data>.*)$", re.S)
_EXT = {"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp", "GIF": ".gif", "BMP": ".bmp", "TIFF": ".tiff"}


@dataclass(frozen=True)
class ImageUpload:
    field: str
    data: bytes
    ext: str
    width: int
    height: int

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def save(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.field}{self.ext}"
        path.write_bytes(self.data)
        return path


def decode_text(field: str, value: str, max_bytes: int) -> bytes:
    """A data URL or bare base64 string to bytes; size checked before and after decoding."""
    value = value.strip()
    if value.startswith(("http://", "https://")):
        raise InvalidRequest(f"{field}: image URLs are not fetched (the server is offline by design); "
                             "send the image as a file field, a data URL or base64", field)
    m = _DATA_URL.match(value)
    payload = m.group("data") if m else value
    if len(payload) * 3 // 4 > max_bytes + 3:
        raise PayloadTooLarge(f"{field}: image is over the {max_bytes} byte limit", field)
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidRequest(f"{field}: not a data URL or valid base64 ({exc})", field) from exc


def check_image(field: str, data: bytes, max_bytes: int, max_pixels: int) -> ImageUpload:
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"{field}: image is {len(data)} bytes, over the {max_bytes} byte limit", field)
    if not data:
        raise InvalidRequest(f"{field}: image is empty", field)
    try:
        with Image.open(io.BytesIO(data)) as img:
            width, height = img.size  # from the header only
            fmt = img.format or ""
            if width * height > max_pixels:
                raise PayloadTooLarge(
                    f"{field}: image is {width}x{height} = {width * height} pixels, over the {max_pixels} limit",
                    field,
                )
            img.load()
    except PayloadTooLarge:
        raise
    except Image.DecompressionBombError as exc:
        # Pillow refuses at open() past twice its own limit, before our header check runs: same answer.
        raise PayloadTooLarge(f"{field}: image header claims too many pixels ({exc}); the limit is {max_pixels}",
                              field) from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise InvalidRequest(f"{field}: not a decodable image ({exc.__class__.__name__}: {exc})", field,
                             "invalid_image") from exc
    if fmt not in _EXT:
        raise InvalidRequest(f"{field}: image format {fmt or 'unknown'!r} is not accepted; "
                             f"send one of {', '.join(sorted(_EXT))}", field, "invalid_image")
    return ImageUpload(field, data, _EXT[fmt], width, height)
