"""Servers for the API tests: the real app under uvicorn on a loopback port, tiny models."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from server.app import create_app
from server.cli_serve import uvicorn_options
from server.settings import Settings

API_KEY = "test-key-123"
WEBHOOK_SECRET = "whsec-test"
FAST = {"steps": 2}  # tiny LTX, 64x64x9, two steps: about a second on a CPU


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """uvicorn serving ``create_app(settings)`` in a thread; real HTTP on 127.0.0.1."""

    def __init__(self, settings: Settings) -> None:
        self.port = free_port()
        self.app = create_app(settings)
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on",
                                **uvicorn_options(settings))
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120.0) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.server.started:
                return self
            if not self.thread.is_alive():
                raise RuntimeError("server thread died during startup")
            time.sleep(0.05)
        raise TimeoutError(f"server did not start within {timeout:.0f}s; {machine_state()}")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)


def machine_state() -> str:
    """What a start that timed out was up against: memory, load, the busiest processes (CPU over half a
    second), and where any Ray worker actor is stuck (py-spy, when installed)."""
    import shutil
    import subprocess

    import psutil

    mem = psutil.virtual_memory()
    procs = list(psutil.process_iter(["pid", "cmdline", "name"]))
    for p in procs:
        with contextlib.suppress(psutil.Error):
            p.cpu_percent(None)
    time.sleep(0.5)
    rows = []
    for p in procs:
        with contextlib.suppress(psutil.Error):
            cmd = " ".join(p.info["cmdline"] or [p.info["name"] or "?"])
            rows.append((p.cpu_percent(None), p.info["pid"], p.memory_info().rss, cmd))
    rows.sort(key=lambda r: -r[0])
    lines = [f"pid {pid} {cpu:.0f}% cpu nice {_nice(pid)} rss {rss / 2**20:.0f} MiB {cmd[:100]}"
             for cpu, pid, rss, cmd in rows[:12]]
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    stuck = [r for r in rows if "RayWorker" in r[3]][:2]
    for _, pid, _, _ in stuck if Path(spy).exists() else []:
        try:
            out = subprocess.run([spy, "dump", "--nonblocking", "--pid", str(pid)], capture_output=True, text=True,
                                 timeout=20)
            lines.append(f"py-spy dump {pid}:\n{out.stdout[-3000:]}{out.stderr[-500:]}")
        except subprocess.TimeoutExpired:
            lines.append(f"py-spy dump {pid}: no answer in 20 s")
    return (f"memory {mem.percent:.0f}% used ({mem.available / 2**30:.1f} GiB free), load {os.getloadavg()}; "
            "busiest processes:\n" + "\n".join(lines))


def _nice(pid: int) -> str:
    import psutil

    try:
        return str(psutil.Process(pid).nice())
    except psutil.Error:
        return "?"


def make_settings(tmp: Path, weights: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp, "weights_dir": weights, "engine": "inprocess", "api_keys": [API_KEY],
        "default_model": "tiny-ltx-video", "webhook_secret": WEBHOOK_SECRET,
        "max_upload_bytes": 200_000, "max_upload_pixels": 1_000_000,
        # Below the tiny LTX model's ~2.9 GiB estimate at its largest size (2048x2048x257), above its
        # ~1 GiB at test sizes: the admission check has something to refuse.
        "memory_limit_bytes": 2 * 1024**3,
        "webhook_allow_hosts": ["127.0.0.1"],  # the tests' receivers listen on loopback
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="session")
def server(tiny_weights_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = LiveServer(make_settings(tmp_path_factory.mktemp("data"), tiny_weights_dir)).start()
    yield live
    live.stop()


@pytest.fixture()
def client(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=60) as c:
        yield c


def wait_terminal(client: httpx.Client, job_id: str, timeout: float = 90.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/v1/videos/{job_id}").json()
        if job["state"] in ("completed", "failed", "cancelled"):
            return job
        time.sleep(0.1)
    raise TimeoutError(f"job {job_id} did not finish: {job}")


def wait_state(client: httpx.Client, job_id: str, state: str, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/v1/videos/{job_id}").json()
        if job["state"] == state:
            return job
        time.sleep(0.05)
    raise TimeoutError(f"job {job_id} never reached {state}: {job}")


def hold_worker(client: httpx.Client) -> str:
    """Occupy the test server's one worker with a long job (cancel it with ``job_events(release=...)``),
    so a job submitted next is still queued when the test subscribes to its events: the SSE stream
    gives a late subscriber a snapshot of where the job is, not the events it missed."""
    job_id = str(client.post("/v1/text-to-video", json={
        "prompt": "holds the worker", "model": "tiny-ltx-video", "steps": 200, "width": 256, "height": 256,
        "num_frames": 33}).json()["id"])
    wait_state(client, job_id, "in_progress", timeout=120)
    return job_id


def job_events(client: httpx.Client, job_id: str, release: str | None = None) -> list[tuple[str, dict[str, Any]]]:
    """A job's server-sent events as (name, data), followed until it ends. ``release``: a job (from
    ``hold_worker``) to cancel once the stream is open, so this one runs with every event seen."""
    events: list[tuple[str, dict[str, Any]]] = []
    with client.stream("GET", f"/v1/videos/{job_id}/events") as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream"), r.status_code
        name = None
        for line in r.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: ") and name:
                events.append((name, json.loads(line[6:])))
                if release is not None:
                    assert client.post(f"/v1/videos/{release}/cancel").status_code == 200
                    release = None
                if name in ("completed", "failed", "cancelled"):
                    break
    return events
