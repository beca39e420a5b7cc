"""The media one pipeline call produces, as a family adapter hands it back: frames, and for
families with an audio branch a soundtrack beside them (``AudioTrack``; the operations on it are
``pipelines.audio``). Torch-free (numpy only)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class AudioTrack:
    """Audio samples as float32 in [-1, 1], shape (channels, samples), at ``sample_rate`` Hz."""

    samples: np.ndarray
    sample_rate: int

    def __post_init__(self) -> None:
        if self.samples.ndim != 2 or self.samples.shape[0] not in (1, 2):
            raise ValueError(f"audio samples must be (1 or 2 channels, n), got shape {self.samples.shape}")
        if not 8000 <= self.sample_rate <= 192_000:
            raise ValueError(f"audio sample rate {self.sample_rate} is outside 8000-192000 Hz")

    @classmethod
    def from_array(cls, samples: np.ndarray, sample_rate: int) -> AudioTrack:
        """Any float array a model returns: (n,), (channels, n) or (n, channels) for mono/stereo."""
        arr = np.asarray(samples, dtype=np.float32)
        if arr.ndim == 1:
            arr = arr[None, :]
        elif arr.ndim == 2 and arr.shape[0] > 2 and arr.shape[1] <= 2:
            arr = arr.T
        arr = np.nan_to_num(arr, nan=0.0, posinf=1.0, neginf=-1.0)
        return cls(np.ascontiguousarray(np.clip(arr, -1.0, 1.0)), int(sample_rate))

    @property
    def channels(self) -> int:
        return int(self.samples.shape[0])

    @property
    def num_samples(self) -> int:
        return int(self.samples.shape[1])

    @property
    def duration_s(self) -> float:
        return self.num_samples / self.sample_rate

    def pcm16(self) -> np.ndarray:
        """Interleaved int16 samples (samples, channels), what a WAV file holds."""
        return np.ascontiguousarray((self.samples.T * 32767.0).round().astype(np.int16))

    def record(self) -> dict[str, object]:
        """What the sidecar says about the audio (its file's sha256 is added by the writer)."""
        return {"sample_rate": self.sample_rate, "channels": self.channels, "samples": self.num_samples,
                "duration_s": round(self.duration_s, 6)}


@dataclass(frozen=True)
class GeneratedMedia:
    frames: np.ndarray  # (frames, height, width, 3) uint8
    audio: AudioTrack | None = None


def to_uint8(video: Any) -> np.ndarray:
    """diffusers' ``output_type="np"`` frames (float in [0, 1]) to (F, H, W, 3) uint8."""
    arr = np.asarray(video)
    if arr.dtype != np.uint8:
        arr = (np.clip(arr, 0.0, 1.0) * 255.0).round().astype(np.uint8)
    return np.ascontiguousarray(arr)
