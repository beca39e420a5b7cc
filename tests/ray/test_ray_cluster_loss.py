"""The whole Ray cluster goes away: /readyz fails, new jobs wait (queued, not failed), and they run
once a cluster is back at the same address."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from ray.cluster_utils import Cluster

from tests.ray.conftest import RESOURCE, SYSTEM_CONFIG
from tests.server.conftest import API_KEY, LiveServer, free_port, make_settings, wait_terminal

pytestmark = pytest.mark.ray


def one_node_cluster(port: int) -> Cluster:
    return Cluster(initialize_head=True, head_node_args={
        "gcs_server_port": port, "num_cpus": 1, "resources": {RESOURCE: 1}, "_system_config": SYSTEM_CONFIG})


def wait_status(client: httpx.Client, code: int, timeout: float) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if client.get("/readyz").status_code == code:
            return time.monotonic() - t0
        time.sleep(0.2)
    raise TimeoutError(f"/readyz never answered {code}: {client.get('/readyz').json()}")


def test_cluster_lost_then_back(tiny_weights_dir: Path, tmp_path: Path) -> None:
    port = free_port()
    cluster: Cluster | None = one_node_cluster(port)
    assert cluster is not None
    address = cluster.address
    settings = make_settings(tmp_path, tiny_weights_dir, engine="ray", ray_address=address, ray_resource=RESOURCE,
                             workers=1, device="cpu", ray_event_timeout_s=20)
    live = LiveServer(settings).start(timeout=120)
    try:
        with httpx.Client(base_url=live.url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=30) as client:
            wait_status(client, 200, 90)
            cluster.shutdown()
            cluster = None
            lost_after = wait_status(client, 503, 30)
            job_id = client.post("/v1/text-to-video", json={"prompt": "waits for the cluster", "steps": 2}).json()["id"]
            time.sleep(3)
            assert client.get(f"/v1/videos/{job_id}").json()["state"] == "queued"
            cluster = one_node_cluster(port)
            back_after = wait_status(client, 200, 120)
            job = wait_terminal(client, job_id, timeout=60)
            print(f"\ncluster lost: /readyz 503 after {lost_after:.1f}s; back: 200 after {back_after:.1f}s; "
                  f"queued job {job['state']}")
            assert job["state"] == "completed" and job["attempts"] == 1, job
    finally:
        live.stop()
        if cluster is not None:
            cluster.shutdown()
