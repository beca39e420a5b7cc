"""The whole Ray cluster goes away: /readyz fails within seconds, new jobs wait (queued, not
failed), running ones are requeued, and everything runs once a cluster is back at the same address;
again and again, with a CPU hog beside it. And a bridge that stops answering (stuck inside Ray, say)
is killed and replaced by the API process, which judges it by the heartbeats it receives."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from ray.cluster_utils import Cluster

from server.engine.base import WorkItem
from server.engine.ray_engine import RayEngine
from tests.ray.conftest import HEAD_ARGS, RESOURCE, GpuCluster
from tests.ray.test_ray_engine import run, spec
from tests.server.conftest import API_KEY, LiveServer, free_port, make_settings, wait_state, wait_terminal

pytestmark = pytest.mark.ray

# Two rounds in the default run (each about 45 s in the suite, beside the hog); a longer soak:
# VIDSERVE_CLUSTER_LOSS_ROUNDS=10 pytest tests/ray/test_ray_cluster_loss.py
ROUNDS = int(os.environ.get("VIDSERVE_CLUSTER_LOSS_ROUNDS", "2"))
# How soon /readyz must say 503 once the cluster is gone: the bridge's watchdog thread probes the
# GCS port twice a second and the loop reports the change at its next heartbeat (1 s), so about
# 2 s; the rest is room for a machine whose cores are both busy.
LOST_WITHIN_S = 10.0


def one_node_cluster(port: int) -> Cluster:
    return Cluster(initialize_head=True, head_node_args={
        "gcs_server_port": port, "num_cpus": 1, "resources": {RESOURCE: 1}, **HEAD_ARGS})


def wait_status(client: httpx.Client, code: int, timeout: float) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if client.get("/readyz").status_code == code:
            return time.monotonic() - t0
        time.sleep(0.2)
    raise TimeoutError(f"/readyz never answered {code} within {timeout:.0f}s: {client.get('/readyz').json()}")


@pytest.fixture()
def cpu_hog() -> Iterator[psutil.Process]:
    """A process that spins on one core for as long as the test runs (the busy machine of the report)."""
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield psutil.Process(proc.pid)
    finally:
        proc.kill()
        proc.wait(10)


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


@pytest.mark.timeout(300 + 300 * ROUNDS)  # cluster restarts on a 2-core machine with one core taken
# Three rounds took about 90 s alone, 145 s inside the whole suite. Two things were seen beside the hog:
# - Found and fixed (session 24): Ray's workers renice themselves to 15 (its worker_niceness), so
#   beside a nice-0 hog an actor got ~2% of a core and took minutes to import torch; a whole-suite
#   run beside an outside hog failed both cluster-loss tests that way. The actors now run at nice 0
#   (PoolConfig.worker_niceness; test_ray_engine checks), and tests/ray beside a hog passes.
# - Not found: with the suite in one process and tests/ray last (sessions 22-24, 9 runs of 9), the
#   first actor's main thread binds itself to CPU 0 (sched_setaffinity) while loading torch's
#   extension (`from torch._C import *`) and stays runnable in the kernel (affine_move_task) at ~0%
#   CPU beside the hog, at nice 0 too. Its environment matches the test process's apart from Ray's
#   own variables; the test process is on CPUs 0-1. It passes alone, and in the default run, where
#   tests/ray runs first in its own test process (tests/conftest.py). The binding is MKL's (session
#   25, gdb): torch._C's init calls at::init_num_threads -> mkl_serv_domain_get_max_threads ->
#   MKL_Read_ThreadENV_Count_Cores, which pins the thread to each CPU in turn to count cores; every
#   `import torch` does it (strace: [0], [1], then [0 1]), with or without MKL/OMP thread variables.
#   The move itself is not slow: 780k such moves beside a hog (one or three; same or other session)
#   took 25 ms at most. Why this one stalls is still not found.
def test_cluster_lost_while_jobs_run_beside_a_cpu_hog_again_and_again(
        tiny_weights_dir: Path, tmp_path: Path, cpu_hog: psutil.Process) -> None:
    port = free_port()
    cluster: Cluster | None = one_node_cluster(port)
    assert cluster is not None
    settings = make_settings(tmp_path, tiny_weights_dir, engine="ray", ray_address=cluster.address,
                             ray_resource=RESOURCE, workers=1, device="cpu", ray_event_timeout_s=20)
    live = LiveServer(settings)
    bridges: set[int] = set()

    def note_bridge() -> None:
        pid = engine.bridge_pid()
        assert pid is not None, "ready without a bridge"
        bridges.add(pid)
    figures: list[str] = []
    try:
        live.start(timeout=180)  # inside the try: a start that fails still shuts the cluster down
        engine = live.app.state.jobs.engine
        with httpx.Client(base_url=live.url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=30) as client:
            for rnd in range(ROUNDS):
                wait_status(client, 200, 180)
                note_bridge()
                # One job running (long enough to be cut off), one queued behind it.
                # 200 steps at 256x256x33: many seconds even on a quiet machine, so the loss cuts it off
                # (at 60 steps of 64x64 the tiny model can finish before the cluster is down).
                running = client.post("/v1/text-to-video", json={
                    "prompt": f"cut off {rnd}", "steps": 200, "width": 256, "height": 256, "num_frames": 33,
                }).json()["id"]
                behind = client.post("/v1/text-to-video", json={"prompt": f"behind {rnd}", "steps": 2}).json()["id"]
                wait_state(client, running, "in_progress", timeout=120)
                assert cpu_hog.is_running()
                cluster.shutdown()
                cluster = None
                lost_after = wait_status(client, 503, 60)
                # Accepted while the cluster is away, and held: queued, not failed.
                during = client.post("/v1/text-to-video", json={"prompt": f"during {rnd}", "steps": 2})
                assert during.status_code == 202, during.text
                time.sleep(2)
                assert client.get(f"/v1/videos/{during.json()['id']}").json()["state"] == "queued"
                assert client.get(f"/v1/videos/{behind}").json()["state"] == "queued"
                cluster = one_node_cluster(port)
                back_after = wait_status(client, 200, 180)
                jobs = {job_id: wait_terminal(client, job_id, timeout=240)
                        for job_id in (running, behind, during.json()["id"])}
                figures.append(f"round {rnd}: 503 after {lost_after:.1f}s, 200 again after {back_after:.1f}s")
                assert lost_after < LOST_WITHIN_S, figures
                for job in jobs.values():
                    # The one cut off is requeued once (attempt 2); the others run on their first attempt.
                    assert job["state"] == "completed", job
                    assert job["attempts"] == (2 if job["id"] == running else 1), job
                note_bridge()
    finally:
        print("\n" + "\n".join(figures))
        live.stop()
        if cluster is not None:
            cluster.shutdown()
    # Each loss ended its bridge (a driver of a dead cluster cannot serve the next one), and every
    # bridge is gone after the server stopped.
    assert len(bridges) >= ROUNDS, bridges
    assert not [p for p in bridges if _running(p)], bridges


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.fixture()
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    lp = asyncio.new_event_loop()
    asyncio.set_event_loop(lp)
    yield lp
    lp.close()
    asyncio.set_event_loop(None)


def test_a_bridge_that_goes_silent_is_killed_and_replaced(gpu_cluster: GpuCluster, tiny_weights_dir: Path,
                                                           tmp_path: Path, loop: asyncio.AbstractEventLoop) -> None:
    """SIGSTOP: the bridge process is there but sends nothing, as when its loop is stuck inside Ray."""
    gpu_cluster.ensure_gpu_nodes(1)
    engine = RayEngine(gpu_cluster.address, tiny_weights_dir, workers=1, resource=RESOURCE, cpu_threads=1,
                       start_timeout=120, bridge_silence_s=3.0)
    run(engine.start())
    try:
        stopped = engine.bridge_pid()
        assert stopped is not None
        os.kill(stopped, signal.SIGSTOP)
        t0 = time.monotonic()
        while engine.ready():
            assert time.monotonic() - t0 < 15, "still ready long after the bridge went silent"
            run(asyncio.sleep(0.1))
        not_ready_after = time.monotonic() - t0
        assert run(engine.wait_ready(timeout=180)), engine.workers()
        assert engine.bridge_pid() not in (None, stopped)
        assert not _running(stopped)
        result: Any = run(engine.run(WorkItem("after-silence", spec(steps=2), tmp_path / "a"), lambda ev: None))
        assert Path(result.files["video"]).is_file()
    finally:
        run(engine.stop())
    print(f"\nsilent bridge: not ready after {not_ready_after:.1f}s")
    # 3 s of silence allowed, checked every second.
    assert 2.5 <= not_ready_after < 8, not_ready_after
