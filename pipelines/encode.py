"""Encoding frames to video files with PyAV, and probing them back. Torch-free."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

# x264's bitstream depends on its thread count, and "auto" follows the cores this process may use:
# the same frames would give different bytes (and pixels) on another machine or CPU set. A fixed
# count makes a take's file reproducible anywhere; x264 caps useful frame threads well below this
# at our sizes anyway.
ENCODER_THREADS = 8


@dataclass(frozen=True)
class VideoInfo:
    frames: int
    width: int
    height: int
    fps: float
    codec: str
    pix_fmt: str
    duration_s: float


def _even(frame: np.ndarray) -> np.ndarray:
    """yuv420p needs even sides: replicate the last row/column rather than cropping content."""
    h, w = frame.shape[:2]
    if h % 2 == 0 and w % 2 == 0:
        return frame
    return np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")


def encode_mp4(
    frames: Iterable[np.ndarray],
    path: Path,
    fps: float,
    crf: int = 18,
    preset: str = "medium",
) -> Path:
    """Write RGB uint8 frames (H, W, 3) as H.264 yuv420p MP4 with the index up front (+faststart),
    so players and browsers start before the whole file arrives."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    count = 0
    with av.open(str(tmp), mode="w", format="mp4", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(crf), "preset": preset}
        stream.codec_context.thread_count = ENCODER_THREADS
        for frame in frames:
            frame = _even(np.ascontiguousarray(frame, dtype=np.uint8))
            if count == 0:
                stream.height, stream.width = frame.shape[:2]
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
            count += 1
        if count == 0:
            raise ValueError("no frames to encode")
        for packet in stream.encode():
            container.mux(packet)
    tmp.replace(path)  # readers never see a half-written file
    return path


def probe(path: Path) -> VideoInfo:
    """Decode every frame (not just the header) so a truncated file is caught."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        n = sum(1 for _ in container.decode(stream))
        fps = float(stream.average_rate or stream.guessed_rate or 0)
        return VideoInfo(
            frames=n, width=stream.codec_context.width, height=stream.codec_context.height, fps=fps,
            codec=stream.codec_context.name, pix_fmt=stream.codec_context.pix_fmt or "",
            duration_s=n / fps if fps else 0.0,
        )


def read_frames(path: Path) -> np.ndarray:
    """All frames as (F, H, W, 3) uint8 RGB."""
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
