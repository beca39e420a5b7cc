"""A server whose worker runs each job across two ranks (two CPU ranks here, GPUs in production),
over real HTTP: sizes that cannot split are a 400 naming them, the rest run split and say so."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.server.conftest import API_KEY, LiveServer, make_settings, wait_terminal


@pytest.fixture(scope="module")
def cp_client(tiny_weights_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    settings = make_settings(tmp_path_factory.mktemp("cp"), tiny_weights_dir, engine="local", device="cpu",
                             context_parallel=2, default_model="tiny-wan2.1-t2v")
    live = LiveServer(settings).start(timeout=180)
    with httpx.Client(base_url=live.url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=60) as c:
        yield c
    live.stop()


def test_a_size_that_cannot_split_is_refused_and_the_rest_run_split(cp_client: httpx.Client) -> None:
    # 80x48, one frame: 15 latent tokens, not a multiple of 2 ranks.
    bad = cp_client.post("/v1/text-to-video", json={"prompt": "x", "width": 80, "height": 48, "num_frames": 1})
    assert bad.status_code == 400, bad.text
    err = bad.json()["error"]
    assert err["param"] == "size" and "80x48x1" in err["message"] and "2 GPUs per job" in err["message"]

    ok = cp_client.post("/v1/text-to-video", json={"prompt": "a boat", "steps": 2, "seed": 4})
    assert ok.status_code == 202, ok.text
    job = wait_terminal(cp_client, ok.json()["id"], timeout=180)
    assert job["state"] == "completed", job
    sidecar = cp_client.get(f"/v1/videos/{job['id']}/content", params={"variant": "sidecar"}).json()
    assert sidecar["optimizations"]["context_parallel"] == {"kind": "ulysses", "degree": 2, "rank": 0}
