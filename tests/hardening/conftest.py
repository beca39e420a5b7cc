"""Servers for the hardening tests: the real app under uvicorn on loopback with tiny models, with
an owner key, a second key and an admin key."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server.conftest import API_KEY, LiveServer, make_settings

OTHER_KEY = "other-key-456"
ADMIN_KEY = "admin-key-789"


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def hardened_settings(tmp: Path, weights: Path, **overrides: Any) -> Any:
    values: dict[str, Any] = {"api_keys": [API_KEY, OTHER_KEY], "admin_api_keys": [ADMIN_KEY], "body_timeout_s": 2.0}
    values.update(overrides)
    return make_settings(tmp, weights, **values)


def start(tmp: Path, weights: Path, **overrides: Any) -> LiveServer:
    return LiveServer(hardened_settings(tmp, weights, **overrides)).start()


@pytest.fixture(scope="module")
def hserver(tiny_weights_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = start(tmp_path_factory.mktemp("hard"), tiny_weights_dir)
    yield live
    live.stop()


@pytest.fixture()
def hclient(hserver: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=hserver.url, headers=auth(API_KEY), timeout=60) as c:
        yield c


def wait_done(client: httpx.Client, job_id: str, timeout: float = 120.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    job: dict[str, Any] = {}
    while time.monotonic() < deadline:
        job = client.get(f"/v1/videos/{job_id}").json()
        if job.get("state") in ("completed", "failed", "cancelled"):
            return job
        time.sleep(0.1)
    raise TimeoutError(f"job {job_id} did not finish: {job}")
