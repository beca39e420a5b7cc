"""The post-stage benchmark on tiny frames: every cell and summary field present and sane. No speed is asserted."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.post_bench import PostBenchConfig, run_post_bench, synthetic_clip, table
from benchmarks.report import summary_block, write_result


def test_post_bench_writes_every_cell(tmp_path: Path) -> None:
    cfg = PostBenchConfig(resolutions=["160x96", "480p"], frames=3, encode_frames=4, repeats=1,
                          weights_dir=tmp_path / "no-weights")
    data = run_post_bench(cfg)
    assert data["benchmark"] == "post" and data["weights"] == "fallback"
    assert data["methods"] == ["classical-dis-flow", "lanczos"]
    assert {(c["stage"], c["resolution"]) for c in data["cells"]} == {
        (s, r) for s in ("interpolate", "upscale", "encode") for r in ("160x96", "480p")}
    for c in data["cells"]:
        assert c["fps"] > 0 and c["seconds"] > 0 and len(c["runs_s"]) == 1
        if c["stage"] == "interpolate":
            assert c["frames_out"] == (3 - 1) * 2 + 1  # factor 2
        elif c["stage"] == "upscale":
            assert c["frames_out"] == 3 and c["out_size"] == [c["width"] * 2, c["height"] * 2]
        else:
            assert c["frames_out"] == 4 and c["bytes"] > 0 and c["options"]["crf"] == "18"
            if data["ffmpeg"] is not None:  # imageio-ffmpeg (dev extra) or a system ffmpeg
                assert c["ffmpeg"]["fps"] > 0 and c["ratio_vs_ffmpeg"] > 0
                assert "-crf 18" in c["ffmpeg"]["command"] and "libx264" in c["ffmpeg"]["command"]
                # same settings, same frames: the two files land within a factor of two of each other
                assert 0.5 < c["bytes"] / c["ffmpeg"]["bytes"] < 2
    s = data["summary"]
    assert s["interpolate_480p_fps"] > 0 and s["upscale_160x96_fps"] > 0 and s["encode_480p_fps"] > 0
    path = write_result(data, tmp_path)
    assert json.loads(path.read_text())["summary"] == s and "post" in path.name
    assert "encode_480p_fps" in summary_block(data) and "| 480p |" in table(data)


def test_synthetic_clip_moves() -> None:
    clip = synthetic_clip(3, 64, 48)
    assert clip.shape == (3, 48, 64, 3) and clip.dtype.name == "uint8"
    assert not (clip[0] == clip[2]).all()
