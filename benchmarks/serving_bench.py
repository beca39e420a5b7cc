"""`vidserve bench serving`: load against a running vidserve, latency split from the server's own clock.

Arrivals are Poisson at ``rate`` requests/s (gamma-distributed gaps when ``burstiness`` != 1, as
vLLM's serving benchmark does), or a closed loop of ``concurrency`` clients. Each request follows its
job on the SSE stream until a terminal event, then reads the job: queue wait and run time come from
the server's timestamps, generation time from the worker's timings, so polling granularity never
enters the figures. Server overhead = client end-to-end minus the worker's generation time.
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

TERMINAL = ("completed", "failed", "cancelled")


@dataclass
class ServingBenchConfig:
    url: str
    requests: int = 8
    rate: float | None = None  # requests per second (Poisson); None = closed loop
    concurrency: int = 2
    burstiness: float = 1.0  # gamma shape; 1.0 = Poisson, < 1 burstier
    api_key: str | None = None
    shapes: list[dict[str, Any]] = field(default_factory=lambda: [{"prompt": "a red boat on a blue ocean"}])
    endpoint: str = "/v1/text-to-video"
    timeout_s: float = 600.0
    seed: int = 0


def load_shapes(path: Path) -> list[dict[str, Any]]:
    """Request bodies, one JSON object per line; an optional "weight" repeats a shape in the mix."""
    shapes: list[dict[str, Any]] = []
    for line in path.read_text().splitlines():
        if line.strip():
            body = json.loads(line)
            shapes += [{k: v for k, v in body.items() if k != "weight"}] * int(body.get("weight", 1))
    if not shapes:
        raise ValueError(f"{path}: no request shapes")
    return shapes


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def _dist(values: list[float]) -> dict[str, float | None]:
    return {"mean": statistics.fmean(values) if values else None, "p50": _pct(values, 0.5),
            "p90": _pct(values, 0.9), "p99": _pct(values, 0.99)}


async def _follow(client: httpx.AsyncClient, job_id: str, timeout_s: float) -> tuple[str, float]:
    """Read the job's SSE stream until a terminal event; returns (event, client time it arrived)."""
    async with asyncio.timeout(timeout_s):
        async with client.stream("GET", f"/v1/videos/{job_id}/events") as resp:
            event = ""
            async for line in resp.aiter_lines():
                if line.startswith("event:"):
                    event = line.split(":", 1)[1].strip()
                    if event in TERMINAL:
                        return event, time.time()
    raise RuntimeError(f"job {job_id}: event stream ended without a terminal event")


async def _one(client: httpx.AsyncClient, cfg: ServingBenchConfig, body: dict[str, Any]) -> dict[str, Any]:
    sent = time.time()
    rec: dict[str, Any] = {"sent": sent, "shape": body}
    try:
        resp = await client.post(cfg.endpoint, json=body)
    except httpx.HTTPError as exc:
        return rec | {"ok": False, "code": f"transport:{exc.__class__.__name__}"}
    if resp.status_code != 202:
        code = resp.json().get("error", {}).get("code") if resp.headers.get("content-type", "").startswith(
            "application/json") else None
        return rec | {"ok": False, "code": f"http_{resp.status_code}" + (f":{code}" if code else "")}
    job_id = resp.json()["id"]
    try:
        event, arrived = await _follow(client, job_id, cfg.timeout_s)
    except (TimeoutError, httpx.HTTPError, RuntimeError) as exc:
        return rec | {"ok": False, "id": job_id, "code": f"follow:{exc.__class__.__name__}"}
    job = (await client.get(f"/v1/videos/{job_id}")).json()
    ts, timings = job.get("timestamps") or {}, job.get("timings") or {}
    rec |= {"id": job_id, "event": event, "end_to_end_s": arrived - sent}
    if job["status"] != "completed":
        return rec | {"ok": False, "code": (job.get("error") or {}).get("code", "failed")}
    generation = float(timings.get("total_s", 0.0)) + float(timings.get("encode_s", 0.0))
    return rec | {
        "ok": True, "code": "ok",
        "queue_wait_s": ts["started"] - ts["created"],
        "run_s": ts["completed"] - ts["started"],
        "server_s": ts["completed"] - ts["created"],
        "generation_s": generation,
        "overhead_s": (arrived - sent) - generation,
    }


