"""What a generation produces: the media a family's pipeline returns, and the result ``generate``
hands back (the media, the spec that ran, where the weights came from, timings and what ran).
Torch-free: the output writer and the post stage read it without importing the model code."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pipelines.core.spec import ResolvedSpec
from pipelines.weights import WeightsLocation


@dataclass(frozen=True)
class AudioTrack:
    """A soundtrack generated with the frames (families with an audio branch)."""

    samples: np.ndarray  # (samples, channels) float32 in [-1, 1]
    sample_rate: int


@dataclass(frozen=True)
class GeneratedMedia:
    """One pipeline call's output, as a family adapter returns it."""

    frames: np.ndarray  # (frames, height, width, 3) uint8
    audio: AudioTrack | None = None


@dataclass
class VideoResult:
    frames: np.ndarray  # (frames, height, width, 3) uint8
    spec: ResolvedSpec
    weights: WeightsLocation
    device: str
    dtype: str
    timings: dict[str, float]
    step_seconds: list[float] = field(default_factory=list)
    peak_memory_bytes: int | None = None
    # What ran: memory strategy, attention backend, compile, speed level and its cache settings.
    optimizations: dict[str, Any] = field(default_factory=dict)
    audio: AudioTrack | None = None

    @property
    def fps(self) -> int:
        return self.spec.fps


def to_uint8(video: Any) -> np.ndarray:
    """diffusers' ``output_type="np"`` frames (float in [0, 1]) to (F, H, W, 3) uint8."""
    arr = np.asarray(video)
    if arr.dtype != np.uint8:
        arr = (np.clip(arr, 0.0, 1.0) * 255.0).round().astype(np.uint8)
    return np.ascontiguousarray(arr)
