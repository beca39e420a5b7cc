"""Shot extension by last-frame chaining: the source's last frame conditions an image-to-video
continuation, and the result is the source followed by the continuation without its first frame.

Seam rule: the continuation's first frame reproduces its conditioning frame (the source's last
frame), so keeping both would freeze the picture for one frame; the continuation's copy is dropped
and the source's own last frame is kept. Stitched length = source + continuation − 1.

Size rule: the continuation runs at the source's size when that size fits the model's rules;
otherwise at the nearest size that does (``fit_size``), and its frames are resized back to the
source's size before stitching. Torch-free.
"""

from __future__ import annotations

import io
import logging
import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

from pipelines.core.catalog import ModelEntry
from pipelines.encode import read_frames

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SourceVideo:
    """What an extension needs to know about the video it continues."""

    frames: int
    width: int
    height: int
    fps: int
    last_frame_png: bytes


def inspect_source(path: Path) -> SourceVideo:
    """Decode every frame (a truncated file fails here, not in the worker) and keep the last one.
    Raises ValueError for anything that is not a decodable video."""
    last = None
    count = 0
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise ValueError("no video stream")
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate or Fraction(0)
            for frame in container.decode(stream):
                last = frame
                count += 1
    except (av.FFmpegError, OSError) as exc:
        raise ValueError(f"not a decodable video ({exc.__class__.__name__}: {exc})") from exc
    if last is None:
        raise ValueError("the video has no frames")
    fps = round(float(rate))
    if not 1 <= fps <= 120:
        raise ValueError(f"frame rate {float(rate):.3f} is outside 1-120 fps")
    buf = io.BytesIO()
    Image.fromarray(last.to_ndarray(format="rgb24")).save(buf, format="PNG")
    return SourceVideo(count, last.width, last.height, fps, buf.getvalue())


def fits(entry: ModelEntry, width: int, height: int) -> bool:
    r = entry.rules
    return all(s % r.size_multiple == 0 and r.min_side <= s <= r.max_side for s in (width, height))


def fit_size(entry: ModelEntry, width: int, height: int) -> tuple[int, int]:
    """The source size if it fits the model's rules, else the nearest size that does (aspect kept as
    closely as the multiple allows; scaled into the side limits first)."""
    if fits(entry, width, height):
        return width, height
    r = entry.rules
    scale = min(1.0, r.max_side / max(width, height))
    scale = max(scale, r.min_side / min(width, height))
    m = r.size_multiple

    def side(v: float) -> int:
        # Halves round up (round() would send 80 to 64 rather than 96 for a multiple of 32).
        return int(min(r.max_side // m * m, max(-(-r.min_side // m) * m, math.floor(v / m + 0.5) * m)))

    return side(width * scale), side(height * scale)


def stitch(source: np.ndarray, continuation: np.ndarray) -> np.ndarray:
    """Source frames + continuation frames without the first (the seam); the continuation is resized
    to the source's size when the model ran it at another size."""
    h, w = source.shape[1:3]
    if continuation.shape[1:3] != (h, w):
        continuation = np.stack([np.asarray(Image.fromarray(f).resize((w, h), Image.Resampling.LANCZOS))
                                 for f in continuation])
    return np.ascontiguousarray(np.concatenate([source, continuation[1:]], axis=0))


def stitch_onto(video: Path, continuation: np.ndarray) -> np.ndarray:
    """``stitch`` with the source decoded from ``video``."""
    source = read_frames(video)
    out = stitch(source, continuation)
    log.info("stitched %d source + %d continuation frames - 1 seam = %d", len(source), len(continuation), len(out))
    return out
