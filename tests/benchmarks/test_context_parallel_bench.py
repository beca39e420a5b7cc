"""`vidserve bench context-parallel` on the CPU: two gloo ranks against one process, through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from server.cli import main


def test_the_cli_writes_a_side_by_side_result(tiny_weights_dir: Path, tmp_path: Path) -> None:
    code = main(["bench", "context-parallel", "--model", "tiny-wan2.1-t2v", "--gpus", "2", "--device", "cpu",
                 "--runs", "1", "--steps", "2", "--weights-dir", str(tiny_weights_dir), "--out", str(tmp_path)])
    assert code == 0
    (path,) = tmp_path.glob("*-context-parallel-tiny-wan2.1-t2v-*.json")
    data = json.loads(path.read_text())
    s = data["summary"]
    assert (s["degree"], s["kind"]) == (2, "ulysses")
    # The group really ran split (the record comes from diffusers' setup on rank 0) and made the same video.
    assert data["group"]["optimizations"]["context_parallel"] == {"kind": "ulysses", "degree": 2, "rank": 0}
    assert "context_parallel" not in data["single"]["optimizations"]
    assert s["identical_to_single"] or s["psnr_vs_single_db"] >= 40
    assert sorted(data["group"]["per_rank_runs"]) == ["0", "1"]
    assert s["speedup_step"] == s["single_step_s"] / s["group_step_s"] > 0


def test_bad_arguments_are_refused_with_the_value(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "context-parallel", "--model", "tiny-wan2.1-t2v", "--gpus", "1"]) == 2
    assert "--gpus=1" in capsys.readouterr().err
