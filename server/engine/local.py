"""LocalEngine: one worker subprocess per GPU (or one CPU worker), one job at a time per worker.

Runs inside the API process, so it never imports torch: workers are started with the *spawn*
method and only the child imports the pipelines. Everything here runs on the event loop thread:
the worker pipes and process sentinels are watched with ``loop.add_reader``, so events reach
``on_event`` on the loop thread and a worker that dies (SIGKILL, segfault, OOM killer) is seen
at once through its sentinel, fails its job with ``WorkerCrashed`` and is started again.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import multiprocessing as mp
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, assert_never

from server.engine.base import (
    EngineError,
    EngineEvent,
    EventType,
    WorkerCrashed,
    WorkerInfo,
    WorkItem,
    WorkResult,
)
from server.engine.devices import cpu_threads_per_worker, group_devices, plan_devices, visible_gpus
from server.engine.handles import (
    NoIdleWorker,
    OnEvent,
    RunningJob,
    WorkerProcess,
    WorkerSlot,
    describe_exit,
)
from server.engine.messages import (
    WORKER_COMMANDS,
    WORKER_REPORTS,
    JobDecoder,
    JobDone,
    JobEvent,
    JobFailed,
    MalformedMessage,
    RunJob,
    StatusReport,
    Stop,
    WorkerReady,
    WorkerReport,
)
from server.engine.runtime.config import WorkerConfig
from server.engine.waiting import StateSignal, acquire_idle
from server.engine.worker import worker_main

log = logging.getLogger(__name__)

_MAX_MESSAGES_PER_WAKE = 256


class LocalEngine:
    """The default engine: worker subprocesses on this machine. See ``server.engine.base.Engine``."""

    def __init__(
        self,
        weights_dir: Path,
        model_paths: Mapping[str, Path] | None = None,
        devices: list[str] | None = None,
        dtype: str | None = None,
        max_models: int = 1,
        preload: list[str] | None = None,
        start_timeout: float = 120.0,
        stop_timeout: float = 10.0,
        log_level: int | None = None,
        generator_options: dict[str, Any] | None = None,
        context_parallel: int = 1,
        context_parallel_kind: str = "ulysses",
    ) -> None:
        self._generator_options = dict(generator_options or {})
        # >1: each worker owns that many devices and runs a job across all of them.
        self._context_parallel = context_parallel
        self._context_parallel_kind = context_parallel_kind
        self._weights_dir = Path(weights_dir)
        self._model_paths = {k: Path(v) for k, v in (model_paths or {}).items()}
        self._devices = list(devices) if devices is not None else None
        self._dtype = dtype
        self._max_models = max_models
        self._preload = list(preload or [])
        self._start_timeout = start_timeout
        self._stop_timeout = stop_timeout
        self._log_level = log_level if log_level is not None else log.getEffectiveLevel()
        self._ctx = mp.get_context("spawn")
        self._workers: list[WorkerSlot] = []
        self._cpu_threads: int | None = None
        self._waiting: dict[str, bool] = {}  # job id -> cancelled, for runs waiting for an idle worker
        self._loop: asyncio.AbstractEventLoop | None = None
        self._signal = StateSignal()
        self._stopping = False
        self._decode = JobDecoder()

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Start every worker and wait until all are ready (or the start timeout passes).

        Raises EngineError when no worker came up at all; workers that are late keep starting."""
        if self._workers and not self._stopping:
            return  # already started
        self._loop = asyncio.get_running_loop()
        self._stopping = False
        gpus = await asyncio.to_thread(visible_gpus) if self._devices is None else visible_gpus()
        plans = group_devices(plan_devices(self._devices, gpus), self._context_parallel)
        self._cpu_threads = cpu_threads_per_worker(plans)
        self._workers = [WorkerSlot(f"worker-{i}", plan) for i, plan in enumerate(plans)]
        log.info("starting %d worker(s): %s", len(plans), ", ".join(p.label for p in plans))
        for w in self._workers:
            self._spawn(w)
        await self.wait_ready(timeout=self._start_timeout)
        if not self.ready():
            await self.stop()
            raise EngineError(f"no worker came up within {self._start_timeout:.0f}s; see the worker logs above")

    async def stop(self) -> None:
        """Stop the workers: running jobs fail with WorkerCrashed (retryable), then ask, then kill."""
        self._stopping = True
        for w in self._workers:
            if w.restart_timer is not None:
                w.restart_timer.cancel()
            if w.job is not None:
                self._finish(w, exc=WorkerCrashed(f"engine stopped while job {w.job.job_id} was running"))
            if w.proc is not None:
                w.proc.cancel.value = True  # a job in the denoising loop stops at its next step
                with contextlib.suppress(OSError):  # already gone: its sentinel says so
                    w.proc.conn.send(WORKER_COMMANDS.encode(Stop()))
        procs = [w.proc for w in self._workers if w.proc is not None]
        await self._wait_exit(procs, self._stop_timeout)
        for p in procs:
            if not p.exited.done():
                log.warning("worker pid %s did not stop in %.0fs; killing it", p.process.pid, self._stop_timeout)
                p.process.kill()
        await self._wait_exit(procs, 5.0)
        self._signal.notify()

    async def wait_ready(self, count: int | None = None, timeout: float | None = None) -> bool:
        """Wait until ``count`` workers (default: all) are alive and idle; False on timeout."""
        want = len(self._workers) if count is None else count
        return await self._signal.wait_for(lambda: self.idle_workers() >= want, timeout)

    # -- the Engine protocol -----------------------------------------------------------------

    def ready(self) -> bool:
        return any(w.alive for w in self._workers)

    def idle_workers(self) -> int:
        return sum(1 for w in self._workers if w.idle)

    def workers(self) -> list[WorkerInfo]:
        """Memory is as of the worker's last job boundary (it is measured in the child)."""
        out = []
        for w in self._workers:
            st = w.status if w.alive else None
            out.append(WorkerInfo(
                worker_id=w.worker_id,
                device=w.plan.label,
                alive=w.alive,
                busy_job=w.job.job_id if w.job else None,
                loaded_models=list(st.loaded_models) if st else [],
                memory_total_bytes=st.memory_total_bytes if st else None,
                memory_free_bytes=st.memory_free_bytes if st else None,
                rank_pids=list(st.group_pids) if st else [],
            ))
        return out

    def worker_pid(self, worker_id: str) -> int | None:
        """The live process id of a worker (for operators and tests)."""
        for w in self._workers:
            if w.worker_id == worker_id and w.proc is not None:
                return w.proc.process.pid
        return None

    async def run(self, item: WorkItem, on_event: OnEvent) -> WorkResult:
        loop = self._running_loop()
        job = self._decode(item)  # a stored spec that fails its checks fails here: nothing is sent
        w = await self._acquire(job)
        p = w.proc
        assert p is not None  # _acquire returns only idle (so live) workers
        fut: asyncio.Future[WorkResult] = loop.create_future()
        w.job = RunningJob(item.job_id, fut, on_event)
        # The parent clears the flag before sending, never the child: a cancel that arrives
        # before the child has read the item must still count.
        p.cancel.value = False
        log.info("job %s: sent to %s on %s (pid %s)", item.job_id, w.worker_id, w.plan.label, p.process.pid)
        try:
            p.conn.send(WORKER_COMMANDS.encode(job))
        except OSError as exc:
            self._finish(w, exc=WorkerCrashed(f"job {item.job_id}: worker {w.worker_id} is gone: {exc}"))
        try:
            return await fut
        except asyncio.CancelledError:
            # The caller gave up (timeout, shutdown): stop the worker's work too. It stays busy
            # until the child reports back, so nothing new is sent to it mid-call.
            if w.job is not None and w.job.job_id == item.job_id and w.proc is p:
                p.cancel.value = True
            raise

    async def cancel(self, job_id: str) -> bool:
        for w in self._workers:
            if w.job is not None and w.job.job_id == job_id and w.proc is not None:
                w.proc.cancel.value = True
                log.info("job %s: cancel requested on %s", job_id, w.worker_id)
                return True
        if job_id in self._waiting:
            self._waiting[job_id] = True
            self._signal.notify()
            return True
        return False

    # -- choosing a worker -------------------------------------------------------------------

    async def _acquire(self, job: RunJob) -> WorkerSlot:
        model = job.spec.model
        w = await acquire_idle(self._signal, lambda: self._pick(model), self._waiting, job.job_id,
                               self._start_timeout)
        if w is None:
            raise NoIdleWorker(f"job {job.job_id}: no idle worker within {self._start_timeout:.0f}s "
                               f"({self.idle_workers()} idle of {len(self._workers)})")
        return w

    def _pick(self, model: str) -> WorkerSlot | None:
        idle = [w for w in self._workers if w.idle]
        # Prefer a worker that already holds the model: loading is the slowest part of a job.
        for w in idle:
            if w.holds(model):
                return w
        return idle[0] if idle else None

    # -- processes ---------------------------------------------------------------------------

    def _spawn(self, w: WorkerSlot) -> None:
        loop = self._running_loop()
        w.restart_timer = None
        parent_conn, child_conn = self._ctx.Pipe(duplex=True)
        cancel = self._ctx.RawValue(ctypes.c_bool, False)
        cfg = WorkerConfig(
            worker_id=w.worker_id, device=w.plan.device, cuda_visible_devices=w.plan.cuda_visible_devices,
            weights_dir=self._weights_dir, model_paths=self._model_paths, dtype=self._dtype,
            max_models=self._max_models, preload=self._preload,
            cpu_threads=self._cpu_threads if w.plan.device == "cpu" else None, log_level=self._log_level,
            generator_options=self._generator_options, context_parallel=w.plan.ranks,
            context_parallel_kind=self._context_parallel_kind,
        )
        process = self._ctx.Process(target=worker_main, args=(cfg, child_conn, cancel),
                                    name=f"vidserve-{w.worker_id}", daemon=True)
        process.start()
        child_conn.close()  # so the parent sees EOF when the child is gone
        p = WorkerProcess(process, parent_conn, cancel, time.monotonic(), loop.create_future())
        p.ready_timer = loop.call_later(self._start_timeout, self._on_start_timeout, w, p)
        w.proc = p
        loop.add_reader(parent_conn.fileno(), self._on_readable, w, p)
        loop.add_reader(process.sentinel, self._on_exit, w, p)
        log.info("%s: started pid %s on %s", w.worker_id, process.pid, w.plan.label)

    def _on_start_timeout(self, w: WorkerSlot, p: WorkerProcess) -> None:
        if not p.ready and w.proc is p:
            log.error("%s: not ready after %.0fs; killing pid %s", w.worker_id, self._start_timeout, p.process.pid)
            p.process.kill()  # the sentinel fires and _on_exit restarts it with backoff

    def _on_readable(self, w: WorkerSlot, p: WorkerProcess, limit: int | None = _MAX_MESSAGES_PER_WAKE) -> None:
        # Bounded, so a chatty worker cannot starve the rest of the loop (the reader fires again);
        # unbounded when draining a dead worker's pipe.
        handled = 0
        try:
            while (limit is None or handled < limit) and p.conn.poll():
                self._handle(w, p, WORKER_REPORTS.decode(p.conn.recv()))
                handled += 1
        except MalformedMessage as exc:
            self._refuse(w, p, exc)
        except (EOFError, OSError):
            # The child closed its end; its sentinel brings us to _on_exit. Stop polling the pipe.
            if not p.conn.closed:
                self._running_loop().remove_reader(p.conn.fileno())

    def _on_exit(self, w: WorkerSlot, p: WorkerProcess) -> None:
        loop = self._running_loop()
        loop.remove_reader(p.process.sentinel)
        # Read what the child sent before it died: a COMPLETED that raced the exit still counts.
        self._on_readable(w, p, limit=None)
        if not p.conn.closed:
            loop.remove_reader(p.conn.fileno())
            p.conn.close()
        # The sentinel closes as the child exits, a moment before it can be reaped.
        p.process.join(timeout=1.0)
        if p.ready_timer is not None:
            p.ready_timer.cancel()
        if not p.exited.done():
            p.exited.set_result(None)
        if w.proc is not p:
            return
        w.proc = None
        how = describe_exit(p.process.exitcode)
        if w.job is not None:
            job_id = w.job.job_id
            log.error("job %s: %s (pid %s) died (%s) while running it", job_id, w.worker_id, p.process.pid, how)
            self._finish(w, exc=WorkerCrashed(f"worker {w.worker_id} on {w.plan.label} died ({how}) "
                                              f"while running job {job_id}"))
        self._signal.notify()
        if self._stopping:
            log.info("%s: stopped (%s)", w.worker_id, how)
            return
        uptime = time.monotonic() - p.started_at
        delay = w.backoff.after_exit(uptime, healthy=p.ready)
        log.warning("%s: pid %s exited (%s) after %.1fs; restarting in %.0fs",
                    w.worker_id, p.process.pid, how, uptime, delay)
        w.restart_timer = loop.call_later(delay, self._respawn, w)

    def _respawn(self, w: WorkerSlot) -> None:
        if not self._stopping and w.proc is None:
            self._spawn(w)

    # -- messages from a worker --------------------------------------------------------------

    def _handle(self, w: WorkerSlot, p: WorkerProcess, report: WorkerReport) -> None:
        match report:
            case WorkerReady(status=status):
                p.ready = True
                if p.ready_timer is not None:
                    p.ready_timer.cancel()
                w.status = status
                log.info("%s: ready (pid %s, %.1fs)", w.worker_id, p.process.pid, time.monotonic() - p.started_at)
                self._signal.notify()
            case StatusReport(status=status):
                w.status = status
                self._signal.notify()
            case JobEvent(event=event):
                self._on_event(w, event)
            case JobDone():
                if w.job is not None and w.job.job_id == report.result.job_id:
                    self._on_event(w, report.event())
                    self._finish(w, result=report.result)
            case JobFailed(job_id=job_id, failure=failure):
                if w.job is None or w.job.job_id != job_id:
                    return  # the job was already given up (engine stopping)
                log.info("job %s: failed on %s: %s: %s", job_id, w.worker_id, failure.code, failure.message)
                self._finish(w, exc=failure.error())
            case _:
                assert_never(report)

    def _refuse(self, w: WorkerSlot, p: WorkerProcess, exc: MalformedMessage) -> None:
        """A worker that breaks the protocol is not trusted with its job or the next: fail the job
        with the reason and kill the process (its sentinel restarts it)."""
        log.error("%s (pid %s): %s; killing it", w.worker_id, p.process.pid, exc)
        p.ready = False  # takes no job while it dies (a restart after it counts as an unhealthy exit)
        if w.proc is p and w.job is not None:
            self._finish(w, exc=EngineError(f"job {w.job.job_id}: {exc}"))
        p.process.kill()

    def _on_event(self, w: WorkerSlot, ev: EngineEvent) -> None:
        job = w.job
        if job is None or job.job_id != ev.job_id:
            return
        if ev.type == EventType.STEP:
            log.debug("job %s: step %s/%s", ev.job_id, ev.data.get("step"), ev.data.get("total"))
        else:
            log.info("job %s: %s", ev.job_id, ev.data.get("stage") or ev.type.value)
        try:
            job.on_event(ev)
        except Exception:
            # A broken listener must not take the engine (or the job) down with it.
            log.exception("job %s: on_event callback failed", ev.job_id)

    def _finish(self, w: WorkerSlot, result: WorkResult | None = None, exc: EngineError | None = None) -> None:
        job, w.job = w.job, None
        if job is not None and not job.future.done():
            if exc is not None:
                job.future.set_exception(exc)
            else:
                job.future.set_result(result)  # type: ignore[arg-type]
        self._signal.notify()

    # -- helpers -----------------------------------------------------------------------------

    async def _wait_exit(self, procs: list[WorkerProcess], timeout: float) -> None:
        pending = [p.exited for p in procs if not p.exited.done()]
        if pending:
            await asyncio.wait(pending, timeout=timeout)

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise RuntimeError("LocalEngine.start() has not been awaited")
        return self._loop
