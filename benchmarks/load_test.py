"""Load test: hundreds of concurrent clients against a running vidserve, on loopback.

Each client submits one job, then follows it: polls its status, reads the SSE stream (every third
client), downloads the MP4 when done; each client has its own connection, as separate programs do.
Beside them, ``burst_pollers`` clients in a process of their own (``benchmarks.load_poller``) poll one
job that was accepted before the burst, every 50 ms for as long as submissions are in flight: what a
client polling its job sees while others submit (``burst_poll_*``). Submission latency is every
submission's, 202 or refused (``submit_*``). Refused submissions must be 429/503 with ``Retry-After``;
nothing may be a 5xx; every accepted job must end ``completed`` exactly once (the admin listing
holds each accepted id once and nothing else); the API process's RSS is read before and after.

``python -m benchmarks.load_test`` starts its own tiny-model server (local engine, CPU workers),
runs, and writes ``benchmarks/results/<stamp>-load-...json`` plus a markdown summary next to it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import ssl
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from benchmarks.serving_bench import _pct
from benchmarks.timing import server_timing_ms

TERMINAL = ("completed", "failed", "cancelled")


@dataclass
class LoadConfig:
    url: str
    api_key: str
    admin_key: str
    clients: int = 300
    body: dict[str, Any] = field(default_factory=lambda: {"prompt": "load", "steps": 1})
    poll_interval_s: float = 0.25
    job_timeout_s: float = 300.0
    sse_every: int = 3
    burst_pollers: int = 4
    tag: str = field(default_factory=lambda: f"load-{time.time_ns()}")  # metadata label of this run's jobs


@dataclass
class LoadOutcome:
    submit_codes: Counter[str] = field(default_factory=Counter)
    other_codes: Counter[str] = field(default_factory=Counter)
    missing_retry_after: int = 0
    accepted: list[str] = field(default_factory=list)
    poll_latencies: list[float] = field(default_factory=list)
    submit_latencies: list[float] = field(default_factory=list)  # every submission, 202 or refused
    burst_poll_latencies: list[float] = field(default_factory=list)
    burst_poll_server_s: list[float] = field(default_factory=list)
    poll_server_s: list[float] = field(default_factory=list)  # the server's own time (Server-Timing)
    sse_streams: int = 0
    sse_terminal: int = 0
    downloads: int = 0
    download_bytes: int = 0
    final_states: Counter[str] = field(default_factory=Counter)


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _own_client(cfg: LoadConfig, tls: ssl.SSLContext) -> httpx.AsyncClient:
    """One simulated client's own connection, as separate programs have: sharing one pool between
    hundreds of clients measures httpcore's pool (its request assignment scans every connection,
    quadratic in a burst; it took over half the load generator's CPU) rather than the server."""
    return httpx.AsyncClient(base_url=cfg.url, headers={"Authorization": f"Bearer {cfg.api_key}"},
                             timeout=60, verify=tls, limits=httpx.Limits(max_connections=1))


async def _client(i: int, c: httpx.AsyncClient, cfg: LoadConfig, out: LoadOutcome,
                  submitted: asyncio.Semaphore) -> None:
    async with c:
        await _follow(i, c, cfg, out, submitted)


async def _follow(i: int, c: httpx.AsyncClient, cfg: LoadConfig, out: LoadOutcome,
                  submitted: asyncio.Semaphore) -> None:
    t0 = time.perf_counter()
    try:
        r = await c.post("/v1/text-to-video", json={**cfg.body, "metadata": {"run": cfg.tag, "client": str(i)}})
    finally:
        submitted.release()
    out.submit_latencies.append(time.perf_counter() - t0)
    out.submit_codes[str(r.status_code)] += 1
    if r.status_code != 202:
        if r.status_code in (429, 503) and "retry-after" not in r.headers:
            out.missing_retry_after += 1
        return
    job_id = r.json()["id"]
    out.accepted.append(job_id)
    if i % cfg.sse_every == 0:
        out.sse_streams += 1
        async with c.stream("GET", f"/v1/videos/{job_id}/events", timeout=cfg.job_timeout_s) as s:
            out.other_codes[str(s.status_code)] += 1
            async for line in s.aiter_lines():
                if line.startswith("event: ") and line[7:] in TERMINAL:
                    out.sse_terminal += 1
                    break
    deadline = time.monotonic() + cfg.job_timeout_s
    state = ""
    while time.monotonic() < deadline:
        t0 = time.perf_counter()
        r = await c.get(f"/v1/videos/{job_id}")
        out.poll_latencies.append(time.perf_counter() - t0)
        server_ms = server_timing_ms(r.headers.get("server-timing", ""))
        if server_ms is not None:
            out.poll_server_s.append(server_ms / 1000)
        out.other_codes[str(r.status_code)] += 1
        state = r.json().get("state", "") if r.status_code == 200 else ""
        if state in TERMINAL:
            break
        await asyncio.sleep(cfg.poll_interval_s)
    out.final_states[state or "timeout"] += 1
    if state == "completed":
        r = await c.get(f"/v1/videos/{job_id}/content")
        out.other_codes[str(r.status_code)] += 1
        if r.status_code == 200 and r.content[4:8] == b"ftyp":
            out.downloads += 1
            out.download_bytes += len(r.content)