async def run_serving_bench_async(cfg: ServingBenchConfig, progress: Callable[[int], None] = lambda n: None
                                  ) -> dict[str, Any]:
    rng = random.Random(cfg.seed)
    headers = {"Authorization": f"Bearer {cfg.api_key}"} if cfg.api_key else {}
    bodies = [dict(rng.choice(cfg.shapes)) for _ in range(cfg.requests)]
    results: list[dict[str, Any]] = []
    limits = httpx.Limits(max_connections=max(cfg.concurrency * 2 + 4, 16))
    async with httpx.AsyncClient(base_url=cfg.url, headers=headers, timeout=cfg.timeout_s, limits=limits) as client:
        start = time.time()

        async def record(body: dict[str, Any]) -> None:
            results.append(await _one(client, cfg, body))
            progress(len(results))

        if cfg.rate:
            tasks = []
            shape = cfg.burstiness
            for body in bodies:
                tasks.append(asyncio.create_task(record(body)))
                # Gamma gaps with mean 1/rate; shape 1 is exponential (Poisson arrivals).
                await asyncio.sleep(rng.gammavariate(shape, 1.0 / (cfg.rate * shape)))
            await asyncio.gather(*tasks)
        else:
            queue = list(bodies)

            async def worker() -> None:
                while queue:
                    await record(queue.pop())

            await asyncio.gather(*(worker() for _ in range(cfg.concurrency)))
        wall = time.time() - start
    return _summarise(cfg, results, wall)


def _summarise(cfg: ServingBenchConfig, results: list[dict[str, Any]], wall: float) -> dict[str, Any]:
    ok = [r for r in results if r["ok"]]
    e2e = [r["end_to_end_s"] for r in ok]
    overhead = [r["overhead_s"] for r in ok]
    summary = {
        "requests": len(results),
        "completed": len(ok),
        "failed": len(results) - len(ok),
        "wall_s": wall,
        "request_throughput_per_s": len(ok) / wall if wall else None,
        "videos_per_hour": 3600.0 * len(ok) / wall if wall else None,
        "latency_mean_s": statistics.fmean(e2e) if e2e else None,
        "latency_p50_s": _pct(e2e, 0.5),
        "latency_p90_s": _pct(e2e, 0.9),
        "latency_p99_s": _pct(e2e, 0.99),
        "server_overhead_mean_s": statistics.fmean(overhead) if overhead else None,
        "server_overhead_pct": 100.0 * sum(overhead) / sum(e2e) if e2e else None,
    }
    return {
        "benchmark": "serving", "schema": 1, "created_at": time.time(),
        "settings": asdict(cfg) | {"api_key": "***" if cfg.api_key else None},
        "codes": dict(Counter(r["code"] for r in results)),
        "latency": {"end_to_end_s": _dist(e2e), "queue_wait_s": _dist([r["queue_wait_s"] for r in ok]),
                    "run_s": _dist([r["run_s"] for r in ok]), "generation_s": _dist([r["generation_s"] for r in ok]),
                    "overhead_s": _dist(overhead)},
        "requests": results,
        "summary": summary,
    }


def run_serving_bench(cfg: ServingBenchConfig, progress: Callable[[int], None] = lambda n: None) -> dict[str, Any]:
    data = asyncio.run(run_serving_bench_async(cfg, progress))
    from benchmarks.machine import machine_info

    try:
        server = httpx.get(f"{cfg.url}/readyz", timeout=10).json()
    except (httpx.HTTPError, ValueError):
        server = None
    return data | {"machine": machine_info(), "server": server}
