"""`vidserve bench context-parallel`: one job on one device vs the same job across N ranks.

Both sides are vidserve's exact path with the same spec and seed; the group side is N processes
joined with torch.distributed (NCCL on GPUs, gloo on CPUs) as a multi-GPU worker runs them.
Reported: seconds per video and per step on each side, the speed-up and its scaling efficiency
(speed-up / N), peak memory per rank, and PSNR of the group's video against the single device's.
"""

from __future__ import annotations

import multiprocessing as mp
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.machine import host_peak_rss_bytes, machine_info
from benchmarks.quality import finite_or_none, psnr

Progress = Callable[[str], None]


@dataclass
class ContextParallelBenchConfig:
    model: str
    degree: int = 2
    kind: str = "ulysses"
    width: int | None = None
    height: int | None = None
    frames: int | None = None
    steps: int | None = None
    runs: int = 2
    seed: int = 0
    prompt: str = "a red boat sails across a calm blue ocean at sunset, cinematic"
    device: str = "cuda"  # "cuda": ranks on cuda:0..N-1 (the single side on cuda:0); "cpu": gloo ranks
    dtype: str | None = None
    attention: str | None = None
    synthetic: bool = False
    weights_dir: Path = Path("weights")
    cpu_threads: int | None = None  # per process on a CPU run


def _spec(cfg: ContextParallelBenchConfig) -> Any:
    from pipelines import resolve
    from pipelines.core.spec import GenerationSpec

    return resolve(GenerationSpec(model=cfg.model, prompt=cfg.prompt, width=cfg.width, height=cfg.height,
                                  num_frames=cfg.frames, steps=cfg.steps, seed=cfg.seed))


def _side(cfg: ContextParallelBenchConfig, rank: int | None) -> tuple[np.ndarray, list[dict[str, Any]], dict[str, Any]]:
    """Warm-up then ``cfg.runs`` timed runs on one side: ``rank`` None = the single device."""
    import torch

    from pipelines.generate import VideoGenerator
    from pipelines.parallel import ContextParallel, rank_device
    from pipelines.weights import WeightsLocation, WeightsLocator

    if cfg.cpu_threads:
        torch.set_num_threads(cfg.cpu_threads)
    device = rank_device(cfg.device, rank or 0)
    cp = ContextParallel(cfg.degree, cfg.kind) if rank is not None else None
    gen = VideoGenerator(WeightsLocator(cfg.weights_dir), device=device, dtype=cfg.dtype, attention=cfg.attention,
                         context_parallel=cp)
    spec = _spec(cfg)
    if cfg.synthetic:
        from benchmarks.synthetic import build_pipeline

        entry = gen.catalog.get(cfg.model)
        assert entry is not None
        # build_pipeline seeds itself: every rank builds the same weights.
        gen.cache.adopt(entry, WeightsLocation(cfg.model, Path("<synthetic>"), "synthetic", "synthetic", "synthetic"),
                        spec.mode, build_pipeline(cfg.model, device, gen.dtype), gen.memory_plan(spec)[1])
    gen.generate(spec)  # warm-up: kernels, allocator, first collectives
    runs = []
    frames = np.zeros(0)
    for _ in range(cfg.runs):
        if gen.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(gen.device)
        result = gen.generate(spec)
        frames = result.frames
        steps = result.step_seconds[1:] or result.step_seconds
        runs.append({"generate_s": result.timings["total_s"] - result.timings.get("load_s", 0.0),
                     "denoise_s": result.timings["denoise_s"], "step_s": statistics.median(steps),
                     "peak_allocated_bytes": result.peak_memory_bytes})
    return frames, runs, result.optimizations


def _rank_main(cfg: ContextParallelBenchConfig, rank: int, init: str, out: Any) -> None:
    import torch

    from pipelines.parallel import init_group, leave_group, rank_device

    init_group(rank, cfg.degree, init, torch.device(rank_device(cfg.device, rank)))
    try:
        frames, runs, opt = _side(cfg, rank)
        out.put((rank, frames if rank == 0 else None, runs, opt, None))
    except Exception as exc:  # reported to the parent, which fails with it
        out.put((rank, None, [], {}, f"{type(exc).__name__}: {exc}"))
    finally:
        leave_group()


def _group(cfg: ContextParallelBenchConfig) -> dict[int, tuple[Any, list[dict[str, Any]], dict[str, Any]]]:
    from pipelines.parallel import free_port_init_method

    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    init = free_port_init_method()
    procs = [ctx.Process(target=_rank_main, args=(cfg, r, init, out), daemon=True) for r in range(cfg.degree)]
    for p in procs:
        p.start()
    got = {}
    for _ in procs:
        rank, frames, runs, opt, error = out.get(timeout=3600)
        if error:
            raise RuntimeError(f"rank {rank}: {error}")
        got[rank] = (frames, runs, opt)
    for p in procs:
        p.join(timeout=60)
    return got


def _weights_kind(cfg: ContextParallelBenchConfig) -> str:
    from pipelines.weights import WeightsLocator

    if cfg.synthetic:
        return "synthetic"
    return "tiny-random" if WeightsLocator(cfg.weights_dir).require(cfg.model).tiny else "real"


def run_context_parallel_bench(cfg: ContextParallelBenchConfig, progress: Progress = lambda s: None) -> dict[str, Any]:
    import gc

    import torch

    progress(f"single device: {cfg.model}")
    single_frames, single_runs, single_opt = _side(cfg, None)
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()  # the group's rank 0 shares this GPU
    progress(f"{cfg.degree} ranks ({cfg.kind})")
    group = _group(cfg)
    group_frames, group_runs, group_opt = group[0]
    p = psnr(group_frames, single_frames)
    one = statistics.median(r["generate_s"] for r in single_runs)
    many = statistics.median(r["generate_s"] for r in group_runs)
    one_step = statistics.median(r["step_s"] for r in single_runs)
    many_step = statistics.median(r["step_s"] for r in group_runs)
    peaks = [max((r["peak_allocated_bytes"] or 0) for r in runs) for _, (_, runs, _) in sorted(group.items())]
    single_peak = max((r["peak_allocated_bytes"] or 0) for r in single_runs)
    return {
        "benchmark": "context-parallel", "schema": 1, "created_at": time.time(), "machine": machine_info(),
        "settings": asdict(cfg) | {"weights_dir": str(cfg.weights_dir), "resolved": _spec(cfg).model_dump(mode="json")},
        "weights": _weights_kind(cfg),
        "single": {"runs": single_runs, "optimizations": single_opt},
        "group": {"runs": group_runs, "optimizations": group_opt,
                  "per_rank_runs": {str(r): runs for r, (_, runs, _) in sorted(group.items())}},
        "host_peak_rss_bytes": host_peak_rss_bytes(),
        "summary": {
            "degree": cfg.degree, "kind": cfg.kind,
            "single_video_s": one, "group_video_s": many, "speedup_video": one / many,
            "single_step_s": one_step, "group_step_s": many_step, "speedup_step": one_step / many_step,
            "scaling_efficiency_step": one_step / many_step / cfg.degree,
            "single_peak_vram_gb": single_peak / 2**30 if single_peak else None,
            "max_rank_peak_vram_gb": max(peaks) / 2**30 if any(peaks) else None,
            "psnr_vs_single_db": finite_or_none(p), "identical_to_single": p == float("inf"),
        },
    }
