"""Encoding a frame stream to a file: codec, rate control, container and an optional audio track.

PyAV's wheel carries libx264, libx265, libsvtav1, libvpx-vp9, prores_ks, aac and libopus, so every
codec here runs without a system FFmpeg. H100/H200 have no NVENC, so encoding is CPU work either way.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import cast

import av
import numpy as np
from av.container import OutputContainer
from av.video.stream import VideoStream

from pipelines.audio import fit_duration, read_audio, to_layout
from pipelines.audio_mux import AudioInterleaver, audio_codec_for, encode_track

# Exports resample audio to 48 kHz: what YouTube, TikTok and editing timelines expect.
DELIVERY_RATE = 48000
ENCODERS = {"h264": "libx264", "hevc": "libx265", "av1": "libsvtav1", "vp9": "libvpx-vp9", "prores": "prores_ks"}
# What "crf 18 / medium" means differs per encoder; these are each one's "visually lossless-ish" default.
DEFAULT_CRF = {"h264": 18, "hevc": 20, "av1": 28, "vp9": 31}
DEFAULT_PRESET = {"h264": "medium", "hevc": "medium", "av1": "8"}


@dataclass(frozen=True)
class EncodeSettings:
    codec: str = "h264"
    container: str = "mp4"
    fps: Fraction = Fraction(24)
    crf: int | None = None
    bitrate: int | None = None
    encoder_preset: str | None = None
    audio: Path | None = None
    # The audio's duration: the source clip's (interpolation and fps conversion change the frame count,
    # never the soundtrack). None: the video's own frames / fps.
    audio_seconds: float | None = None


def _video_options(s: EncodeSettings) -> dict[str, object]:
    opts: dict[str, object] = {}
    if s.codec == "prores":
        return {"profile": "3"}  # 422 HQ, the usual editing intermediate
    preset = s.encoder_preset or DEFAULT_PRESET.get(s.codec)
    if s.codec == "vp9":
        opts.update({"deadline": "good", "cpu-used": preset or "4", "row-mt": "1"})
    elif preset:
        opts["preset"] = preset
    if s.bitrate is None:
        opts["crf"] = str(s.crf if s.crf is not None else DEFAULT_CRF[s.codec])
        if s.codec == "vp9":
            opts["b"] = "0"  # libvpx needs b=0 for pure constant-quality mode
    elif s.codec in ("h264", "hevc"):
        # VBV caps the peaks so the file stays inside the platform's bitrate range
        opts.update({"maxrate": str(int(s.bitrate * 1.5)), "bufsize": str(s.bitrate * 2)})
    if s.codec == "hevc":
        opts["x265-params"] = "log-level=error"
    return opts


def _audio_packets(path: Path, container: OutputContainer, codec: str, seconds: float | None) -> list[av.Packet]:
    """Decode the audio file, fit it to ``seconds`` (the clip's duration: cut, or padded with silence)
    and encode it at 48 kHz stereo, the delivery platforms' rate. Audio is small next to video, so
    holding its packets lets the muxer interleave them by time."""
    track = read_audio(path)
    if track is None:
        raise ValueError(f"{path.name} has no audio stream")
    track = to_layout(track, DELIVERY_RATE, 2)
    if seconds is not None:
        track = fit_duration(track, seconds)
    return encode_track(container, track, codec)


def encode_stream(
    frames: Iterable[np.ndarray], path: Path, settings: EncodeSettings, total_frames: int | None = None
) -> int:
    """Encode RGB uint8 frames; returns the frame count. Writes to ``path.part`` and renames at the
    end so readers never see a half-written file. mp4/mov get +faststart for progressive playback."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    fmt = {"mp4": "mp4", "webm": "webm", "mov": "mov"}[settings.container]
    options = {"movflags": "+faststart"} if fmt in ("mp4", "mov") else {}
    count = 0
    if settings.codec == "av1":
        # SVT-AV1 prints a banner per stream to stderr unless told to log errors only
        os.environ.setdefault("SVT_LOG", "1")
    try:
        with av.open(str(tmp), mode="w", format=fmt, options=options) as out:
            vs = cast(VideoStream, out.add_stream(ENCODERS[settings.codec], rate=settings.fps))
            vs.pix_fmt = "yuv422p10le" if settings.codec == "prores" else "yuv420p"
            if settings.bitrate is not None:
                vs.bit_rate = settings.bitrate
            vs.options = dict(_video_options(settings))
            if settings.codec == "hevc" and fmt in ("mp4", "mov"):
                vs.codec_tag = "hvc1"  # Apple players refuse HEVC tagged hev1
            sound: AudioInterleaver | None = None
            for frame in frames:
                frame = np.ascontiguousarray(frame, dtype=np.uint8)
                if count == 0:
                    h, w = frame.shape[:2]
                    if h % 2 or w % 2:
                        raise ValueError(f"frame size {w}x{h} must be even for {vs.pix_fmt}")
                    vs.width, vs.height = w, h
                    if settings.audio is not None:
                        seconds = settings.audio_seconds
                        if seconds is None and total_frames:
                            seconds = float(total_frames / settings.fps)
                        acodec = audio_codec_for(fmt, settings.codec)
                        sound = AudioInterleaver(out, _audio_packets(settings.audio, out, acodec, seconds))
                vf = av.VideoFrame.from_ndarray(frame, format="rgb24")
                vf.pts = count
                for p in vs.encode(vf):
                    out.mux(p)
                # hand over audio up to the current video time so the muxer can interleave without
                # buffering the whole video
                if sound is not None:
                    sound.up_to(float(count / settings.fps))
                count += 1
            if count == 0:
                raise ValueError("no frames to encode")
            for p in vs.encode(None):
                out.mux(p)
            if sound is not None:
                sound.rest()
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return count