async def _start_pollers(cfg: LoadConfig, job_id: str) -> asyncio.subprocess.Process:
    """The burst pollers, in their own process (benchmarks.load_poller), connected and ready."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "benchmarks.load_poller", cfg.url, cfg.api_key, job_id,
        "--pollers", str(cfg.burst_pollers), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 60)
    if line.strip() != b"ready":
        raise RuntimeError(f"burst pollers did not start: {line!r}")
    return proc


async def _stop_pollers(proc: asyncio.subprocess.Process, burst_over: asyncio.Event, out: LoadOutcome) -> None:
    await burst_over.wait()
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.close()
    polled = json.loads(await asyncio.wait_for(proc.stdout.readline(), 60))
    await proc.wait()
    out.burst_poll_latencies += polled["latencies"]
    out.burst_poll_server_s += polled["server"]


async def _until_submitted(submitted: asyncio.Semaphore, clients: int, burst_over: asyncio.Event) -> None:
    for _ in range(clients):
        await submitted.acquire()
    burst_over.set()


async def run_load(cfg: LoadConfig, server_pid: int | None = None) -> dict[str, Any]:
    out = LoadOutcome()
    tls = ssl.create_default_context()  # one for all (building one per client costs ms); loopback is plain HTTP
    async with _own_client(cfg, tls) as c:
        watched = None
        if cfg.burst_pollers:  # a job accepted before the burst, for the pollers to watch
            r = await c.post("/v1/text-to-video", json={**cfg.body, "metadata": {"run": f"{cfg.tag}-watched"}})
            watched = r.json()["id"] if r.status_code == 202 else None
        rss_before = rss_bytes(server_pid) if server_pid else None
        submitted, burst_over = asyncio.Semaphore(0), asyncio.Event()
        pollers = [_stop_pollers(await _start_pollers(cfg, watched), burst_over, out)] if watched else []
        # Built before the burst (a program has its client before it sends); each connects on its first request.
        clients = [_own_client(cfg, tls) for _ in range(cfg.clients)]
        t0 = time.monotonic()
        await asyncio.gather(*(_client(i, clients[i], cfg, out, submitted) for i in range(cfg.clients)),
                             _until_submitted(submitted, cfg.clients, burst_over), *pollers)
        wall = time.monotonic() - t0
        rss_after = rss_bytes(server_pid) if server_pid else None
        listed: list[str] = []
        after = None
        while True:  # every job on the server, by the admin key, to find lost or duplicated ones
            params: dict[str, Any] = {"limit": 100, "order": "asc", "metadata[run]": cfg.tag,
                                      **({"after": after} if after else {})}
            page = (await c.get("/v1/videos", params=params,
                                headers={"Authorization": f"Bearer {cfg.admin_key}"})).json()
            listed += [j["id"] for j in page["data"]]
            if not page["has_more"]:
                break
            after = page["last_id"]
    five = sum(n for code, n in (out.submit_codes + out.other_codes).items() if code.startswith("5")
               and code != "503")
    lat = out.poll_latencies
    return {
        "clients": cfg.clients, "wall_s": round(wall, 2),
        "submit_codes": dict(out.submit_codes), "other_codes": dict(out.other_codes),
        "accepted": len(out.accepted), "accepted_unique": len(set(out.accepted)),
        "refused_without_retry_after": out.missing_retry_after, "server_errors_5xx": five,
        "final_states": dict(out.final_states),
        "lost": sorted(set(out.accepted) - set(listed)), "unexpected": sorted(set(listed) - set(out.accepted)),
        "duplicated_in_listing": len(listed) - len(set(listed)),
        "submit_p50_ms": _ms(_pct(out.submit_latencies, 0.5)), "submit_p99_ms": _ms(_pct(out.submit_latencies, 0.99)),
        "submit_max_ms": _ms(max(out.submit_latencies) if out.submit_latencies else None),
        "burst_polls": len(out.burst_poll_latencies),
        "burst_poll_p50_ms": _ms(_pct(out.burst_poll_latencies, 0.5)),
        "burst_poll_p99_ms": _ms(_pct(out.burst_poll_latencies, 0.99)),
        "burst_poll_server_p99_ms": _ms(_pct(out.burst_poll_server_s, 0.99)),
        "polls": len(lat), "poll_p50_ms": _ms(_pct(lat, 0.5)), "poll_p99_ms": _ms(_pct(lat, 0.99)),
        "poll_max_ms": _ms(max(lat) if lat else None),
        # What of that the server spent answering; the rest is connection, queueing and the client's own loop.
        "poll_server_p50_ms": _ms(_pct(out.poll_server_s, 0.5)),
        "poll_server_p99_ms": _ms(_pct(out.poll_server_s, 0.99)),
        "sse_streams": out.sse_streams, "sse_reached_terminal": out.sse_terminal,
        "downloads": out.downloads, "download_mb": round(out.download_bytes / 1e6, 2),
        "rss_before_mb": _mb(rss_before), "rss_after_mb": _mb(rss_after),
        "rss_growth_mb": _mb(rss_after - rss_before) if rss_before and rss_after else None,
    }


def _ms(v: float | None) -> float | None:
    return None if v is None else round(v * 1000, 1)


def _mb(v: int | None) -> float | None:
    return None if v is None else round(v / 1e6, 1)


def start_server(data: Path, weights: Path, port: int, keys: tuple[str, str], workers: int,
                 queue_max: int, preexec_fn: Callable[[], None] | None = None) -> subprocess.Popen[bytes]:
    env = {**os.environ, "VIDSERVE_ADMIN_API_KEYS": json.dumps([keys[1]]), "VIDSERVE_QUEUE_MAX": str(queue_max),
           "VIDSERVE_QUEUE_MAX_PER_KEY": str(queue_max), "VIDSERVE_WORKERS": str(workers),
           "VIDSERVE_DEVICE": "cpu", "VIDSERVE_DEFAULT_MODEL": "tiny-ltx-video"}
    cmd = [sys.executable, "-m", "server.cli_serve", "--engine", "local", "--data-dir", str(data), "--weights-dir",
           str(weights), "--port", str(port), "--api-key", keys[0]]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, preexec_fn=preexec_fn,
                            stderr=open(data / "server.log", "wb"))


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        time.sleep(0.3)
    raise TimeoutError("server not ready")


def main(argv: list[str] | None = None) -> int:
    from benchmarks.machine import machine_info
    from benchmarks.report import write_result
    from pipelines.tiny import make_tiny

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--clients", type=int, default=300)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--queue-max", type=int, default=60)
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--burst-pollers", type=int, default=4, help="clients polling one job during the burst")
    args = p.parse_args(argv)
    keys = ("load-key", "load-admin")
    with tempfile.TemporaryDirectory() as tmp:
        data, weights = Path(tmp) / "data", Path(tmp) / "weights"
        data.mkdir()
        make_tiny("tiny-ltx-video", weights)
        url = f"http://127.0.0.1:{args.port}"
        proc = start_server(data, weights, args.port, keys, args.workers, args.queue_max)
        try:
            wait_ready(url, proc)
            cfg = LoadConfig(url, keys[0], keys[1], clients=args.clients, burst_pollers=args.burst_pollers)
            # Warm-up: one job through, so the "before" RSS includes what every request path imports.
            asyncio.run(run_load(LoadConfig(url, keys[0], keys[1], clients=2)))
            summary = asyncio.run(run_load(cfg, proc.pid))
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
    result = {"benchmark": "load", "created_at": time.time(), "machine": machine_info(),
              "settings": {"model": "tiny-ltx-video", **asdict(cfg), "workers": args.workers,
                           "queue_max": args.queue_max, "engine": "local", "api_key": "(redacted)",
                           "admin_key": "(redacted)"},
              "weights": "tiny", "summary": summary}
    path = write_result(result)
    path.with_suffix(".md").write_text(markdown(summary, args))
    print(json.dumps(summary, indent=2))
    print(f"wrote {path}")
    return 0


def markdown(s: dict[str, Any], args: argparse.Namespace) -> str:
    return "\n".join([
        f"# Load test: {s['clients']} concurrent clients, tiny-ltx-video, {args.workers} CPU workers, "
        f"queue_max {args.queue_max}", "",
        "| figure | value |", "| --- | --- |",
        *(f"| {k} | {v} |" for k, v in s.items()), "",
    ])


if __name__ == "__main__":
    sys.exit(main())
