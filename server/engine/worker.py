"""The worker subprocess: owns one device, keeps models loaded, runs one WorkItem at a time.

Started by ``server.engine.local.LocalEngine`` with the *spawn* start method. This module is
torch-free at import time (the parent imports it for ``WorkerConfig``); torch and diffusers are
imported inside ``worker_main``, in the child only.

Wire protocol on the duplex pipe (all tuples, pickled by multiprocessing):

parent -> child   ("run", WorkItem) | ("stop",)
child -> parent   ("ready", status) once the generator is built
                  ("event", EngineEvent)   STARTED, STAGE, STEP, COMPLETED (data = WorkResult fields)
                  ("failed", job_id, code, message)   code is an EngineError ``code``
                  ("status", status)       after every job: loaded models and device memory
"""

from __future__ import annotations

import logging
import os
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from server.engine.base import EngineEvent, EventType, Stage, WorkItem, WorkResult
from server.engine.child import JobStamp, setup_child
from server.engine.failures import classify_failure, free_memory

if TYPE_CHECKING:
    from pipelines.core.spec import ResolvedSpec
    from pipelines.generate import VideoGenerator
    from server.engine.group import RankGroup

log = logging.getLogger(__name__)

Emit = Callable[[EventType, dict[str, Any]], None]


class CancelFlag(Protocol):
    """A shared byte the parent sets to ask for a stop (``multiprocessing.RawValue``). Lock-free on
    purpose: a worker killed while holding a lock (as ``mp.Event`` takes) would hang the parent."""

    value: Any


@dataclass(frozen=True)
class WorkerConfig:
    worker_id: str
    device: str                      # "cuda" or "cpu": what the child passes to VideoGenerator
    cuda_visible_devices: str        # the child's CUDA_VISIBLE_DEVICES ("" hides every GPU)
    weights_dir: Path
    model_paths: dict[str, Path] = field(default_factory=dict)
    dtype: str | None = None
    max_models: int = 1
    preload: list[str] = field(default_factory=list)  # models loaded right after start
    cpu_threads: int | None = None   # torch intra-op threads; None leaves torch's default
    # Extra VideoGenerator arguments (attention, compile, memory_budget_bytes, memory_strategy).
    generator_options: dict[str, Any] = field(default_factory=dict)
    log_level: int = logging.INFO
    # >1: this worker owns that many devices and runs each job across all of them (server.engine.group).
    context_parallel: int = 1
    context_parallel_kind: str = "ulysses"


def worker_main(cfg: WorkerConfig, conn: Connection, cancel: CancelFlag) -> None:
    """Child process entry point. Returns (the process exits) on ("stop",) or when the parent is gone."""
    # CUDA reads CUDA_VISIBLE_DEVICES at its first initialisation, not yet done in a fresh spawn child.
    # The parent decides when workers stop (("stop",), then SIGKILL); without a parent the pipe ends the loop.
    job_filter = setup_child(cfg.worker_id, cfg.log_level, cuda_visible_devices=cfg.cuda_visible_devices,
                             ignore_stop_signals=True)
    try:
        _serve(cfg, conn, cancel, job_filter)
    except (EOFError, BrokenPipeError, ConnectionResetError):
        # The parent went away; nothing is left to report to.
        log.info("parent gone; worker exiting")


def _serve(cfg: WorkerConfig, conn: Connection, cancel: CancelFlag, job_filter: JobStamp) -> None:
    from server.engine.failures import BREAKING_FAILURES
    from server.engine.group import RankGroup

    # A multi-device worker: the other ranks start and join first (the model load needs them).
    group = RankGroup(cfg) if cfg.context_parallel > 1 else None
    gen = make_generator(cfg, 0)
    log.info("ready on %s (%s)", gen.device, str(gen.dtype).removeprefix("torch."))
    conn.send(("ready", _status(gen, group)))
    # After "ready", not before: loading a large model can take minutes, and a job sent meanwhile
    # simply waits in the pipe (and gets the model warm).
    for model in cfg.preload:
        if group is not None:
            group.tell(("preload", model))
        preload_model(gen, model)
        conn.send(("status", _status(gen, group)))
    while True:
        if group is not None and conn not in wait([conn, *group.sentinels()]):
            _group_intact(group)  # logs which rank died
            return  # no job is lost: the engine restarts the group before sending the next one
        msg = conn.recv()
        if msg[0] == "stop":
            log.info("stop requested; worker exiting")
            if group is not None:
                group.tell(("stop",))
            return
        if msg[0] == "run":
            item: WorkItem = msg[1]
            if group is not None and not _group_intact(group):
                return  # before taking the job: the engine fails it as a crash and restarts the group
            if group is not None and item.source_frames is None:
                group.tell(("generate", item.spec))
            job_filter.job_id = item.job_id
            try:
                failure = _run_one(cfg, gen, item, conn, cancel, group)
            except _GroupBroken:
                return  # the engine sees this worker die with the job: a retryable crash
            finally:
                job_filter.job_id = None
            conn.send(("status", _status(gen, group)))
            if group is not None and (failure in BREAKING_FAILURES or not _group_intact(group)):
                log.error("job %s failed (%s) in a context-parallel group; restarting the group", item.job_id,
                          failure)
                return
        else:
            log.warning("ignoring unknown message %r", msg[0])


