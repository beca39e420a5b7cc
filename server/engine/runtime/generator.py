"""The generator a worker holds, built the same way in every host (worker process, rank, Ray actor),
its preload step, and the status it reports at job boundaries."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from server.engine.messages import WorkerStatus
from server.engine.runtime.config import WorkerConfig

if TYPE_CHECKING:
    from pipelines.generate import VideoGenerator

log = logging.getLogger(__name__)


def make_generator(cfg: WorkerConfig, rank: int) -> VideoGenerator:
    """The generator every worker builds, plus the group's context parallelism on multi-rank workers."""
    import torch

    from pipelines.generate import VideoGenerator
    from pipelines.parallel import ContextParallel, rank_device
    from pipelines.weights import WeightsLocator

    if cfg.cpu_threads and cfg.device == "cpu":
        # Several CPU workers on one machine would otherwise each grab every core.
        torch.set_num_threads(cfg.cpu_threads)
    cp = ContextParallel(cfg.context_parallel, cfg.context_parallel_kind) if cfg.context_parallel > 1 else None
    device = rank_device(cfg.device, rank) if cp else cfg.device
    return VideoGenerator(WeightsLocator(cfg.weights_dir, cfg.model_paths), device=device, dtype=cfg.dtype,
                          max_models=cfg.max_models, context_parallel=cp, **cfg.generator_options)


def preload_model(gen: VideoGenerator, model: str) -> None:
    try:
        seconds = gen.preload(model)  # loads, and warms up compiled blocks when compile is on
        log.info("preloaded %s in %.1fs", model, seconds)
    except Exception as exc:
        # A model that cannot load fails the jobs that ask for it, with the reason; the worker serves the rest.
        log.warning("preload %s failed: %s", model, exc)


def worker_status(gen: VideoGenerator, group_pids: list[int] | None = None) -> WorkerStatus:
    """Loaded models and device memory, measured here (the parent cannot see the device)."""
    import torch

    total = free = None
    if gen.device.type == "cuda":
        free, total = torch.cuda.mem_get_info(gen.device)
    return WorkerStatus(pid=os.getpid(), loaded_models=tuple(gen.cache.loaded_ids()), memory_total_bytes=total,
                        memory_free_bytes=free, group_pids=tuple(group_pids or ()), device=str(gen.device))
