"""Shot extension by last-frame chaining: the source's last frame conditions an image-to-video
continuation, and the result is the source followed by the continuation without its first frame.

Seam rule: the continuation's first frame reproduces its conditioning frame (the source's last
frame), so keeping both would freeze the picture for one frame; the continuation's copy is dropped
and the source's own last frame is kept. Stitched length = source + continuation − 1.

Size rule: the continuation runs at the source's size when that size fits the model's rules;
otherwise at the nearest size that does (``fit_size``), and its frames are resized back to the
source's size before stitching.

Audio rule: the soundtrack is cut at the same seam. The stitched audio is the source's audio (its
whole duration) followed by the continuation's from ``1 / fps`` on (the dropped frame's time), with
a short equal-power crossfade at the join (``pipelines.audio.join_at_seam``). A side without audio
contributes silence of its length, so the sound stays in sync with the frames either way. Torch-free.
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

from pipelines.audio import AudioTrack, fit_duration, join_at_seam, read_audio, to_layout
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


def stitch_audio(video: Path, fps: int, source_frames: int, continuation: AudioTrack | None,
                 continuation_frames: int) -> AudioTrack | None:
    """The stitched clip's soundtrack (see the module's audio rule); None when neither side has audio."""
    source = read_audio(video)
    if source is None and continuation is None:
        return None
    if source is not None and continuation is not None:
        # The source's track was decoded from its file (AAC may have resampled it): the model's rate wins.
        source = to_layout(source, continuation.sample_rate, continuation.channels)
    source_s, cont_s = source_frames / fps, continuation_frames / fps
    ref = source or continuation
    assert ref is not None
    silent = AudioTrack(np.zeros((ref.channels, 0), np.float32), ref.sample_rate)
    src = fit_duration(source or silent, source_s)
    cont = fit_duration(continuation or silent, cont_s)
    joined = join_at_seam(src, cont, seam_s=1 / fps)
    log.info("stitched audio: %.3fs source + %.3fs continuation - %.3fs seam", source_s, cont_s, 1 / fps)
    return fit_duration(joined, (source_frames + continuation_frames - 1) / fps)
