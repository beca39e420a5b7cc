"""The post stage inside a worker: after a generation (``post_result``) or on its own over a finished
job's frames (``repost_result``, no denoising). Transport-free like ``job_run.run_job``, which calls
these; torch-free at import (``run_post`` imports models only for the steps a spec asks for).

Progress: ``stage`` events carrying ``done``/``total`` post frames, at most ``PROGRESS_INTERVAL_S``
apart (a fast encode would otherwise flood the pipe with one message per frame), and always the last.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from server.engine.base import EventType, Stage, WorkResult
from server.engine.messages import RunJob
from server.engine.runtime.emit import Emit

if TYPE_CHECKING:
    from pipelines.generate import VideoGenerator
    from pipelines.post.spec import PostSpec
    from pipelines.result import VideoResult

log = logging.getLogger(__name__)

PROGRESS_INTERVAL_S = 0.25


def post_spec(job: RunJob, weights_dir: Path) -> PostSpec:
    """The job's stored post spec with this worker's weights folder (``<weights_dir>/post``)."""
    from pipelines.post.spec import PostSpec

    assert job.post is not None
    return PostSpec.model_validate({**job.post, "weights_dir": str(weights_dir / "post")})


def progress_emitter(emit: Emit) -> Callable[[int, int | None], None]:
    last = [0.0]

    def on_progress(done: int, total: int | None) -> None:
        now = time.monotonic()
        if now - last[0] >= PROGRESS_INTERVAL_S or (total is not None and done >= total):
            last[0] = now
            emit(EventType.STAGE, {"stage": Stage.POST, "done": done, "total": total})

    return on_progress


def post_result(gen: VideoGenerator, job: RunJob, result: VideoResult, worker_id: str, emit: Emit,
                should_stop: Callable[[], bool]) -> WorkResult:
    """Post-process a finished generation instead of the plain encode."""
    from pipelines.post.deliver import write_post_outputs

    spec = post_spec(job, gen.locator.weights_dir)
    emit(EventType.STAGE, {"stage": Stage.POST})
    t0 = time.perf_counter()
    files = write_post_outputs(result, spec, job.output_dir, job.sidecar_extra, on_progress=progress_emitter(emit),
                               should_stop=should_stop, device=str(gen.device))
    post_s = time.perf_counter() - t0
    log.info("job %s: post stage done in %.2fs", job.job_id, post_s)
    timings = {**result.timings, "post_s": post_s}
    return WorkResult.of_files(job.job_id, files, timings, result.peak_memory_bytes, worker_id)


def repost_result(gen: VideoGenerator, job: RunJob, worker_id: str, emit: Emit,
                  should_stop: Callable[[], bool]) -> WorkResult:
    """The post stage again on a finished job's frames (``job.source_frames``); no model is loaded."""
    from pipelines.core.errors import InvalidSpec
    from pipelines.post.deliver import write_repost_outputs

    source = job.source_frames
    assert source is not None
    if not source.is_file():
        raise InvalidSpec("source_video_id", str(source), "the source frames are gone")
    spec = post_spec(job, gen.locator.weights_dir)
    emit(EventType.STAGE, {"stage": Stage.POST})
    t0 = time.perf_counter()
    files = write_repost_outputs(source, spec, job.output_dir, job.sidecar_extra,
                                 source_sidecar=source.with_suffix(".json"), on_progress=progress_emitter(emit),
                                 should_stop=should_stop, device=str(gen.device))
    post_s = time.perf_counter() - t0
    log.info("job %s: re-post done in %.2fs", job.job_id, post_s)
    return WorkResult.of_files(job.job_id, files, {"post_s": post_s, "total_s": post_s}, None, worker_id)
