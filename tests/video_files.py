"""Writing small test videos with PyAV: frames whose colour encodes their index, optional sound."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np


def level(i: int) -> int:
    """Frame ``i``'s grey level: far enough apart to survive H.264 at small sizes."""
    return (i * 14) % 250


def write_video(path: Path, frames: int, fps: int, width: int = 80, height: int = 48, codec: str = "h264",
                audio: bool = False, pix_fmt: str = "yuv420p") -> Path:
    with av.open(str(path), "w") as c:
        s = c.add_stream(codec, rate=fps)
        s.width, s.height, s.pix_fmt = width, height, pix_fmt
        a = None
        if audio:
            a = c.add_stream("aac", rate=16000)
            a.layout = "mono"
        if frames == 0:
            c.start_encoding()  # a header with a video stream and no frames
        for i in range(frames):
            img = np.full((height, width, 3), level(i), np.uint8)
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
        if a is not None:
            samples = int(16000 * frames / fps)
            t = np.arange(samples, dtype=np.float32) / 16000
            wave = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None, :]
            frame = av.AudioFrame.from_ndarray(wave, format="fltp", layout="mono")
            frame.sample_rate = 16000
            frame.pts = 0
            frame.time_base = Fraction(1, 16000)
            for p in a.encode(frame):
                c.mux(p)
            for p in a.encode():
                c.mux(p)
    return path
