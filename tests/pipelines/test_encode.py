from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from pipelines.encode import encode_mp4, probe, read_frames


def _moov_before_mdat(path: Path) -> bool:
    data = path.read_bytes()
    return 0 <= data.find(b"moov") < data.find(b"mdat")


def test_mp4_is_h264_yuv420p_faststart_at_fps(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, size=(13, 48, 80, 3), dtype=np.uint8)
    out = encode_mp4(frames, tmp_path / "a.mp4", fps=24)
    info = probe(out)
    assert (info.frames, info.width, info.height, info.fps, info.codec, info.pix_fmt) == (
        13, 80, 48, 24.0, "h264", "yuv420p")
    assert _moov_before_mdat(out)
    assert not (tmp_path / "a.mp4.part").exists()


def test_odd_sides_are_padded_to_even(tmp_path: Path) -> None:
    frames = np.full((5, 33, 47, 3), 200, dtype=np.uint8)
    info = probe(encode_mp4(frames, tmp_path / "odd.mp4", fps=16))
    assert (info.width, info.height) == (48, 34)


def test_flat_colour_survives_the_round_trip(tmp_path: Path) -> None:
    frames = np.zeros((9, 64, 64, 3), dtype=np.uint8)
    frames[..., 0] = 255
    back = read_frames(encode_mp4(frames, tmp_path / "red.mp4", fps=16))
    assert back.shape == (9, 64, 64, 3)
    assert np.abs(back.astype(int) - frames.astype(int)).mean() < 4


def test_no_frames_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no frames"):
        encode_mp4(iter([]), tmp_path / "none.mp4", fps=16)


def _x264_settings(path: Path) -> str:
    """The encoder settings x264 writes into the stream (its SEI user data): threads, slices, rate control."""
    data = path.read_bytes()
    start = data.index(b"x264 - core")
    return data[start:data.index(b"\x00", start)].decode()


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two cores to vary the CPU set")
def test_the_encoder_settings_do_not_follow_the_cores_the_process_has(tmp_path: Path) -> None:
    """x264's thread count decides its slicing and lookahead; left on "auto" it follows the CPU set, so
    the same frames would be encoded another way on another machine. What is guaranteed is that the
    settings are the same everywhere. The bytes are not: this x264 build was seen to vary a few bytes in
    one P frame from run to run, even single-threaded on a busy machine, which is why the sidecar's
    exact check is ``frames_sha256`` (the frames before encoding)."""
    rng = np.random.default_rng(0)
    frames = (rng.random((12, 240, 320, 3)) * 255).astype(np.uint8)
    every = os.sched_getaffinity(0)
    try:
        os.sched_setaffinity(0, {min(every)})
        one = encode_mp4(frames, tmp_path / "one-core.mp4", fps=16)
    finally:
        os.sched_setaffinity(0, every)
    many = encode_mp4(frames, tmp_path / "all-cores.mp4", fps=16)
    settings = _x264_settings(one)
    assert settings == _x264_settings(many)
    assert " threads=auto" not in settings and " rc=crf" in settings and " crf=18.0" in settings, settings
