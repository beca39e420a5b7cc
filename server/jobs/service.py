"""``JobService``: what the API calls — submit, read, list, cancel, delete — over the store,
the queue and the dispatcher; plus startup recovery and the retention cleanup task."""

from __future__ import annotations

import asyncio
import functools
import logging
import shutil
import time
from pathlib import Path
from typing import Any

from pipelines.core.catalog import Catalog
from pipelines.core.spec import ResolvedSpec
from pipelines.families import check_sequence_split, plan_job_memory
from server.engine.base import Engine
from server.jobs.dispatcher import JobDispatcher
from server.jobs.errors import AdmissionRefused, JobNotFound
from server.jobs.events import FinishedListener, JobEvents
from server.jobs.metrics import JobMetrics
from server.jobs.models import MAX_ATTEMPTS, Job, JobState, Outcome
from server.jobs.provenance import lora_key
from server.jobs.queue import JobQueue, Reservation
from server.jobs.store import JobStore
from server.jobs.webhook_policy import WebhookRefused
from server.jobs.webhooks import WebhookSender

log = logging.getLogger(__name__)

CANCEL_WAIT_S = 10.0


class JobService:
    def __init__(
        self,
        *,
        data_dir: Path,
        engine: Engine,
        catalog: Catalog,
        queue_max: int,
        queue_max_per_key: int,
        retention_s: float,
        cleanup_interval_s: float,
        memory_limit_bytes: int | None,
        webhooks: WebhookSender,
        context_parallel: int = 1,
    ) -> None:
        self.data_dir = data_dir
        self.jobs_dir = data_dir / "jobs"
        self.jobs_dir.mkdir(parents=True, exist_ok=True)
        self.engine = engine
        self.catalog = catalog
        self.store = JobStore(data_dir / "jobs.sqlite3")
        self.queue = JobQueue(queue_max, queue_max_per_key)
        self.events = JobEvents()
        self.metrics = JobMetrics()
        self.webhooks = webhooks
        self.memory_limit_bytes = memory_limit_bytes
        self.context_parallel = context_parallel  # GPUs per job on every worker (settings)
        self.cleanup_interval_s = cleanup_interval_s
        self.dispatcher = JobDispatcher(self.store, self.queue, engine, self.events, self.metrics, self.jobs_dir,
                                        retention_s)
        self._cleanup_task: asyncio.Task[None] | None = None

    # --- lifecycle ---

    def on_finished(self, listener: FinishedListener) -> None:
        """Subscribe to every terminal state (before ``start``: recovery may finish jobs)."""
        self.dispatcher.on_finished(listener)

    async def start(self) -> None:
        self.recover()
        self.dispatcher.start()
        self._cleanup_task = asyncio.get_running_loop().create_task(self._cleanup_loop(), name="job-cleanup")

    async def stop(self) -> None:
        if self._cleanup_task is not None:
            self._cleanup_task.cancel()
            await asyncio.gather(self._cleanup_task, return_exceptions=True)
        await self.dispatcher.stop()
        await self.webhooks.close()
        self.store.close()

    def recover(self) -> None:
        """After a restart: queued jobs go back in line; interrupted ones are requeued once."""
        for job in self.store.in_states([JobState.QUEUED, JobState.IN_PROGRESS]):
            if job.state is JobState.IN_PROGRESS:
                if job.attempts >= MAX_ATTEMPTS:
                    self.dispatcher.finish(job.id, Outcome(
                        JobState.FAILED, "worker_crashed",
                        f"interrupted {job.attempts} times (worker or server died); not retried"))
                    continue
                log.warning("job %s: was running when the server stopped; requeued", job.id)
                self.store.update(job.id, state=JobState.QUEUED, stage=None, progress=0, eta_seconds=None)
            self.queue.push(job.id, job.priority, job.seq, job.key_id, force=True, affinity=lora_key(job.spec))
        if len(self.queue):
            log.info("recovered %d queued jobs from %s", len(self.queue), self.store.path)

    # --- submission ---

    def admit(self, spec: ResolvedSpec) -> None:
        """Refuse a job no worker could run: one its GPUs cannot hold (the planner's estimate), or
        one whose sequence does not split evenly across a multi-GPU worker."""
        entry = self.catalog.get(spec.model)
        if entry is None:
            return
        check_sequence_split(entry, spec, self.context_parallel)
        model, width, height, num_frames = spec.model, spec.width, spec.height, spec.num_frames
        totals = [w.memory_total_bytes for w in self.engine.workers() if w.memory_total_bytes]
        limit = max(totals) if totals else self.memory_limit_bytes
        if limit is None:
            return
        # The same planner the worker runs: refuse only when even the most frugal strategy cannot fit.
        plan = plan_job_memory(entry, spec, limit, ranks=self.context_parallel)
        if not plan.fits:
            raise AdmissionRefused(
                f"{model} at {width}x{height} with {num_frames} frames needs {plan.estimate.describe()}, more than "
                f"the {limit / 1024**3:.1f} GiB of the largest worker; lower width/height or num_frames",
                "num_frames",
            )

    def check_room(self, key_id: str, count: int) -> None:
        self.queue.check_room(key_id, count, self.retry_after_s())

    def retry_after_s(self) -> int:
        return 5 if not self.dispatcher.tails else max(1, int(min(self.dispatcher.tails.values())))

    async def submit(self, jobs: list[Job], idempotency: tuple[str, str] | None = None,
                     held: Reservation | None = None) -> tuple[list[Job], bool]:
        """Commit ``jobs`` (one transaction), then queue them. Returns (jobs, created).

        The commit (the store's writer thread, one sync to disk per group of submissions) and the
        webhook host check (a DNS lookup, in a thread) never run on the event loop, so a burst of
        submissions does not stall status polls and event streams; queueing happens back on the
        loop, after the commit. ``held``: the jobs' places, reserved by the caller
        before it wrote their inputs; from here they are released whatever happens."""
        # Places held from here to the commit's callback: submissions awaiting their commits together
        # cannot all pass a check made before any of them is queued.
        if held is None:
            held = self.queue.reserve(jobs[0].key_id, len(jobs), self.retry_after_s())
        try:
            if jobs[0].webhook_url and self.webhooks.policy is not None:
                try:
                    # every creation route passes here
                    await asyncio.to_thread(self.webhooks.policy.check, jobs[0].webhook_url)
                except WebhookRefused:
                    for job in jobs:  # the folders create_jobs made for inputs
                        shutil.rmtree(self.jobs_dir / job.id, ignore_errors=True)
                    raise
            commit = asyncio.ensure_future(self.store.create_async(jobs, idempotency))
        except BaseException:
            self.queue.release(held)
            raise
        # Queued from the commit's own callback: a client that hangs up mid-commit (the request is
        # cancelled) leaves a committed job, and that job must still run.
        commit.add_done_callback(functools.partial(self._queue_committed, held=held))
        stored, created = await asyncio.shield(commit)
        return [self.view(j) for j in stored], created

    def _queue_committed(self, commit: asyncio.Future[tuple[list[Job], bool]], held: Reservation) -> None:
        self.queue.release(held)
        if commit.cancelled() or commit.exception() is not None:
            return
        stored, created = commit.result()
        if not created:
            return
        for job in stored:
            self.queue.push(job.id, job.priority, job.seq, job.key_id, force=True, affinity=lora_key(job.spec))
            log.info("job %s: queued (%s %s, priority %d)", job.id, job.model, job.size, job.priority)
        self.dispatcher.wake()

    def new_dir(self, job_id: str) -> Path:
        path = self.jobs_dir / job_id
        path.mkdir(parents=True, exist_ok=True)
        return path

    # --- reading ---

    def get(self, job_id: str) -> Job:
        job = self.store.get(job_id)
        if job is None:
            raise JobNotFound(job_id)
        return self.view(job)

    def view(self, job: Job, positions: dict[str, int] | None = None) -> Job:
        """Overlay what only memory knows: live progress and place in the queue."""
        live = self.dispatcher.progress_of(job.id)
        if live is not None and job.state is JobState.IN_PROGRESS:
            job.stage, job.progress, job.eta_seconds = live.stage, live.progress, live.eta_seconds
        if job.state is JobState.QUEUED:
            job.queue_position = (positions or self.queue.positions()).get(job.id)
        return job

    def list(self, **kwargs: Any) -> tuple[list[Job], bool]:
        jobs, more = self.store.list(**kwargs)
        positions = self.queue.positions()
        return [self.view(j, positions) for j in jobs], more

    # --- cancel and delete ---

    async def cancel(self, job_id: str) -> Job:
        job = self.get(job_id)
        if job.state.terminal:
            return job
        if self.queue.remove(job_id):
            await self.dispatcher.finish_async(job_id, Outcome(JobState.CANCELLED, "cancelled",
                                                               "cancelled while queued"))
            self.dispatcher.publish_positions()
            return self.get(job_id)
        task = self.dispatcher.running.get(job_id)
        if task is None:
            await self.dispatcher.finish_async(job_id, Outcome(JobState.CANCELLED, "cancelled", "cancelled"))
            return self.get(job_id)
        self.dispatcher.cancel_requested.add(job_id)
        await self.engine.cancel(job_id)
        log.info("job %s: cancel requested while running", job_id)
        # Cancellation lands at the next step; wait a little so the answer is usually final.
        await asyncio.wait({task}, timeout=CANCEL_WAIT_S)
        return self.get(job_id)

    async def delete(self, job_id: str) -> None:
        job = self.get(job_id)
        if not job.state.terminal:
            await self.cancel(job_id)
            task = self.dispatcher.running.get(job_id)
            if task is not None:
                await asyncio.wait({task}, timeout=60)
        self._remove(job_id)

    def _remove(self, job_id: str) -> None:
        self.queue.remove(job_id)
        self.store.delete(job_id)
        shutil.rmtree(self.jobs_dir / job_id, ignore_errors=True)
        log.info("job %s: deleted with its files", job_id)

    def select(self, job_id: str, selected: bool) -> Job:
        """Mark a take as chosen (or not); lists filter on it."""
        self.get(job_id)
        self.store.update(job_id, selected=selected)
        log.info("job %s: %s", job_id, "selected" if selected else "unselected")
        return self.get(job_id)

    def file_of(self, job: Job, variant: str) -> Path | None:
        path = job.files.get(variant)
        return Path(path) if path and Path(path).is_file() else None

    # --- retention ---

    def cleanup_expired(self, now: float | None = None) -> int:
        expired = self.store.expired(now or time.time())
        for job in expired:
            if job.state.terminal:
                self._remove(job.id)
        return len(expired)

    async def _cleanup_loop(self) -> None:
        while True:
            try:
                n = self.cleanup_expired()
                if n:
                    log.info("retention: removed %d expired jobs", n)
            except Exception:
                log.exception("retention: cleanup failed")
            await asyncio.sleep(self.cleanup_interval_s)
