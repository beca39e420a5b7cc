"""Source videos for video-to-video: probed within limits, decoded, resampled to the model's frame
rate and fitted to its size by the same ``cover``/``contain`` rules as images. Torch-free (PyAV,
numpy, Pillow), so the API checks an upload before anything is queued.

Limits are checked in the cheapest order: codec and per-frame pixels from the stream header, the
claimed duration from the container, then the real frame count while decoding (a header can lie;
decoding stops at the first frame past the limit, so a hostile file costs at most that many frames).

Resampling rule: output frame ``i`` is the source frame nearest in time to ``i / fps``; the output
spans the source's duration, ``floor((n - 1) * fps / source_fps) + 1`` frames for ``n`` source frames,
so its first and last frames are the source's own first and last moments.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Literal

import av
import numpy as np
from PIL import Image

from pipelines.core.images import fit_image

Fit = Literal["cover", "contain"]

# What PyAV decodes here and real cameras, phones and editors produce. Anything else is a 415 naming
# these, not an obscure decoder error in a worker.
ACCEPTED_CODECS = ("h264", "hevc", "vp8", "vp9", "av1", "mpeg4", "prores", "mjpeg")


class SourceVideoError(ValueError):
    """A source video vidserve will not use. ``kind`` decides the HTTP status: ``too_large`` (413),
    ``unsupported`` (415) or ``invalid`` (400); ``limit`` names the limit that was passed."""

    def __init__(self, kind: Literal["too_large", "unsupported", "invalid"], message: str,
                 limit: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.limit = limit


@dataclass(frozen=True)
class VideoLimits:
    """What a source video may be. Defaults fit any model vidserve serves with room to spare."""

    max_seconds: float = 60.0
    max_frames: int = 2400
    max_pixels: int = 4096 * 2160
    codecs: tuple[str, ...] = ACCEPTED_CODECS


@dataclass(frozen=True)
class VideoProbe:
    """A source video, fully decoded once: what resampling and provenance need."""

    width: int
    height: int
    fps: float
    frames: int
    codec: str
    has_audio: bool

    @property
    def seconds(self) -> float:
        return self.frames / self.fps


def probe_video(path: Path, limits: VideoLimits | None = None) -> VideoProbe:
    """Check ``path`` against ``limits`` and decode every frame once (a truncated file fails here,
    not in a worker). Raises SourceVideoError naming the limit."""
    limits = limits or VideoLimits()
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise SourceVideoError("invalid", "the file has no video stream")
            stream = container.streams.video[0]
            codec = stream.codec_context.name
            if codec not in limits.codecs:
                raise SourceVideoError("unsupported", f"codec {codec!r} is not accepted; send one of "
                                       f"{', '.join(limits.codecs)} (codecs)", "codecs")
            _check_pixels(stream.codec_context.width, stream.codec_context.height, limits)
            rate = stream.average_rate or stream.guessed_rate or Fraction(0)
            fps = float(rate)
            if not 1.0 <= fps <= 240.0:
                raise SourceVideoError("invalid", f"frame rate {fps:.3f} is outside 1-240 fps")
            claimed = _claimed_seconds(container, stream)
            if claimed is not None and claimed > limits.max_seconds + 1e-6:
                raise SourceVideoError("too_large", f"the video is {claimed:.2f} s long, over the "
                                       f"{limits.max_seconds:g} s limit (max_seconds)", "max_seconds")
            has_audio = bool(container.streams.audio)
            count, width, height = 0, 0, 0
            try:
                for frame in container.decode(stream):
                    count += 1
                    width, height = frame.width, frame.height
                    if count == 1:
                        _check_pixels(width, height, limits)
                    if count > limits.max_frames:
                        raise SourceVideoError("too_large", f"the video has more than {limits.max_frames} frames "
                                               "(max_frames)", "max_frames")
            except av.EOFError:
                if count == 0:  # a stream header with no packets behind it
                    raise SourceVideoError("invalid", "the video has no frames") from None
                raise
    except SourceVideoError:
        raise
    except av.EOFError as exc:
        raise SourceVideoError("invalid", "the video has no frames (the file ends before its first one)") from exc
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise SourceVideoError("invalid", f"not a decodable video ({exc.__class__.__name__}: {exc})") from exc
    if count == 0:
        raise SourceVideoError("invalid", "the video has no frames")
    probe = VideoProbe(width, height, fps, count, codec, has_audio)
    if probe.seconds > limits.max_seconds + 1e-6:
        raise SourceVideoError("too_large", f"the video is {probe.seconds:.2f} s long, over the "
                               f"{limits.max_seconds:g} s limit (max_seconds)", "max_seconds")
    return probe


def _check_pixels(width: int, height: int, limits: VideoLimits) -> None:
    if width * height > limits.max_pixels:
        raise SourceVideoError("too_large", f"frames are {width}x{height} = {width * height} pixels, over the "
                               f"{limits.max_pixels} limit (max_pixels)", "max_pixels")


def _claimed_seconds(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000
    return None


def resampled_count(source_frames: int, source_fps: float, fps: int) -> int:
    """How many frames the source spans at ``fps`` (see the module's resampling rule)."""
    return math.floor((source_frames - 1) * fps / source_fps + 1e-9) + 1


def source_indices(source_frames: int, source_fps: float, fps: int, count: int) -> list[int]:
    """For each of ``count`` output frames, the index of the source frame nearest its time."""
    return [min(source_frames - 1, math.floor(i * source_fps / fps + 0.5)) for i in range(count)]


def load_source_frames(path: Path, fps: int, count: int, width: int, height: int,
                       fit: Fit = "cover") -> list[Image.Image]:
    """The first ``count`` frames of the source resampled to ``fps``, each fitted to ``width``x``height``.
    Holds only the frames it keeps."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        source_fps = float(stream.average_rate or stream.guessed_rate or fps)
        frames = stream.frames or 0
        wanted = source_indices(max(frames, 1 << 30), source_fps, fps, count)
        keep: dict[int, Image.Image] = {}
        last: Image.Image | None = None
        want = set(wanted)
        for i, frame in enumerate(container.decode(stream)):
            last = frame.to_image()
            if i in want:
                keep[i] = fit_image(last.convert("RGB"), width, height, fit)
            if i >= wanted[-1]:
                break
    if last is None:
        raise SourceVideoError("invalid", "the video has no frames")
    # A source shorter than its header claimed: hold its last frame rather than fail a job.
    tail = fit_image(last.convert("RGB"), width, height, fit)
    return [keep.get(i, tail) for i in wanted]


def frames_array(images: list[Image.Image]) -> np.ndarray:
    """(F, H, W, 3) uint8, the shape ``VideoResult.frames`` holds."""
    return np.stack([np.asarray(img, dtype=np.uint8) for img in images])
