"""The serving benchmark against `vidserve serve --engine ray` with 1, 2 and 4 worker actors.

    python -m benchmarks.ray_serving_bench [--workers 1,2,4] [--requests 16] [--steps 12]

For each count: a local ``ray.cluster_utils.Cluster`` with that many worker raylets, each holding
one ``vgpu`` (a custom resource standing in for a GPU), the real ``vidserve serve`` command joined
to it, and ``benchmarks.serving_bench`` as a closed loop of 2 clients per worker on the tiny demo
models. Throughput ratios are against one worker. On a CPU-only machine the actors share its
cores, so the ratios say what the serving path adds or loses, not what GPUs would give.
Writes one JSON result under benchmarks/results/.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks.machine import machine_info
from benchmarks.report import write_result
from benchmarks.serving_bench import ServingBenchConfig, run_serving_bench

API_KEY = "bench-key"
MODEL = "tiny-wan2.1-t2v"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(url: str, workers: int, proc: subprocess.Popen[bytes], timeout: float = 240) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"vidserve serve exited with {proc.returncode}")
        try:
            r = httpx.get(f"{url}/readyz", timeout=5)
            body: dict[str, Any] = r.json()
            if r.status_code == 200 and sum(1 for w in body["workers"] if w["alive"]) >= workers:
                return body
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url}: {workers} workers not ready in {timeout:.0f}s")


def bench_workers(workers: int, weights: Path, work: Path, requests: int, body: dict[str, Any]) -> dict[str, Any]:
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    for _ in range(workers):
        cluster.add_node(num_cpus=1, resources={"vgpu": 1})
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = (work / f"serve-{workers}.log").open("wb")
    cmd = [sys.executable, "-m", "server.cli_serve", "--engine", "ray", "--ray-address", cluster.address,
           "--ray-resource", "vgpu", "--workers", str(workers), "--device", "cpu", "--port", str(port),
           "--data-dir", str(work / f"data-{workers}"), "--weights-dir", str(weights), "--api-key", API_KEY,
           "--default-model", MODEL]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=os.environ | {"PYTHONUNBUFFERED": "1"})
    try:
        _wait_ready(url, workers, proc)
        cfg = ServingBenchConfig(url=url, api_key=API_KEY, requests=workers * 2, concurrency=workers * 2,
                                 shapes=[body])
        run_serving_bench(cfg)  # warm-up: every worker loads the model
        cfg.requests = requests
        data = run_serving_bench(cfg)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
        cluster.shutdown()
        log.close()
    data["settings"]["workers"] = workers
    data.pop("requests", None)
    return data


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workers", default="1,2,4")
    p.add_argument("--requests", type=int, default=16)
    p.add_argument("--steps", type=int, default=12)
    p.add_argument("--size", default="96x96")
    p.add_argument("--no-write", action="store_true")
    args = p.parse_args(argv)
    from pipelines.tiny import make_tiny

    counts = [int(v) for v in args.workers.split(",")]
    width, height = (int(v) for v in args.size.split("x"))
    body = {"model": MODEL, "prompt": "a red boat on a blue ocean", "steps": args.steps, "width": width,
            "height": height}
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="vidserve-raybench-") as tmp:
        work = Path(tmp)
        make_tiny(MODEL, work / "weights")
        for n in counts:
            data = bench_workers(n, work / "weights", work, args.requests, body)
            runs.append(data)
            s = data["summary"]
            print(f"{n} worker(s): {s['completed']}/{s['requests']} ok, {s['request_throughput_per_s']:.3f} req/s, "
                  f"p50 {s['latency_p50_s']:.2f}s", flush=True)
    base = runs[0]["summary"]["request_throughput_per_s"] or 0.0
    table = [{"workers": r["settings"]["workers"], "throughput_per_s": r["summary"]["request_throughput_per_s"],
              "ratio_vs_first": (r["summary"]["request_throughput_per_s"] or 0.0) / base if base else None,
              "latency_p50_s": r["summary"]["latency_p50_s"], "failed": r["summary"]["failed"]} for r in runs]
    print(f"{'workers':>7} | {'req/s':>7} | {'ratio':>5} | {'p50 s':>6}")
    for row in table:
        print(f"{row['workers']:>7} | {row['throughput_per_s']:7.3f} | {row['ratio_vs_first']:5.2f} | "
              f"{row['latency_p50_s']:6.2f}")
    if not args.no_write:
        out = write_result({"benchmark": "serving-ray", "created_at": time.time(), "machine": machine_info(),
                            "settings": {"model": MODEL, "request": body, "requests": args.requests,
                                         "clients_per_worker": 2, "resource": "vgpu (custom, one per raylet)",
                                         "engine": "ray"},
                            "table": table, "runs": runs})
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
