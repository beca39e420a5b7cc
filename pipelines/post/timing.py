"""Frame timing for rate conversion, exact in rational arithmetic.

Output frame ``k`` sits at ``k / fps_out`` seconds; its source position is ``k * fps_in / fps_out``
frames, split into the pair index ``i`` and the fraction ``t`` between frame ``i`` and ``i + 1``.
Output stops at the last source frame, so a factor ``N`` gives ``(F - 1) * N + 1`` frames and the
first and last frames are the source's own (no extrapolation past the clip).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction


def as_rate(fps: float | Fraction) -> Fraction:
    # 23.976 and 29.97 arrive as floats; 1001 denominators keep NTSC rates exact.
    return Fraction(fps).limit_denominator(1001)


@dataclass(frozen=True)
class Slot:
    """One output frame: source pair ``i`` and position ``t`` in [0, 1); t == 0 is source frame i."""

    index: int
    i: int
    t: Fraction


def output_count(n_in: int, fps_in: Fraction, fps_out: Fraction) -> int:
    if n_in <= 0:
        return 0
    # largest k with k * fps_in / fps_out <= n_in - 1
    return int((n_in - 1) * fps_out // fps_in) + 1


def slots(fps_in: Fraction, fps_out: Fraction, n_in: int | None = None) -> Iterator[Slot]:
    """Output slots in order; unbounded when ``n_in`` is unknown (the consumer stops at end of input)."""
    step = fps_in / fps_out
    k = 0
    while n_in is None or k < output_count(n_in, fps_in, fps_out):
        pos = k * step
        i = pos.numerator // pos.denominator
        yield Slot(k, i, pos - i)
        k += 1
