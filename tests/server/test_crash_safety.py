"""Crash safety with real processes: SIGKILL the server with jobs queued and running, start it
again, every job ends; SIGKILL a LocalEngine worker mid-job, the job is retried and completes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.processes import stop, tied_popen
from tests.server.conftest import API_KEY, FAST, LiveServer, free_port, make_settings, wait_state, wait_terminal

pytestmark = pytest.mark.slow


def _start(data: Path, weights: Path) -> tuple[subprocess.Popen[bytes], httpx.Client]:
    port = free_port()
    cmd = [sys.executable, "-m", "server.cli_serve", "--engine", "inprocess", "--data-dir", str(data),
           "--weights-dir", str(weights), "--port", str(port), "--api-key", API_KEY, "--no-demo-models",
           "--default-model", "tiny-ltx-video"]
    proc = tied_popen(cmd, stdout=subprocess.DEVNULL, stderr=open(data / f"server-{port}.log", "wb"))  # noqa: SIM115
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {API_KEY}"},
                          timeout=30)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if client.get("/readyz").status_code == 200:
                return proc, client
        except httpx.TransportError:
            pass
        assert proc.poll() is None, (data / f"server-{port}.log").read_text()[-3000:]
        time.sleep(0.2)
    raise TimeoutError("server did not become ready")


def test_sigkill_server_then_restart_loses_nothing(tiny_weights_dir: Path, tmp_path: Path) -> None:
    proc, client = _start(tmp_path, tiny_weights_dir)
    try:
        long_job = {"prompt": "interrupted", "steps": 200, "width": 128, "height": 128}  # still running at the kill
        running = client.post("/v1/text-to-video", json=long_job).json()
        queued = [client.post("/v1/text-to-video", json={"prompt": f"waiting {i}", **FAST}).json() for i in range(2)]
        wait_state(client, running["id"], "in_progress")
        deadline = time.monotonic() + 30
        while client.get(f"/v1/videos/{running['id']}").json()["progress"] == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        client.close()
    proc, client = _start(tmp_path, tiny_weights_dir)
    try:
        jobs = [wait_terminal(client, j["id"], timeout=120) for j in (running, *queued)]
        assert [j["state"] for j in jobs] == ["completed"] * 3, jobs
        assert jobs[0]["attempts"] == 2  # interrupted once, run again
        assert all(j["attempts"] == 1 for j in jobs[1:])
        listed = client.get("/v1/videos", params={"limit": 10}).json()["data"]
        assert {j["id"] for j in listed} == {j["id"] for j in jobs}
    finally:
        stop(proc, grace_s=20)
        client.close()


@pytest.fixture(scope="module")
def local_server(tiny_weights_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    settings = make_settings(tmp_path_factory.mktemp("local"), tiny_weights_dir, engine="local", device="cpu")
    live = LiveServer(settings).start(timeout=180)
    yield live
    live.stop()


def _wait_terminal_across_resets(c: httpx.Client, job_id: str) -> dict:
    """wait_terminal, but a poll whose connection is reset is retried on a fresh connection. Resets
    were seen in CI: the test server then closed idle keep-alive connections after 5 s, exactly when
    httpx drops them, so a reuse could race the close (fixed: 30 s, and the live test servers now
    use the production uvicorn options; test_security_limits checks it). Kept as a guard: the job
    outcome is what this test is about, and it is still asserted."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            return wait_terminal(c, job_id, timeout=max(1.0, deadline - time.monotonic()))
        except httpx.TransportError:
            time.sleep(0.2)
    raise TimeoutError(job_id)


def test_kill_worker_mid_job_retries_and_completes(local_server: LiveServer) -> None:
    from server.engine.local import LocalEngine

    engine = local_server.app.state.jobs.engine
    assert isinstance(engine, LocalEngine)
    # A new connection per request (see _wait_terminal_across_resets): the job outcome is the point.
    no_reuse = httpx.Limits(max_keepalive_connections=0)
    with httpx.Client(base_url=local_server.url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=30,
                      limits=no_reuse) as c:
        # Long enough (200 steps at 128x128) that the kill lands mid-denoise even on an idle machine.
        job = c.post("/v1/text-to-video", json={"prompt": "survive", "steps": 200, "width": 128,
                                                "height": 128}).json()
        wait_state(c, job["id"], "in_progress")
        deadline = time.monotonic() + 60
        while c.get(f"/v1/videos/{job['id']}").json()["progress"] == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        pid = engine.worker_pid("worker-0")
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        done = _wait_terminal_across_resets(c, job["id"])
        assert done["state"] == "completed", done
        assert done["attempts"] == 2
        assert engine.worker_pid("worker-0") not in (None, pid)


def test_restart_fails_a_job_interrupted_twice_and_requeues_the_rest(tiny_weights_dir: Path, tmp_path: Path) -> None:
    from server.api.auth import key_id
    from server.jobs.models import Job, JobState
    from server.jobs.store import JobStore

    spec = {"model": "tiny-ltx-video", "mode": "text-to-video", "prompt": "p", "negative_prompt": "", "width": 64,
            "height": 64, "num_frames": 9, "fps": 24, "steps": 2, "guidance_scale": 3.0, "guidance_scale_2": None,
            "seed": 1, "image": None, "last_image": None, "image_fit": "cover", "pipeline_class": "LTXPipeline"}
    store = JobStore(tmp_path / "jobs.sqlite3")
    now = time.time()
    owner = key_id(API_KEY)  # jobs are served only to the key that created them
    store.create([
        Job(id="video_twice", seq=0, state=JobState.IN_PROGRESS, model="tiny-ltx-video", spec=spec, created_at=now,
            attempts=2, key_id=owner),
        Job(id="video_once", seq=0, state=JobState.IN_PROGRESS, model="tiny-ltx-video", spec=spec, created_at=now,
            attempts=1, key_id=owner),
        Job(id="video_waiting", seq=0, state=JobState.QUEUED, model="tiny-ltx-video", spec=spec, created_at=now,
            key_id=owner),
    ])
    store.close()
    live = LiveServer(make_settings(tmp_path, tiny_weights_dir)).start()
    try:
        with httpx.Client(base_url=live.url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=30) as c:
            twice = c.get("/v1/videos/video_twice").json()
            assert twice["state"] == "failed" and twice["error"]["code"] == "worker_crashed"
            assert wait_terminal(c, "video_once")["state"] == "completed"
            assert wait_terminal(c, "video_waiting")["state"] == "completed"
    finally:
        live.stop()
