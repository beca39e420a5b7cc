"""Picture agreement between two runs of the same seed: PSNR and SSIM over all frames."""

from __future__ import annotations

import math

import numpy as np


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """dB over uint8 frames; ``inf`` for identical videos."""
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(255.0**2 / mse)


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM over frames (scikit-image's implementation, colour channels averaged)."""
    from skimage.metrics import structural_similarity

    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    side = min(a.shape[1], a.shape[2])
    win = min(7, side if side % 2 else side - 1)
    scores = [structural_similarity(fa, fb, channel_axis=-1, data_range=255, win_size=win)
              for fa, fb in zip(a, b, strict=True)]
    return float(np.mean(scores))


def finite_or_none(value: float) -> float | None:
    """JSON has no infinity: identical outputs are recorded as null with psnr_identical=true."""
    return None if math.isinf(value) else value
