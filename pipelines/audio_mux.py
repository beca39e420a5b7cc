"""Putting an ``AudioTrack`` into a video container next to its frames (PyAV): AAC in MP4 and H.264
MOV, Opus in WebM, 16-bit PCM next to ProRes (the editing intermediate stays lossless).

The whole track is encoded up front (audio is small next to video) and its packets are handed to
the muxer as the video's clock passes them, so the file interleaves without buffering the video.
"""

from __future__ import annotations

from typing import cast

import av
import numpy as np
from av.audio.stream import AudioStream
from av.container import OutputContainer

from pipelines.audio import AudioTrack, to_layout

# Opus only runs at 48 kHz. AAC keeps a 44.1/48 kHz track's rate and resamples any other to 48 kHz:
# its encoder pads the last frame to 1024 samples, which decoders play out (64 ms at 16 kHz, 43 ms
# at 24 kHz: more than a video frame), while at 48 kHz the tail stays under 21 ms. PCM keeps any rate.
_FIXED_RATE = {"libopus": 48000}
_AAC_RATES = (44100, 48000)
_SAMPLE_FORMAT = {"aac": "fltp", "libopus": "flt", "pcm_s16le": "s16"}
# Samples per encoder frame fed at a time (AAC's frame is 1024; the encoders' FIFOs re-chunk anyway).
_CHUNK = 1024


def audio_codec_for(container: str, video_codec: str) -> str:
    if container == "webm":
        return "libopus"
    if video_codec == "prores":
        return "pcm_s16le"
    return "aac"


def encode_track(container: OutputContainer, track: AudioTrack, codec: str) -> list[av.Packet]:
    """Add an audio stream (stereo; mono is upmixed) and encode ``track`` into it; returns the packets
    in presentation order, to be muxed by ``AudioInterleaver``."""
    rate = _FIXED_RATE.get(codec, track.sample_rate)
    if codec == "aac" and rate not in _AAC_RATES:
        rate = 48000
    track = to_layout(track, rate, 2)
    stream = cast(AudioStream, container.add_stream(codec, rate=rate))
    stream.layout = "stereo"
    fmt = _SAMPLE_FORMAT[codec]
    stream.format = fmt
    packets: list[av.Packet] = []
    samples = track.samples
    for start in range(0, track.num_samples, _CHUNK):
        part = samples[:, start:start + _CHUNK]
        if fmt == "fltp":
            arr = np.ascontiguousarray(part, dtype=np.float32)
        elif fmt == "flt":
            arr = np.ascontiguousarray(part.T.reshape(1, -1), dtype=np.float32)
        else:
            arr = np.ascontiguousarray((part.T * 32767.0).round().astype(np.int16).reshape(1, -1))
        frame = av.AudioFrame.from_ndarray(arr, format=fmt, layout="stereo")
        frame.sample_rate = rate
        frame.pts = start
        packets.extend(stream.encode(frame))
    packets.extend(stream.encode(None))
    return packets



class AudioInterleaver:
    """Hands audio packets to the muxer up to a video timestamp, then the rest at the end."""

    def __init__(self, container: OutputContainer, packets: list[av.Packet]) -> None:
        self._out = container
        self._packets = packets

    def up_to(self, seconds: float) -> None:
        while self._packets:
            p = self._packets[0]
            if p.pts is None or p.time_base is None or float(p.pts * p.time_base) > seconds:
                return
            self._out.mux(self._packets.pop(0))

    def rest(self) -> None:
        for p in self._packets:
            self._out.mux(p)
        self._packets = []
