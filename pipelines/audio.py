"""A generation's soundtrack: one typed shape (``AudioTrack``) and the few operations every later
stage needs — fit to the video's duration, join at an extension's seam, mix an uploaded track in,
and read/write WAV. Torch-free (numpy, the stdlib ``wave`` module and PyAV).

Sync rule: a clip of ``frames`` frames at ``fps`` lasts ``frames / fps`` seconds, and its audio is
trimmed or padded with silence to exactly that many samples, so both streams start at 0 and end
together (the MP4's AAC track then matches to within one AAC frame, well inside one video frame).
"""

from __future__ import annotations

import wave
from pathlib import Path

import av
import numpy as np

from pipelines.core.media import AudioTrack

__all__ = ["AudioTrack", "fit_duration", "join_at_seam", "mix", "read_audio", "to_layout", "tone", "write_wav"]

# Extension seam: the continuation's audio is faded in over the source's tail for this long. Long
# enough that the join makes no click, short enough not to smear a transient across the cut.
CROSSFADE_S = 0.05


def samples_for(seconds: float, sample_rate: int) -> int:
    return round(seconds * sample_rate)


def fit_duration(track: AudioTrack, seconds: float) -> AudioTrack:
    """Trim, or pad with silence at the end, to exactly ``seconds`` (the video's duration)."""
    n = samples_for(seconds, track.sample_rate)
    s = track.samples
    if s.shape[1] >= n:
        return AudioTrack(np.ascontiguousarray(s[:, :n]), track.sample_rate)
    return AudioTrack(np.pad(s, ((0, 0), (0, n - s.shape[1]))), track.sample_rate)


def to_layout(track: AudioTrack, sample_rate: int, channels: int) -> AudioTrack:
    """Resample (PyAV's swresample) and up/down-mix; a track already in that layout is returned as is."""
    if track.sample_rate == sample_rate and track.channels == channels:
        return track
    s = track.samples
    if track.channels != channels:
        s = np.repeat(s, 2, axis=0) if channels == 2 else s.mean(axis=0, keepdims=True)
    if track.sample_rate == sample_rate:
        return AudioTrack(np.ascontiguousarray(s, dtype=np.float32), sample_rate)
    layout = "stereo" if channels == 2 else "mono"
    frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(s, dtype=np.float32), format="fltp", layout=layout)
    frame.sample_rate = track.sample_rate
    resampler = av.AudioResampler(format="fltp", layout=layout, rate=sample_rate)
    parts = [f.to_ndarray() for f in resampler.resample(frame)] + [f.to_ndarray() for f in resampler.resample(None)]
    out = np.concatenate(parts, axis=1) if parts else np.zeros((channels, 0), np.float32)
    return AudioTrack.from_array(out, sample_rate)


def join_at_seam(source: AudioTrack, continuation: AudioTrack, seam_s: float,
                 crossfade_s: float = CROSSFADE_S) -> AudioTrack:
    """An extension's soundtrack: the source's audio, then the continuation's from ``seam_s`` on
    (the same cut as the frames: the continuation's first frame is dropped, so its first
    ``1 / fps`` seconds go too). Around the cut the continuation fades in over the source's tail
    (equal-power), so the join makes no click. The continuation is brought to the source's layout."""
    cont = to_layout(continuation, source.sample_rate, source.channels)
    cut = samples_for(seam_s, cont.sample_rate)
    fade = min(samples_for(crossfade_s, source.sample_rate), source.num_samples, cut)
    head = source.samples
    tail = cont.samples[:, cut:]
    if fade == 0:
        return AudioTrack(np.ascontiguousarray(np.concatenate([head, tail], axis=1)), source.sample_rate)
    # The fade region: the source's last ``fade`` samples against the continuation's audio just
    # before the cut, so the continuation's timing after the cut is unchanged.
    ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
    fade_out, fade_in = np.cos(ramp * np.pi / 2), np.sin(ramp * np.pi / 2)
    mixed = head[:, -fade:] * fade_out + cont.samples[:, cut - fade:cut] * fade_in
    out = np.concatenate([head[:, :-fade], mixed, tail], axis=1)
    return AudioTrack.from_array(out, source.sample_rate)


def mix(base: AudioTrack, overlay: AudioTrack, level_db: float) -> AudioTrack:
    """``overlay`` at ``level_db`` (0: as it is; −6: about half amplitude) added to ``base``, over
    ``base``'s duration and layout; the sum is clipped to [-1, 1]."""
    over = fit_duration(to_layout(overlay, base.sample_rate, base.channels), base.duration_s)
    gain = np.float32(10.0 ** (level_db / 20.0))
    return AudioTrack.from_array(base.samples + over.samples * gain, base.sample_rate)


def write_wav(track: AudioTrack, path: Path) -> Path:
    """16-bit PCM WAV, written to ``.part`` and renamed: readers never see half a file."""
    path = Path(path)
    tmp = path.with_name(path.name + ".part")
    with wave.open(str(tmp), "wb") as w:
        w.setnchannels(track.channels)
        w.setsampwidth(2)
        w.setframerate(track.sample_rate)
        w.writeframes(track.pcm16().tobytes())
    tmp.replace(path)
    return path


def read_audio(path: Path, stream: int = 0) -> AudioTrack | None:
    """The audio of any file PyAV decodes (WAV, MP4's AAC, ...), at its own rate; None when it has no
    audio stream. More than two channels are mixed down to stereo."""
    with av.open(str(path)) as container:
        if len(container.streams.audio) <= stream:
            return None
        src = container.streams.audio[stream]
        rate = src.codec_context.sample_rate or src.rate
        layout = "mono" if src.codec_context.channels == 1 else "stereo"
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
        parts: list[np.ndarray] = []
        for frame in container.decode(src):
            parts.extend(f.to_ndarray() for f in resampler.resample(frame))
        parts.extend(f.to_ndarray() for f in resampler.resample(None))
    channels = 1 if layout == "mono" else 2
    samples = np.concatenate(parts, axis=1) if parts else np.zeros((channels, 0), np.float32)
    return AudioTrack.from_array(samples, int(rate))


def tone(seconds: float, sample_rate: int = 48000, freq: float = 440.0, channels: int = 2,
         amplitude: float = 0.3) -> AudioTrack:
    """A sine tone: the stand-in soundtrack for tests and for models' audio stages benchmarked alone."""
    t = np.arange(samples_for(seconds, sample_rate), dtype=np.float64) / sample_rate
    wave_ = (np.sin(2 * np.pi * freq * t) * amplitude).astype(np.float32)
    return AudioTrack(np.ascontiguousarray(np.repeat(wave_[None, :], channels, axis=0)), sample_rate)
