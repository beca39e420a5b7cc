"""``JobDispatcher``: feeds queued jobs to idle engine workers and records what happens to them.

Engine events become job progress (persisted at most once a second per job, and on every stage
change), SSE events and metrics; a retryable failure (a crashed worker) is requeued once; every
terminal state is written and announced (``JobFinished``, to the subscribers: the API renders it for
the SSE stream and the webhook) from one place: ``finish``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from server.engine.base import Engine, EngineError, EngineEvent, EventType, WorkItem, WorkResult
from server.jobs.events import FinishedListener, JobEvents, JobFinished
from server.jobs.metrics import JobMetrics
from server.jobs.models import MAX_ATTEMPTS, REPOST_SOURCE, Job, JobState, Outcome
from server.jobs.progress import POST_SPAN, REPOST_SPAN, JobProgress
from server.jobs.provenance import lora_key, workflow_record
from server.jobs.queue import JobQueue
from server.jobs.store import JobStore

log = logging.getLogger(__name__)

FLUSH_INTERVAL_S = 1.0


class JobDispatcher:
    def __init__(
        self,
        store: JobStore,
        queue: JobQueue,
        engine: Engine,
        events: JobEvents,
        metrics: JobMetrics,
        outputs_dir: Path,
        retention_s: float,
    ) -> None:
        self.store, self.queue, self.engine = store, queue, engine
        self.events, self.metrics = events, metrics
        self._finished: list[FinishedListener] = []
        self.outputs_dir = outputs_dir
        self.retention_s = retention_s
        self.live: dict[str, JobProgress] = {}
        self.running: dict[str, asyncio.Task[None]] = {}
        self.cancel_requested: set[str] = set()
        self.tails: dict[str, float] = {}  # model -> seconds from last step to done
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        # worker id -> LoRA set of the last job it started (what it has loaded): the queue prefers those.
        self.worker_loras: dict[str, str] = {}
        self._progress_writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="job-progress")

    # --- lifecycle ---

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._loop_task = self._loop.create_task(self._run_loop(), name="job-dispatcher")

    async def stop(self) -> None:
        if self._loop_task is not None:
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)
        # A graceful stop puts running jobs back in line without spending their retry; after a
        # crash they are found in_progress instead and requeued once (JobService.recover).
        interrupted = list(self.running)
        for task in list(self.running.values()):
            task.cancel()
        await asyncio.gather(*self.running.values(), return_exceptions=True)
        for job_id in interrupted:
            job = self.store.get(job_id)
            if job is not None and job.state is JobState.IN_PROGRESS:
                log.info("job %s: interrupted by shutdown; queued again", job_id)
                self.store.update(job_id, state=JobState.QUEUED, attempts=max(0, job.attempts - 1), stage=None,
                                  progress=0, eta_seconds=None)
        # An engine thread may still deliver events for the jobs just put back; after stop they are
        # dropped here rather than written to a store that is about to close.
        self.live.clear()
        await asyncio.to_thread(self._progress_writer.shutdown, wait=True)  # queued progress lands first
        self._progress_writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="job-progress")
        self._loop = None

    def on_finished(self, listener: FinishedListener) -> None:
        """Call ``listener`` with every terminal state, in the order ``finish`` writes them."""
        self._finished.append(listener)

    def wake(self) -> None:
        self._wake.set()

    async def _run_loop(self) -> None:
        while True:
            self._wake.clear()
            try:
                self._fill()
            except Exception:
                log.exception("dispatcher: error while dispatching")
            # The timeout catches capacity that comes back without a wake (a worker restarted).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=0.5)

    def _capacity(self) -> int:
        if not self.engine.ready():
            return 0
        alive = sum(1 for w in self.engine.workers() if w.alive)
        return max(0, min(self.engine.idle_workers(), alive - len(self.running)))

    def _fill(self) -> None:
        moved = False
        while len(self.queue) and self._capacity() > 0:
            job_id = self.queue.pop(self._loaded_lora_sets())
            if job_id is None:
                break
            moved = True
            job = self.store.get(job_id)
            if job is None or job.state is not JobState.QUEUED:
                continue
            job.attempts += 1
            job.state = JobState.IN_PROGRESS
            # Not waited for here (a commit on the loop would stall every request behind the writer):
            # _run_job waits for it before the job reaches a worker.
            dispatched = self.store.update_later(job.id, state=job.state, attempts=job.attempts, stage=None,
                                                 progress=0, eta_seconds=None, error_code=None, error_message=None)
            self.metrics.queue_wait_seconds.observe(max(0.0, time.time() - job.created_at))
            self.live[job.id] = JobProgress(job.model, post_span=_post_span(job), attempt=job.attempts)
            log.info("job %s: dispatched (attempt %d, priority %d)", job.id, job.attempts, job.priority)
            self.running[job.id] = asyncio.get_running_loop().create_task(self._run_job(job, dispatched),
                                                                               name=f"job-{job.id}")
        if moved:
            self.publish_positions()

    def publish_positions(self) -> None:
        if not self.events.watched():
            return
        positions = self.queue.positions()
        for job_id in self.events.watched():
            if job_id in positions:
                self.events.publish(job_id, "queued", {"id": job_id, "state": "queued",
                                                       "queue_position": positions[job_id]})

    # --- one job ---

    async def _run_job(self, job: Job, dispatched: Future[Any]) -> None:
        item = WorkItem(
            job_id=job.id,
            spec=job.spec,
            output_dir=self.outputs_dir / job.id,
            sidecar_extra={"job": {"id": job.id, "group_id": job.group_id, "metadata": job.metadata,
                                   **({"source_video_id": job.source_video_id} if job.source_video_id else {})},
                           "workflow": workflow_record(job)},
            post=job.post,
            source_frames=self.outputs_dir / job.id / REPOST_SOURCE if job.source_video_id else None,
        )
        try:
            await asyncio.wrap_future(dispatched)  # its attempt is on disk before a worker sees it
            if job.id in self.cancel_requested:
                await self.finish_async(job.id, Outcome(JobState.CANCELLED, "cancelled", "cancelled before it started"))
                return
            result = await self.engine.run(item, self._on_event_threadsafe)
        except asyncio.CancelledError:
            raise
        except EngineError as exc:
            await self._failed(job, exc)
        except Exception as exc:
            log.exception("job %s: unexpected error from the engine", job.id)
            await self.finish_async(job.id, Outcome(JobState.FAILED, "internal", f"{exc.__class__.__name__}: {exc}"))
        else:
            await self._completed(job, result)
        finally:
            self.running.pop(job.id, None)
            self.cancel_requested.discard(job.id)
            self.wake()

    async def _failed(self, job: Job, exc: EngineError) -> None:
        if exc.code == "cancelled" or job.id in self.cancel_requested:
            await self.finish_async(job.id, Outcome(JobState.CANCELLED, "cancelled", exc.message or "cancelled"))
        elif exc.retryable and job.attempts < MAX_ATTEMPTS:
            log.warning("job %s: %s (%s); requeued for attempt %d", job.id, exc.code, exc.message, job.attempts + 1)
            self.live.pop(job.id, None)
            self.store.update(job.id, state=JobState.QUEUED, stage=None, progress=0, eta_seconds=None)
            self.queue.push(job.id, job.priority, job.seq, job.key_id, force=True, affinity=lora_key(job.spec))
            self.events.publish(job.id, "queued", {"id": job.id, "state": "queued", "retry": True,
                                                   "reason": exc.code})
        else:
            await self.finish_async(job.id, Outcome(JobState.FAILED, exc.code, exc.message))

    async def _completed(self, job: Job, result: WorkResult) -> None:
        live = self.live.get(job.id)
        tail = live.tail_seconds() if live else None
        # The tail estimates decode+encode for the next job of this model; a post stage would inflate it.
        if tail is not None and job.post is None:
            self.tails[job.model] = tail
        started = self.store.get(job.id)
        if started is not None and started.started_at is not None:
            self.metrics.job_seconds.labels(job.model).observe(time.time() - started.started_at)
        self.metrics.observe_stages(job.model, result.timings)
        await self.finish_async(job.id, Outcome(
            JobState.COMPLETED, files=result.files,
            timings={**result.timings, "peak_memory_bytes": result.peak_memory_bytes}, worker_id=result.worker_id))

    def _on_event_threadsafe(self, event: EngineEvent) -> None:
        loop = self._loop
        if loop is None:
            return
        if threading.get_ident() == self._loop_thread:
            self._on_event(event)
        else:
            loop.call_soon_threadsafe(self._on_event, event)

    def _on_event(self, event: EngineEvent) -> None:
        live = self.live.get(event.job_id)
        if live is None:
            return  # a late event from a job already finished or requeued
        job_id = event.job_id
        if event.type is EventType.STARTED:
            worker = event.data.get("worker_id")
            started = self.store.get(job_id)
            if worker and started is not None:
                self.worker_loras[str(worker)] = lora_key(started.spec)
            # Advisory (when and where it started): queued behind the loop, not waited for.
            self.store.update_later(job_id, started_at=event.at, worker_id=worker).add_done_callback(
                functools.partial(_log_failed_write, job_id=job_id, what="its start"))
            log.info("job %s: started on %s", job_id, worker)
            self.events.publish(job_id, "started", {"id": job_id, "state": "in_progress", "worker_id": worker})
            return
        if event.type is EventType.STAGE and "done" in event.data:
            # post-stage frames done/total (the worker sends these a few times a second at most)
            live.on_post(int(event.data["done"]), event.data.get("total"))
            if time.monotonic() - live.last_flush >= FLUSH_INTERVAL_S:
                self._flush(job_id, live)
            self.events.publish(job_id, "progress", {**self._progress_data(job_id, live),
                                                     "frames_done": event.data["done"],
                                                     "frames_total": event.data.get("total")})
            return
        if event.type is EventType.STAGE:
            live.on_stage(str(event.data.get("stage")), self.tails)
            self._flush(job_id, live)
            self.events.publish(job_id, "stage", self._progress_data(job_id, live))
            return
        if event.type is EventType.STEP:
            step_s = event.data.get("step_seconds")
            live.on_step(int(event.data["step"]), int(event.data["total"]),
                         float(step_s) if step_s is not None else None, self.tails)
            if step_s is not None:
                self.metrics.step_seconds.labels(live.model).observe(float(step_s))
            if time.monotonic() - live.last_flush >= FLUSH_INTERVAL_S or live.step == live.total:
                self._flush(job_id, live)
            self.events.publish(job_id, "progress", self._progress_data(job_id, live))

    def _flush(self, job_id: str, live: JobProgress) -> None:
        """Persist progress behind the event loop: a status poll reads live progress from memory, and
        a sync-to-disk on the loop (or waiting for the write lock while a burst of submissions
        commits) would stall every other request. One writer thread keeps the writes in order."""
        live.last_flush = time.monotonic()
        self._progress_writer.submit(self._write_progress, job_id, live.attempt, live.stage, live.progress,
                                     live.eta_seconds)

    def _write_progress(self, job_id: str, attempt: int, stage: str | None, progress: int,
                        eta_seconds: float | None) -> None:
        try:
            self.store.update_progress(job_id, attempt, stage=stage, progress=progress, eta_seconds=eta_seconds)
        except Exception:  # progress is advisory; the job's outcome is written on the loop
            log.exception("job %s: could not record progress", job_id)

    @staticmethod
    def _progress_data(job_id: str, live: JobProgress) -> dict[str, Any]:
        return {"id": job_id, "state": "in_progress", "stage": live.stage, "progress": live.progress,
                "step": live.step, "total": live.total, "eta_seconds": live.eta_seconds}

    # --- terminal states: one place ---

    def finish(self, job_id: str, outcome: Outcome) -> Job | None:
        """Write a terminal state (this thread waits for the commit), then announce it."""
        self.store.update(job_id, **self._terminal_values(job_id, outcome))
        return self._announce(job_id, outcome)

    async def finish_async(self, job_id: str, outcome: Outcome) -> Job | None:
        """``finish`` on the event loop: the loop serves other requests while the commit lands, and
        the outcome is announced (events, webhooks) only once it is on disk."""
        await self.store.update_async(job_id, **self._terminal_values(job_id, outcome))
        return self._announce(job_id, outcome)

    def _terminal_values(self, job_id: str, outcome: Outcome) -> dict[str, Any]:
        now = time.time()
        values: dict[str, Any] = {
            "state": outcome.state, "completed_at": now, "error_code": outcome.error_code,
            "error_message": outcome.error_message, "eta_seconds": None,
            "expires_at": now + self.retention_s if self.retention_s > 0 else None,
        }
        live = self.live.pop(job_id, None)  # from here late events of the job are ignored
        if outcome.state is JobState.COMPLETED:
            values.update(progress=100, stage=None, files=outcome.files or {}, timings=outcome.timings or {})
            if outcome.worker_id:
                values["worker_id"] = outcome.worker_id
        elif live is not None:
            values.update(progress=live.progress, stage=live.stage)
        return values

    def _announce(self, job_id: str, outcome: Outcome) -> Job | None:
        state, error_code, error_message = outcome.state, outcome.error_code, outcome.error_message
        job = self.store.get(job_id)
        if job is None:
            return None
        self.metrics.finished.labels(state.value, job.model).inc()
        self.metrics.outcomes.labels(state.value, error_code or "", job.model).inc()
        level = logging.INFO if state is JobState.COMPLETED else logging.WARNING
        log.log(level, "job %s: %s%s", job_id, state.value, f" ({error_code}: {error_message})" if error_code else "")
        event = JobFinished(job)
        for listener in self._finished:
            try:
                listener(event)
            except Exception:  # the outcome is written; a listener's failure must not undo it
                log.exception("job %s: a finished-job listener failed", job_id)
        return job

    def _loaded_lora_sets(self) -> set[str]:
        idle = {w.worker_id for w in self.engine.workers() if w.alive and w.busy_job is None}
        return {key for wid, key in self.worker_loras.items() if wid in idle}

    def progress_of(self, job_id: str) -> JobProgress | None:
        return self.live.get(job_id)


def _log_failed_write(done: Future[Any], job_id: str, what: str) -> None:
    if not done.cancelled() and done.exception() is not None:
        log.error("job %s: could not record %s: %s", job_id, what, done.exception())


def _post_span(job: Job) -> tuple[int, int] | None:
    if job.post is None:
        return None
    return REPOST_SPAN if job.source_video_id else POST_SPAN
