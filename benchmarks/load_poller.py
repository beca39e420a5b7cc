"""The load test's burst pollers as their own program: clients polling one job while others submit.

They run in a process of their own, as a polling client does in practice: in the load generator's
process their timings would include that process's own event loop serving hundreds of other clients.
``python -m benchmarks.load_poller URL API_KEY JOB_ID [--pollers N] [--interval S]`` prints ``ready``
once its clients are built, polls until its standard input closes, then prints one JSON line:
``{"latencies": [...], "server": [...]}`` (seconds: each poll as the client saw it, and the server's
own share from its Server-Timing header).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

import httpx

from benchmarks.timing import server_timing_ms


async def _poll(c: httpx.AsyncClient, job_id: str, interval_s: float, stop: asyncio.Event,
                latencies: list[float], server: list[float]) -> None:
    while not stop.is_set():
        t0 = time.perf_counter()
        r = await c.get(f"/v1/videos/{job_id}")
        latencies.append(time.perf_counter() - t0)
        ms = server_timing_ms(r.headers.get("server-timing", ""))
        if ms is not None:
            server.append(ms / 1000)
        await asyncio.sleep(interval_s)


async def _until_stdin_closes(stop: asyncio.Event) -> None:
    await asyncio.to_thread(sys.stdin.read)
    stop.set()


async def run(url: str, api_key: str, job_id: str, pollers: int, interval_s: float) -> dict[str, list[float]]:
    latencies: list[float] = []
    server: list[float] = []
    stop = asyncio.Event()
    clients = [httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {api_key}"}, timeout=60)
               for _ in range(pollers)]
    try:
        for c in clients:  # connected before the burst starts
            await c.get(f"/v1/videos/{job_id}")
        print("ready", flush=True)
        await asyncio.gather(_until_stdin_closes(stop),
                             *(_poll(c, job_id, interval_s, stop, latencies, server) for c in clients))
    finally:
        for c in clients:
            await c.aclose()
    return {"latencies": latencies, "server": server}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("url")
    p.add_argument("api_key")
    p.add_argument("job_id")
    p.add_argument("--pollers", type=int, default=4)
    p.add_argument("--interval", type=float, default=0.05, help="seconds between one client's polls")
    args = p.parse_args(argv)
    result = asyncio.run(run(args.url, args.api_key, args.job_id, args.pollers, args.interval))
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
