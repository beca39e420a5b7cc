"""Fixtures for the post-stage tests: small synthetic clips and key-correct random weight files."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest


def square_clip(n: int, speed: int = 4, size: tuple[int, int] = (128, 96), side: int = 20) -> np.ndarray:
    """A bright square moving right at constant ``speed`` px/frame over a dark background."""
    w, h = size
    frames = np.full((n, h, w, 3), 30, np.uint8)
    top = (h - side) // 2
    for i in range(n):
        x = 8 + i * speed
        frames[i, top : top + side, x : x + side] = 230
    return frames


@pytest.fixture
def clip() -> np.ndarray:
    return square_clip(9)


@pytest.fixture(scope="session")
def wav_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2 s of a 440 Hz tone, mono 16-bit 44.1 kHz: the encoder must resample and upmix it."""
    path = tmp_path_factory.mktemp("audio") / "tone.wav"
    sr = 44100
    t = np.arange(sr * 2) / sr
    pcm = (np.sin(2 * np.pi * 440 * t) * 12000).astype(np.int16)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes(pcm.tobytes())
    return path
