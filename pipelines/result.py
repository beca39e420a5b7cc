"""What ``generate`` hands back: the media, the spec that ran, where the weights came from, timings
and what ran. Torch-free: the output writer and the post stage read it without the model code."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pipelines.core.media import AudioTrack
from pipelines.core.spec import ResolvedSpec
from pipelines.weights import WeightsLocation


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
    # A soundtrack, for families that generate one with the frames (none today).
    audio: AudioTrack | None = None

    @property
    def fps(self) -> int:
        return self.spec.fps