class _GroupBroken(Exception):
    """A rank of this worker's group died during the job."""


def _group_intact(group: RankGroup, wait_s: float = 0.0) -> bool:
    dead = group.dead_ranks(wait_s)
    if dead:
        log.error("rank(s) %s of this worker's group died; exiting so the group restarts", dead)
    return not dead


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


def _run_one(cfg: WorkerConfig, gen: VideoGenerator, item: WorkItem, conn: Connection,
             cancel: CancelFlag, group: RankGroup | None = None) -> str | None:
    """Run one item and report it; returns the failure code, None on success. Raises
    _GroupBroken instead of reporting a failure that a dead rank of the group caused."""
    job = item.job_id

    def emit(kind: EventType, data: dict[str, Any]) -> None:
        conn.send(("event", EngineEvent(job, kind, data, time.time())))

    emit(EventType.STARTED, {"worker_id": cfg.worker_id, "pid": os.getpid(), "device": str(gen.device)})
    log.info("job %s: started (%s)", job, item.spec.get("model"))
    try:
        result = run_item(gen, item, cfg.worker_id, emit, lambda: bool(cancel.value))
    except (BrokenPipeError, ConnectionResetError):
        raise  # the parent is gone: not a job failure
    except Exception as exc:
        failure = classify_failure(exc)
        if group is not None and failure.internal and not _group_intact(group, wait_s=2.0):
            raise _GroupBroken from exc  # a collective failed because a rank died
        if failure.internal:
            log.error("job %s: failed\n%s", job, traceback.format_exc())
        else:
            log.info("job %s: %s: %s", job, failure.code, failure.message)
        if failure.out_of_memory:
            free_memory(gen.device)
        conn.send(("failed", job, failure.code, failure.message))
        return failure.code
    emit(EventType.COMPLETED, asdict(result))
    log.info("job %s: completed in %.2fs", job, result.timings.get("total_s", 0.0))
    return None


def run_item(
    gen: VideoGenerator, item: WorkItem, worker_id: str, emit: Emit, should_stop: Callable[[], bool]
) -> WorkResult:
    """One item, start to files on disk, reporting through ``emit``. Transport-free, so a Ray actor
    can run the same code over its own channel."""
    from pipelines.core.errors import GenerationCancelled
    from pipelines.outputs import write_outputs
    from server.engine.post_step import post_result, repost_result

    if item.source_frames is not None:
        return repost_result(gen, item, worker_id, emit, should_stop)  # frames exist: post stage only
    spec = recheck(item.spec)
    last = [time.perf_counter()]

    def on_stage(name: str) -> None:
        if name in (Stage.DENOISING, Stage.REFINING):
            last[0] = time.perf_counter()  # a stage's first step counts from the start of its denoising
        emit(EventType.STAGE, {"stage": Stage(name)})

    def on_step(step: int, total: int) -> None:
        now = time.perf_counter()
        emit(EventType.STEP, {"step": step, "total": total, "step_seconds": now - last[0]})
        last[0] = now

    result = gen.generate(spec, on_step=on_step, should_stop=should_stop, on_stage=on_stage)
    if should_stop():
        # Cancelled after the last step (during decode): do not spend time encoding a video nobody wants.
        raise GenerationCancelled(spec.steps, spec.steps)
    if item.post is not None:
        return post_result(gen, item, result, worker_id, emit, should_stop)
    emit(EventType.STAGE, {"stage": Stage.ENCODING})
    item.output_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    files = write_outputs(result, item.output_dir / "video.mp4", extra=item.sidecar_extra)
    timings = {**result.timings, "encode_s": time.perf_counter() - t0}
    return WorkResult.of_files(item.job_id, files, timings, result.peak_memory_bytes, worker_id)


def recheck(raw: dict[str, Any]) -> ResolvedSpec:
    """The job layer resolved the spec at the edge; check it again here because a bad value that
    slipped through (or a stale queued job after a catalog change) must fail as invalid input,
    not as a shape error deep inside diffusers."""
    from pipelines import resolve
    from pipelines.core.spec import GenerationSpec, ResolvedSpec

    spec = ResolvedSpec.model_validate(raw)
    again = resolve(GenerationSpec(**spec.model_dump(exclude={"pipeline_class"})))
    return again


def _status(gen: VideoGenerator, group: RankGroup | None = None) -> dict[str, Any]:
    import torch

    total = free = None
    if gen.device.type == "cuda":
        free, total = torch.cuda.mem_get_info(gen.device)
    out = {"pid": os.getpid(), "loaded_models": gen.cache.loaded_ids(),
           "memory_total_bytes": total, "memory_free_bytes": free}
    if group is not None:
        out["group_pids"] = group.pids()
    return out
