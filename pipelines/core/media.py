"""The media one pipeline call produces, as a family adapter hands it back: frames, and for
families with an audio branch a soundtrack beside them. Torch-free (numpy only)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class AudioTrack:
    """A soundtrack generated with the frames."""

    samples: np.ndarray  # (samples, channels) float32 in [-1, 1]
    sample_rate: int


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
