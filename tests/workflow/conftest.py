"""A live server for the workflow tests (takes, extend, remix, LoRAs, provenance): tiny models,
a LoRA folder with tiny LoRAs made with PEFT on the tiny transformers, real HTTP on loopback."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import openai
import pytest

from pipelines.encode import read_frames
from tests.server.conftest import API_KEY, LiveServer, make_settings

# Tiny LTX, 64x64, 9 frames, two steps: under a second on a CPU.
SMALL = {"width": 64, "height": 64, "num_frames": 9, "steps": 2}


@pytest.fixture(scope="session")
def loras_dir(tiny_weights_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from pipelines.tiny_lora import make_tiny_lora

    root = tmp_path_factory.mktemp("loras")
    make_tiny_lora(tiny_weights_dir / "tiny-ltx-video", root / "ltx-style.safetensors", seed=1)
    make_tiny_lora(tiny_weights_dir / "tiny-ltx-video", root / "ltx-other.safetensors", seed=2)
    # Wan 2.2 A14B: a LoRA for the low-noise expert (transformer_2), strong enough to show in 2 steps.
    make_tiny_lora(tiny_weights_dir / "tiny-wan2.2-t2v-a14b", root / "wan22-low.safetensors",
                   component="transformer_2", seed=3, scale=4.0)
    (root / "broken.safetensors").write_bytes(b"not a safetensors file")
    return root


@pytest.fixture(scope="session")
def wf_server(tiny_weights_dir: Path, loras_dir: Path,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    settings = make_settings(tmp_path_factory.mktemp("wfdata"), tiny_weights_dir, loras_dir=loras_dir,
                             max_video_upload_bytes=2_000_000)
    live = LiveServer(settings).start()
    yield live
    live.stop()


@pytest.fixture()
def client(wf_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=wf_server.url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=60) as c:
        yield c


@pytest.fixture()
def sdk(wf_server: LiveServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{wf_server.url}/v1", api_key=API_KEY, max_retries=0)


def wait_done(client: httpx.Client, job_id: str, timeout: float = 90.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/v1/videos/{job_id}").json()
        if job["state"] in ("completed", "failed", "cancelled"):
            assert job["state"] == "completed", job
            return job
        time.sleep(0.05)
    raise TimeoutError(f"job {job_id} did not finish")


def submit(client: httpx.Client, path: str, **body: Any) -> dict[str, Any]:
    r = client.post(path, json=body)
    assert r.status_code == 202, r.text
    return r.json()  # type: ignore[no-any-return]


def run(client: httpx.Client, path: str = "/v1/text-to-video", **body: Any) -> dict[str, Any]:
    return wait_done(client, submit(client, path, **body)["id"])


def download(client: httpx.Client, job_id: str, tmp: Path, variant: str = "video") -> Path:
    r = client.get(f"/v1/videos/{job_id}/content", params={"variant": variant})
    assert r.status_code == 200, r.text
    path = tmp / f"{job_id}.{variant}"
    path.write_bytes(r.content)
    return path


def frames_of(client: httpx.Client, job_id: str, tmp: Path) -> np.ndarray:
    return read_frames(download(client, job_id, tmp))


def sidecar(client: httpx.Client, job_id: str) -> dict[str, Any]:
    r = client.get(f"/v1/videos/{job_id}/content", params={"variant": "sidecar"})
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def frames_hash(client: httpx.Client, job_id: str) -> str:
    """The sidecar's hash of the generated frames before encoding: exact equality checks use it, since
    the encoded MP4 of identical frames is not always byte-identical in a busy server process."""
    return str(sidecar(client, job_id)["output"]["frames_sha256"])


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
