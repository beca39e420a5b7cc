"""Frame timing and the classical (no weights) interpolator: counts, fps, where the in-between lands."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from pipelines.encode import probe
from pipelines.post.interpolate import ClassicalSynth, NearestSynth, retime
from pipelines.post.run import run_post
from pipelines.post.spec import InterpolateSpec, PostSpec
from pipelines.post.timing import output_count

from .conftest import square_clip


def _numbered(n: int) -> list[np.ndarray]:
    return [np.full((4, 4, 3), i, np.uint8) for i in range(n)]


@pytest.mark.parametrize("factor", range(2, 9))
def test_factor_gives_n_minus_1_times_factor_plus_1(factor: int) -> None:
    out = list(retime(_numbered(17), 16, 16 * factor, NearestSynth()))
    assert len(out) == 16 * factor + 1
    # source frames stay at their own slots: every factor-th output is the original
    assert [int(f[0, 0, 0]) for f in out[::factor]] == list(range(17))


@pytest.mark.parametrize(
    ("fps_in", "fps_out", "expected"),
    [(16, 24, 25), (16, 30, 31), (24, 60, 41), (Fraction(24000, 1001), 60, 41), (16, Fraction(30000, 1001), 30),
     (24, 16, 11)],
)
def test_target_fps_frame_times_are_exact(fps_in: Fraction, fps_out: Fraction, expected: int) -> None:
    n = 17
    out = list(retime(_numbered(n), fps_in, fps_out, NearestSynth()))
    assert len(out) == expected == output_count(n, Fraction(fps_in), Fraction(fps_out))
    # last output lies at or before the last source frame, and the next slot would be past it
    last_t = (len(out) - 1) / float(fps_out)
    assert last_t <= (n - 1) / float(fps_in) + 1e-9 < len(out) / float(fps_out)


def test_retime_of_empty_and_single_frame() -> None:
    assert list(retime([], 16, 32, NearestSynth())) == []
    assert len(list(retime(_numbered(1), 16, 32, NearestSynth()))) == 1


@pytest.mark.parametrize(("speed", "t"), [(4, 0.5), (8, 0.5), (8, 0.25), (12, 0.75)])
def test_classical_puts_the_square_at_the_right_place(speed: int, t: float) -> None:
    a, b = square_clip(2, speed)
    mid = ClassicalSynth().between(a, b, [t])[0][..., 0].astype(float)
    bright = np.where(mid[48] > 180)[0]  # the square's row through its centre
    expected_left = 8 + speed * t
    # tolerance: 1 px on each edge; a cross-fade (ghosting) would fail the width and the brightness
    assert abs(bright.min() - expected_left) <= 1.0, bright
    assert abs(bright.max() - (expected_left + 19)) <= 1.0, bright
    mass = (mid - 30).clip(0).sum() / (200 * 20 * 20)
    assert 0.95 < mass < 1.05


def test_run_post_classical_reports_method_and_fps(tmp_path: Path) -> None:
    frames = square_clip(9)
    res = run_post(frames, 16, PostSpec(interpolate=InterpolateSpec(factor=3), weights_dir=tmp_path / "none"),
                   tmp_path / "out.mp4")
    assert res.methods["interpolate"] == "classical-dis-flow"
    assert res.frames_out == 25 and res.fps_out == 48
    info = probe(res.path)
    assert (info.frames, info.fps, info.width, info.height) == (25, 48.0, 128, 96)


def test_run_post_target_fps(tmp_path: Path) -> None:
    spec = PostSpec(interpolate=InterpolateSpec(fps=24), weights_dir=tmp_path)
    res = run_post(square_clip(17), 16, spec, tmp_path / "o.mp4")
    info = probe(res.path)
    assert (info.frames, info.fps) == (25, 24.0)
