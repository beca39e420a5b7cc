"""Faults with real processes (slow): a scripted chaos run that SIGKILLs the API process and worker
processes at random points of a run of N jobs, and a full disk in the output directory.

Afterwards every accepted job is completed or failed with a reason, completed videos decode with
the requested frame count, and the SQLite store passes ``PRAGMA integrity_check``.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import av
import httpx
import pytest

from tests.processes import tied_popen
from tests.server.conftest import API_KEY, free_port

pytestmark = pytest.mark.slow

N_JOBS = int(os.environ.get("VIDSERVE_CHAOS_JOBS", "14"))
KILLS = int(os.environ.get("VIDSERVE_CHAOS_KILLS", "6"))
SEED = int(os.environ.get("VIDSERVE_CHAOS_SEED", "7"))
TERMINAL = ("completed", "failed", "cancelled")


class Server:
    """``vidserve serve`` as a subprocess with the local engine and two CPU worker processes."""

    def __init__(self, data: Path, weights: Path, **env: str) -> None:
        self.data, self.weights, self.env = data, weights, env
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.client = httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=30)

    def start(self, timeout: float = 180) -> Server:
        env = {**os.environ, "VIDSERVE_DEVICE": "cpu", "VIDSERVE_WORKERS": "2", **self.env}
        cmd = [sys.executable, "-m", "server.cli_serve", "--engine", "local", "--data-dir", str(self.data),
               "--weights-dir", str(self.weights), "--port", str(self.port), "--api-key", API_KEY,
               "--no-demo-models", "--default-model", "tiny-ltx-video"]
        log = open(self.data / f"server-{time.time_ns()}.log", "wb")  # noqa: SIM115
        self.proc = tied_popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.client.get("/readyz").status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            assert self.proc.poll() is None, "server exited during start"
            time.sleep(0.2)
        raise TimeoutError("server not ready")

    def workers(self) -> list[int]:
        """Worker process ids: spawn children of the server (not its resource tracker)."""
        assert self.proc is not None
        pids = []
        for d in Path("/proc").iterdir():
            if not d.name.isdigit():
                continue
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
                cmdline = (d / "cmdline").read_bytes()
            except (OSError, IndexError, ValueError):
                continue
            if ppid == self.proc.pid and b"spawn_main" in cmdline and b"resource_tracker" not in cmdline:
                pids.append(int(d.name))
        return pids

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()
        self.client.close()


def _submit(server: Server, i: int) -> str | None:
    """Submit job i with an Idempotency-Key, so a retry after a crash cannot create a second job."""
    body = {"prompt": f"chaos {i}", "steps": 6, "seed": i, "metadata": {"chaos": str(i)}}
    try:
        r = server.client.post("/v1/text-to-video", json=body, headers={"Idempotency-Key": f"chaos-{i}"})
    except httpx.TransportError:
        return None
    assert r.status_code in (202, 429), r.text
    return str(r.json()["id"]) if r.status_code == 202 else None


def _decodes(path: Path) -> int:
    with av.open(str(path)) as f:
        return sum(1 for _ in f.decode(video=0))


def test_chaos_sigkill_api_and_workers(tiny_weights_dir: Path, tmp_path: Path) -> None:
    rng = random.Random(SEED)
    server = Server(tmp_path, tiny_weights_dir).start()
    accepted: dict[int, str] = {}
    events: list[str] = []
    deadline = time.monotonic() + 240
    try:
        pending = list(range(N_JOBS))
        kills = 0
        while time.monotonic() < deadline:
            for i in [p for p in pending if p not in accepted][: rng.randint(1, 4)]:
                job_id = _submit(server, i)
                if job_id is not None:
                    assert accepted.setdefault(i, job_id) == job_id  # idempotent replay: same job
            if kills < KILLS and accepted:
                time.sleep(rng.uniform(0.3, 2.5))
                if rng.random() < 0.4:
                    events.append(f"SIGKILL api pid {server.proc.pid if server.proc else None}")
                    server.kill()
                    server = Server(tmp_path, tiny_weights_dir).start()
                else:
                    workers = server.workers()
                    if workers:
                        victim = rng.choice(workers)
                        events.append(f"SIGKILL worker pid {victim}")
                        os.kill(victim, signal.SIGKILL)
                kills += 1
                continue
            if len(accepted) == N_JOBS:
                states = [server.client.get(f"/v1/videos/{j}").json()["state"] for j in accepted.values()]
                if all(s in TERMINAL for s in states):
                    break
            time.sleep(0.5)
        jobs = {i: server.client.get(f"/v1/videos/{j}").json() for i, j in accepted.items()}
        listed = server.client.get("/v1/videos", params={"limit": 100}).json()["data"]
    finally:
        server.stop()
    summary = {"jobs": N_JOBS, "accepted": len(accepted), "kills": events,
               "states": {s: sum(1 for j in jobs.values() if j["state"] == s) for s in TERMINAL},
               "attempts": sorted(j["attempts"] for j in jobs.values()),
               "errors": sorted({(j["error"] or {}).get("code", "") for j in jobs.values()} - {""})}
    print(json.dumps(summary, indent=2))
    if os.environ.get("VIDSERVE_CHAOS_REPORT"):
        Path(os.environ["VIDSERVE_CHAOS_REPORT"]).write_text(json.dumps(summary, indent=2))
    assert len(accepted) == N_JOBS, summary
    assert len({j["id"] for j in listed}) == len(listed) == N_JOBS  # none lost, none duplicated
    for i, job in jobs.items():
        assert job["state"] in ("completed", "failed"), (i, job["state"])
        if job["state"] == "failed":
            assert job["error"]["code"] and job["error"]["message"], job["error"]
            continue
        video = tmp_path / "jobs" / job["id"] / "video.mp4"
        assert _decodes(video) == job["spec"]["num_frames"], job["id"]
    db = sqlite3.connect(tmp_path / "jobs.sqlite3")
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        db.close()


def _mount_tmpfs(path: Path, size: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True).returncode == 0


def test_full_disk_fails_jobs_with_storage_full_then_recovers(tiny_weights_dir: Path, tmp_path: Path) -> None:
    """The output directory on a real 2 MiB tmpfs, filled to the last byte, then freed."""
    jobs_dir = tmp_path / "jobs"
    if not _mount_tmpfs(jobs_dir, "2m"):
        pytest.skip("needs root and mount(8) for a small tmpfs (see docs/operations.md for a loop-device variant)")
    server = Server(tmp_path, tiny_weights_dir)
    filler = jobs_dir / "filler"
    try:
        server.start()
        with open(filler, "wb") as f:
            try:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            except OSError:
                pass  # ENOSPC: the disk is full now
        r = server.client.post("/v1/text-to-video", json={"prompt": "no room", "steps": 2})
        if r.status_code == 507:  # refused at the edge: nothing could even be written
            assert r.json()["error"]["code"] == "storage_full"
        else:
            assert r.status_code == 202, r.text
            job = _wait(server, r.json()["id"])
            assert job["state"] == "failed" and job["error"]["code"] == "storage_full", job
            assert "No space left" in job["error"]["message"] or "space" in job["error"]["message"]
        assert server.client.get("/readyz").status_code == 200  # the worker survived
        filler.unlink()
        r = server.client.post("/v1/text-to-video", json={"prompt": "room again", "steps": 2})
        assert r.status_code == 202
        job = _wait(server, r.json()["id"])
        assert job["state"] == "completed", job
        assert _decodes(jobs_dir / job["id"] / "video.mp4") == job["spec"]["num_frames"]
    finally:
        server.stop()
        subprocess.run(["umount", "-l", str(jobs_dir)], capture_output=True)


def _wait(server: Server, job_id: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job: dict[str, Any] = server.client.get(f"/v1/videos/{job_id}").json()
        if job["state"] in TERMINAL:
            return job
        time.sleep(0.2)
    raise TimeoutError(job_id)
