"""Source videos for video-to-video: limits (each names itself), resampling to the model's rate,
cover/contain fitting. Torch-free."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from pipelines.core.source_video import (
    SourceVideoError,
    VideoLimits,
    load_source_frames,
    probe_video,
    resampled_count,
    source_indices,
)
from tests.video_files import level, write_video


def test_probe_reads_size_rate_frames_codec_and_audio(tmp_path: Path) -> None:
    p = probe_video(write_video(tmp_path / "a.mp4", 17, 32, audio=True))
    assert (p.width, p.height, p.fps, p.frames, p.codec, p.has_audio) == (80, 48, 32.0, 17, "h264", True)
    assert not probe_video(write_video(tmp_path / "b.mp4", 5, 16)).has_audio


def test_the_module_imports_no_torch() -> None:
    import subprocess

    code = "import sys, pipelines.core.source_video; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize(("limits", "limit", "kind"), [
    (VideoLimits(max_seconds=0.5), "max_seconds", "too_large"),
    (VideoLimits(max_frames=10), "max_frames", "too_large"),
    (VideoLimits(max_pixels=80 * 47), "max_pixels", "too_large"),
    (VideoLimits(codecs=("vp9",)), "codecs", "unsupported"),
])
def test_each_limit_is_named(tmp_path: Path, limits: VideoLimits, limit: str, kind: str) -> None:
    path = write_video(tmp_path / "v.mp4", 17, 16)  # 1.06 s, 17 frames of 80x48 H.264
    with pytest.raises(SourceVideoError) as exc:
        probe_video(path, limits)
    assert exc.value.limit == limit and exc.value.kind == kind and limit in str(exc.value)
    probe_video(path)  # within the defaults


def test_not_a_video_and_zero_frames_are_invalid(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"this is not a video at all" * 100)
    with pytest.raises(SourceVideoError) as exc:
        probe_video(junk)
    assert exc.value.kind == "invalid"
    empty = write_video(tmp_path / "empty.mkv", 0, 16)
    assert empty.stat().st_size > 0
    with pytest.raises(SourceVideoError) as exc:
        probe_video(empty)
    assert exc.value.kind == "invalid" and "no frames" in str(exc.value)
    with pytest.raises(SourceVideoError) as exc:  # mp4 drops a track with no samples
        probe_video(write_video(tmp_path / "empty.mp4", 0, 16))
    assert "no video stream" in str(exc.value)


def test_ten_thousand_square_is_refused_from_the_header(tmp_path: Path) -> None:
    path = write_video(tmp_path / "huge.avi", 1, 1, 10_000, 10_000, codec="mjpeg", pix_fmt="yuvj420p")
    with pytest.raises(SourceVideoError) as exc:
        probe_video(path)
    assert exc.value.limit == "max_pixels" and "10000x10000" in str(exc.value)


def test_odd_codec_is_unsupported(tmp_path: Path) -> None:
    path = write_video(tmp_path / "odd.mkv", 3, 8, codec="ffv1", pix_fmt="yuv420p")
    with pytest.raises(SourceVideoError) as exc:
        probe_video(path)
    assert exc.value.kind == "unsupported" and "'ffv1'" in str(exc.value) and "h264" in str(exc.value)


def test_resampling_spans_the_source_by_nearest_timestamp() -> None:
    assert resampled_count(17, 32.0, 16) == 9          # 0.5 s span at 16 fps
    assert source_indices(17, 32.0, 16, 9) == [0, 2, 4, 6, 8, 10, 12, 14, 16]
    assert resampled_count(9, 8.0, 16) == 17           # upsampling repeats frames
    assert source_indices(9, 8.0, 16, 5) == [0, 1, 1, 2, 2]
    assert resampled_count(49, 24.0, 16) == 33         # 2 s at 24 fps -> 16 fps
    assert resampled_count(30, 29.97, 16) == 16


def test_loaded_frames_are_the_resampled_ones_fitted(tmp_path: Path) -> None:
    path = write_video(tmp_path / "v.mp4", 17, 32)
    frames = load_source_frames(path, 16, 9, 64, 64, "cover")
    assert len(frames) == 9 and all(f.size == (64, 64) for f in frames)
    got = [int(np.asarray(f)[32, 32].mean()) for f in frames]
    want = [level(i) for i in source_indices(17, 32.0, 16, 9)]
    assert max(abs(a - b) for a, b in zip(got, want, strict=True)) <= 6
    # contain: an 80x48 source letterboxed into 64x64 has black bars top and bottom.
    boxed = np.asarray(load_source_frames(path, 16, 1, 64, 64, "contain")[0])
    assert boxed[0].max() == 0 and boxed[-1].max() == 0 and boxed[32, 32].max() == 0  # frame 0 is level 0
    lit = np.asarray(load_source_frames(path, 16, 2, 64, 64, "contain")[1])
    assert lit[32, 32].mean() > 20 and lit[0].max() == 0
