"""One job, start to files on disk, and how its outcome is reported: the same code in the local worker
process, the Ray actor and the in-process engine. Transport-free: progress goes through ``emit``, the
outcome comes back as a ``JobDone`` or ``JobFailed`` for the host to send however it sends."""

from __future__ import annotations

import logging
import os
import time
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING

from server.engine.base import EventType, Stage, WorkResult
from server.engine.failures import classify_failure, free_memory
from server.engine.messages import JobDone, JobFailed, RunJob
from server.engine.runtime.emit import Emit, StepClock

if TYPE_CHECKING:
    from pipelines.generate import VideoGenerator

log = logging.getLogger(__name__)

ShouldStop = Callable[[], bool]


class RankLost(Exception):
    """A rank of this worker's context-parallel group died during the job: the job's failure is the
    group's, not the job's (the engine sees the worker exit and retries the job)."""


def run_and_report(gen: VideoGenerator, job: RunJob, worker_id: str, emit: Emit, should_stop: ShouldStop,
                   rank_lost: Callable[[], bool] | None = None) -> JobDone | JobFailed:
    """Run ``job`` and return its outcome: STARTED first, then the run's events; a failure classified
    once for every engine. ``rank_lost``: asked after an internal failure; True raises RankLost."""
    emit(EventType.STARTED, {"worker_id": worker_id, "pid": os.getpid(), "device": str(gen.device)})
    log.info("job %s: started (%s)", job.job_id, job.spec.model)
    try:
        result = run_job(gen, job, worker_id, emit, should_stop)
    except (BrokenPipeError, ConnectionResetError):
        raise  # the parent is gone: not a job failure
    except Exception as exc:
        failure = classify_failure(exc)
        if failure.internal and rank_lost is not None and rank_lost():
            raise RankLost from exc  # a collective failed because a rank died
        if failure.internal:
            log.error("job %s: failed\n%s", job.job_id, traceback.format_exc())
        else:
            log.info("job %s: %s: %s", job.job_id, failure.code, failure.message)
        if failure.out_of_memory:
            free_memory(gen.device)
        return JobFailed(job.job_id, failure)
    log.info("job %s: completed in %.2fs", job.job_id, result.timings.get("total_s", 0.0))
    return JobDone(result, time.time())


def run_job(gen: VideoGenerator, job: RunJob, worker_id: str, emit: Emit, should_stop: ShouldStop) -> WorkResult:
    """Generate (or re-post), then post-process or encode; reports through ``emit``."""
    from pipelines.core.errors import GenerationCancelled
    from pipelines.outputs import write_outputs
    from server.engine.runtime.post_step import post_result, repost_result

    if job.reposts:
        return repost_result(gen, job, worker_id, emit, should_stop)  # frames exist: post stage only
    clock = StepClock(emit)
    result = gen.generate(job.spec, on_step=clock.on_step, should_stop=should_stop, on_stage=clock.on_stage)
    if should_stop():
        # Cancelled after the last step (during decode): do not spend time encoding a video nobody wants.
        raise GenerationCancelled(job.spec.steps, job.spec.steps)
    if job.post is not None:
        return post_result(gen, job, result, worker_id, emit, should_stop)
    emit(EventType.STAGE, {"stage": Stage.ENCODING})
    job.output_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    files = write_outputs(result, job.output_dir / "video.mp4", extra=job.sidecar_extra)
    timings = {**result.timings, "encode_s": time.perf_counter() - t0}
    return WorkResult.of_files(job.job_id, files, timings, result.peak_memory_bytes, worker_id)

