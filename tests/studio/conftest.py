"""A live server for the studio tests: tiny models, real HTTP on loopback, an API key."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.server.conftest import API_KEY, LiveServer, make_settings


@pytest.fixture(scope="session")
def studio_server(tiny_weights_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = LiveServer(make_settings(tmp_path_factory.mktemp("studiodata"), tiny_weights_dir,
                                    admin_api_keys=["admin-key-1"], api_keys=[API_KEY, "other-key-456"])).start()
    yield live
    live.stop()


@pytest.fixture()
def client(studio_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=studio_server.url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=60) as c:
        yield c


@pytest.fixture()
def other(studio_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=studio_server.url, headers={"Authorization": "Bearer other-key-456"},
                      timeout=60) as c:
        yield c


def png(width: int, height: int, rgb: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), rgb).save(buf, "PNG")
    return buf.getvalue()


def wait_takes_done(client: httpx.Client, shot_id: str, count: int, timeout: float = 180.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    takes: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        takes = client.get(f"/v1/shots/{shot_id}/takes").json()["data"]
        if len(takes) >= count and all(t["state"] in ("completed", "failed", "cancelled") for t in takes):
            return takes
        time.sleep(0.2)
    raise TimeoutError(f"takes of {shot_id} did not finish: {[t['state'] for t in takes]}")
