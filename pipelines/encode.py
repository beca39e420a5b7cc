"""Encoding frames to video files with PyAV, and probing them back. Torch-free."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from pipelines.audio import AudioTrack, read_audio
from pipelines.audio_mux import AudioInterleaver, encode_track

# x264's thread count decides how it slices frames and looks ahead, and "auto" follows the cores this
# process may use: the same frames would be encoded with other settings on another machine or CPU set.
# A fixed count keeps the settings the same everywhere (x264 caps it by frame height anyway). It does
# not make the bytes identical: this x264 was seen to vary a few bytes in one P frame between runs, even
# single-threaded, so the sidecar's exact check is frames_sha256 (the frames before encoding).
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
    # The first audio stream, when there is one (decoded, not the header's claim).
    audio_codec: str | None = None
    audio_sample_rate: int | None = None
    audio_channels: int | None = None
    audio_duration_s: float | None = None


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
    audio: AudioTrack | None = None,
) -> Path:
    """Write RGB uint8 frames (H, W, 3) as H.264 yuv420p MP4 with the index up front (+faststart),
    so players and browsers start before the whole file arrives. ``audio`` becomes an AAC track at
    its own sample rate, starting with the first frame (the caller fits its duration to the video's)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    count = 0
    with av.open(str(tmp), mode="w", format="mp4", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(crf), "preset": preset}
        stream.codec_context.thread_count = ENCODER_THREADS
        sound = AudioInterleaver(container, encode_track(container, audio, "aac") if audio is not None else [])
        for frame in frames:
            frame = _even(np.ascontiguousarray(frame, dtype=np.uint8))
            if count == 0:
                stream.height, stream.width = frame.shape[:2]
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
            sound.up_to(count / fps)
            count += 1
        if count == 0:
            raise ValueError("no frames to encode")
        for packet in stream.encode():
            container.mux(packet)
        sound.rest()
    tmp.replace(path)  # readers never see a half-written file
    return path


def probe(path: Path) -> VideoInfo:
    """Decode every frame (not just the header) so a truncated file is caught."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        n = sum(1 for _ in container.decode(stream))
        fps = float(stream.average_rate or stream.guessed_rate or 0)
        width, height = stream.codec_context.width, stream.codec_context.height
        codec, pix_fmt = stream.codec_context.name, stream.codec_context.pix_fmt or ""
    audio = read_audio(path)
    with av.open(str(path)) as container:
        acodec = container.streams.audio[0].codec_context.name if container.streams.audio else None
    return VideoInfo(
        frames=n, width=width, height=height, fps=fps, codec=codec, pix_fmt=pix_fmt,
        duration_s=n / fps if fps else 0.0, audio_codec=acodec,
        audio_sample_rate=audio.sample_rate if audio else None, audio_channels=audio.channels if audio else None,
        audio_duration_s=audio.duration_s if audio else None,
    )


def read_frames(path: Path) -> np.ndarray:
    """All frames as (F, H, W, 3) uint8 RGB."""
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
