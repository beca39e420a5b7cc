"""`vidserve generate` and `vidserve weights` as a user runs them: real subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.encode import probe


def _vidserve(args: list[str], weights: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"VIDSERVE_WEIGHTS_DIR": str(weights), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "server.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("mode", ["text-to-video", "image-to-video", "first-last-frame"])
def test_generate_writes_mp4_and_sidecar(tiny_weights_dir: Path, color_images: dict[str, Path],
                                         tmp_path: Path, mode: str) -> None:
    args = ["generate", "--model", "tiny-ltx-video", "--prompt", "a red boat", "--size", "96x64",
            "--frames", "17", "--steps", "3", "--seed", "42", "-o", str(tmp_path / "take.mp4")]
    if mode != "text-to-video":
        args += ["--image", str(color_images["red"])]
    if mode == "first-last-frame":
        args += ["--last-image", str(color_images["blue"])]
    proc = _vidserve(args, tiny_weights_dir, tmp_path)
    assert proc.returncode == 0, proc.stderr
    info = probe(tmp_path / "take.mp4")
    assert (info.frames, info.width, info.height) == (17, 96, 64)
    side = json.loads((tmp_path / "take.json").read_text())
    assert side["spec"]["mode"] == mode and side["spec"]["prompt"] == "a red boat"
    assert side["seed"] == 42 and side["spec"]["steps"] == 3
    assert side["model"]["id"] == "tiny-ltx-video" and side["model"]["weights_fingerprint"]
    assert side["environment"]["versions"]["diffusers"] and side["environment"]["versions"]["torch"]
    assert side["device"]["device"] == "cpu"
    assert set(side["timings"]) >= {"load_s", "text_encode_s", "denoise_s", "decode_s", "encode_s"}
    assert len(side["step_seconds"]) == 3
    assert "3/3" in proc.stderr  # the progress bar reached the last step


def test_generate_bad_input_is_a_clear_error(tiny_weights_dir: Path, tmp_path: Path) -> None:
    proc = _vidserve(["generate", "--model", "tiny-wan2.1-t2v", "--prompt", "x", "--frames", "10",
                      "-o", str(tmp_path / "x.mp4")], tiny_weights_dir, tmp_path)
    assert proc.returncode == 2
    assert "num_frames=10" in proc.stderr and "4k+1" in proc.stderr
    assert not (tmp_path / "x.mp4").exists()


def test_weights_list_and_make_tiny(tmp_path: Path) -> None:
    weights = tmp_path / "weights"
    before = _vidserve(["weights", "list"], weights, tmp_path)
    assert before.returncode == 0
    assert "Wan-AI/Wan2.1-T2V-1.3B-Diffusers" in before.stdout
    line = next(ln for ln in before.stdout.splitlines() if ln.startswith("tiny-wan2.1-t2v "))
    assert " no " in line
    made = _vidserve(["weights", "make-tiny", "tiny-wan2.1-t2v"], weights, tmp_path)
    assert made.returncode == 0, made.stderr
    after = _vidserve(["weights", "list"], weights, tmp_path)
    line = next(ln for ln in after.stdout.splitlines() if ln.startswith("tiny-wan2.1-t2v "))
    assert " yes " in line and str(weights / "tiny-wan2.1-t2v") in line
    bad = _vidserve(["weights", "make-tiny", "wan2.1-t2v-14b"], weights, tmp_path)
    assert bad.returncode == 2 and "not tiny models" in bad.stderr


def test_pull_offline_fails_cleanly_without_leaving_a_model(tmp_path: Path) -> None:
    proc = _vidserve(["weights", "pull", "wan2.1-t2v-1.3b"], tmp_path / "weights", tmp_path)
    assert proc.returncode == 1 and "error: pull wan2.1-t2v-1.3b" in proc.stderr
    assert not (tmp_path / "weights" / "wan2.1-t2v-1.3b" / "model_index.json").exists()
