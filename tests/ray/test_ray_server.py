"""The whole server on the Ray engine: the OpenAI SDK flow, and a node lost mid-job (the job is
requeued once through the job layer's retry path and completes on another node)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from pipelines.encode import probe
from tests.ray.conftest import RESOURCE, GpuCluster
from tests.server.conftest import API_KEY, LiveServer, make_settings, wait_terminal

pytestmark = pytest.mark.ray


@pytest.fixture(scope="module")
def ray_server(gpu_cluster: GpuCluster, tiny_weights_dir: Path,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    gpu_cluster.ensure_gpu_nodes(2)
    settings = make_settings(tmp_path_factory.mktemp("ray-data"), tiny_weights_dir, engine="ray",
                             ray_address=gpu_cluster.address, ray_resource=RESOURCE, workers=2,
                             device="cpu", ray_event_timeout_s=20, preload_models=["tiny-ltx-video"])
    live = LiveServer(settings).start(timeout=120)
    yield live
    live.stop()


@pytest.fixture()
def client(ray_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=ray_server.url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=60) as c:
        yield c


def wait_ready(client: httpx.Client, workers: int, timeout: float = 90) -> dict:
    deadline = time.monotonic() + timeout
    body: dict = {}
    while time.monotonic() < deadline:
        r = client.get("/readyz")
        body = r.json()
        if r.status_code == 200 and sum(1 for w in body["workers"] if w["alive"]) >= workers:
            return body
        time.sleep(0.2)
    raise TimeoutError(f"not {workers} workers ready: {body}")


def test_openai_sdk_flow_on_ray(ray_server: LiveServer, client: httpx.Client, tmp_path: Path) -> None:
    # Preloaded: every actor holds the default model before the first job.
    deadline = time.monotonic() + 60
    while not all(w.loaded_models == ["tiny-ltx-video"] for w in ray_server.app.state.jobs.engine.workers()):
        assert time.monotonic() < deadline, ray_server.app.state.jobs.engine.workers()
        time.sleep(0.2)
    sdk = openai.OpenAI(base_url=f"{ray_server.url}/v1", api_key=API_KEY, max_retries=0)
    # vidserve accepts sizes and durations the SDK's literal types do not list.
    video = sdk.videos.create_and_poll(prompt="a lighthouse", seconds="1", size="64x96",  # type: ignore[arg-type]
                                       extra_body={"steps": 2}, poll_interval_ms=100)
    assert video.status == "completed", video
    path = tmp_path / "v.mp4"
    path.write_bytes(sdk.videos.download_content(video.id).read())
    info = probe(path)
    assert (info.frames, info.width, info.height) == (25, 64, 96)
    assert sdk.videos.download_content(video.id, variant="thumbnail").read()[:4] == b"RIFF"


def test_jobs_spread_over_nodes(client: httpx.Client) -> None:
    wait_ready(client, 2)
    # One request for six takes: all six are queued at once (separate POSTs let each tiny job finish
    # before the next arrives), so four are still waiting when /metrics is read.
    resp = client.post("/v1/text-to-video", json={"prompt": "boats", "steps": 60, "n": 6})
    ids = [v["id"] for v in resp.json()["data"]]
    # The autoscaling hint: jobs beyond the two workers wait, counted per model.
    metrics = client.get("/metrics").text
    depth = [line for line in metrics.splitlines() if line.startswith('vidserve_queue_depth_by_model{model="tiny-ltx')]
    assert depth and float(depth[0].split()[-1]) >= 1, depth
    jobs = [wait_terminal(client, i) for i in ids]
    assert all(j["state"] == "completed" for j in jobs), jobs
    assert len({j["worker_id"] for j in jobs}) == 2, [j["worker_id"] for j in jobs]


def test_node_lost_mid_job_requeues_and_completes_elsewhere(gpu_cluster: GpuCluster, client: httpx.Client) -> None:
    ready = wait_ready(client, 2)
    # 200 steps at 256x256x33: many seconds, so the node is gone before the job ends (at the default
    # tiny size it once finished 0.7 s after the removal, on the node being removed).
    job_id = client.post("/v1/text-to-video", json={
        "prompt": "a long take", "steps": 200, "width": 256, "height": 256, "num_frames": 33}).json()["id"]
    deadline = time.monotonic() + 60
    while True:
        job = client.get(f"/v1/videos/{job_id}").json()
        if job["state"] == "in_progress" and job.get("worker_id") and job.get("progress", 0) > 0:
            break
        assert time.monotonic() < deadline, job
        time.sleep(0.05)
    first = job["worker_id"]
    device = {w["id"]: w["device"] for w in ready["workers"]}[first]
    node = gpu_cluster.node_by_prefix(device.split("/")[1])
    t0 = time.monotonic()
    gpu_cluster.remove(node)
    done = wait_terminal(client, job_id, timeout=240)
    print(f"\nnode removed mid-job; job {done['state']} on {done['worker_id']} "
          f"{time.monotonic() - t0:.1f}s later")
    assert done["state"] == "completed", done
    assert done["worker_id"] != first and done["attempts"] == 2, done
    # The dead worker is replaced once the cluster has room again.
    gpu_cluster.add_gpu_node()
    body = wait_ready(client, 2)
    assert {w["id"] for w in body["workers"] if w["alive"]} == {first, done["worker_id"]}
