"""How a Ray worker should hand a finished video to the API node: uint8 frames through the object
store (the API node encodes), or encoded MP4 bytes (the worker encodes). Program, not a test:

    python -m benchmarks.ray_transfer_bench [--shapes 33x480x832,81x480x832] [--repeats 3]

A local ``ray.cluster_utils.Cluster``: a head (this process is its driver, as the API node's Ray
bridge is) and one worker node holding the actor, so every object crosses between two raylets'
object stores. Frames are synthetic (a moving gradient with noise: they encode to a realistic size,
unlike pure noise or flat colour). Generation is excluded: the actor builds the frames once.
Writes a JSON result under benchmarks/results/.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.machine import machine_info
from benchmarks.report import write_result


def synthetic_frames(frames: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    out = np.empty((frames, height, width, 3), np.uint8)
    for t in range(frames):
        base = (x + 3 * t) / width * 255, (y + 2 * t) / height * 255, ((x + y) / 2 + 5 * t) % 255
        noise = rng.normal(0, 6, (height, width)).astype(np.float32)
        for c in range(3):
            out[t, :, :, c] = np.clip(base[c] + noise, 0, 255)
    return out


class FrameSource:
    """The worker side: holds one video's frames, hands them over either way."""

    def __init__(self, frames: int, height: int, width: int) -> None:
        self.frames = synthetic_frames(frames, height, width)

    def as_frames(self) -> np.ndarray:
        return self.frames

    def as_mp4(self) -> tuple[bytes, float]:
        from pipelines.encode import encode_mp4

        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            path = encode_mp4(self.frames, Path(tmp) / "v.mp4", 24)
            return path.read_bytes(), time.perf_counter() - t0


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def measure(shape: tuple[int, int, int], repeats: int) -> dict[str, Any]:
    import ray

    from pipelines.encode import encode_mp4

    src: Any = ray.remote(FrameSource).options(resources={"vgpu": 1}).remote(*shape)
    ray.get(src.as_mp4.remote())  # warm: the actor is up, its encoder imported
    rows: dict[str, list[dict[str, float]]] = {"frames": [], "bytes": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeats):
            # uint8 frames through the object store; the API node encodes.
            t0, c0 = time.perf_counter(), _cpu_s()
            frames = ray.get(src.as_frames.remote())
            t1 = time.perf_counter()
            encode_mp4(frames, Path(tmp) / f"a{i}.mp4", 24)
            rows["frames"].append({"wall_s": time.perf_counter() - t0, "transfer_s": t1 - t0,
                                   "api_cpu_s": _cpu_s() - c0, "moved_bytes": float(frames.nbytes)})
            del frames
            # Encoded bytes; the API node only writes them.
            t0, c0 = time.perf_counter(), _cpu_s()
            data, worker_encode_s = ray.get(src.as_mp4.remote())
            (Path(tmp) / f"b{i}.mp4").write_bytes(data)
            rows["bytes"].append({"wall_s": time.perf_counter() - t0, "worker_encode_s": worker_encode_s,
                                  "api_cpu_s": _cpu_s() - c0, "moved_bytes": float(len(data))})
    ray.kill(src)
    med = {k: {f: float(np.median([r[f] for r in v])) for f in v[0]} for k, v in rows.items()}
    return {"shape": "x".join(map(str, shape)), "median": med, "runs": rows}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--shapes", default="33x480x832,81x480x832", help="frames x height x width, comma-separated")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--no-write", action="store_true")
    args = p.parse_args(argv)
    import ray
    from ray.cluster_utils import Cluster

    shapes = [tuple(int(v) for v in s.split("x")) for s in args.shapes.split(",")]
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    cluster.add_node(num_cpus=1, resources={"vgpu": 1}, object_store_memory=1_500_000_000)
    try:
        ray.init(address=cluster.address, log_to_driver=False)
        results = [measure(s, args.repeats) for s in shapes]  # type: ignore[arg-type]
    finally:
        ray.shutdown()
        cluster.shutdown()
    print(f"{'shape':>14} | {'path':>6} | {'moved MB':>9} | {'wall s':>7} | {'API-node CPU s':>14}")
    for r in results:
        for path in ("frames", "bytes"):
            m = r["median"][path]
            print(f"{r['shape']:>14} | {path:>6} | {m['moved_bytes'] / 1e6:9.2f} | {m['wall_s']:7.2f} | "
                  f"{m['api_cpu_s']:14.2f}")
    if not args.no_write:
        out = write_result({"benchmark": "ray-transfer", "created_at": time.time(), "machine": machine_info(),
                            "settings": {"repeats": args.repeats, "codec": "h264 crf18 medium",
                                         "cluster": "local: head + 1 worker raylet"},
                            "results": results})
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
