"""``InProcessEngine``: the Engine contract over one background thread of the API process.

For tests and `--engine inprocess` on a single device: no worker processes, so a crash in the
model takes the server with it (the local engine is the one for production). torch and
diffusers are imported inside the thread on first use, never when this module is imported.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from server.engine.base import EngineEvent, EventType, WorkerInfo, WorkItem, WorkResult
from server.engine.messages import JobDecoder, JobFailed, RunJob

log = logging.getLogger(__name__)

WORKER_ID = "inprocess-0"


@dataclass
class _Task:
    job: RunJob
    on_event: Callable[[EngineEvent], None]
    future: asyncio.Future[WorkResult]
    loop: asyncio.AbstractEventLoop


class InProcessEngine:
    def __init__(
        self,
        weights_dir: Path,
        model_paths: dict[str, Path] | None = None,
        device: str | None = None,
        dtype: str | None = None,
        preload: list[str] | None = None,
        generator_options: dict[str, Any] | None = None,
    ) -> None:
        self.weights_dir = weights_dir
        self.model_paths = model_paths or {}
        self.device = device
        self.dtype = dtype
        self.preload = preload or []
        # The VideoGenerator arguments local workers get (attention, compile, memory budget/strategy, fp8).
        self.generator_options = dict(generator_options or {})
        self._tasks: queue.Queue[_Task | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._busy: str | None = None
        self._pending = 0
        self._cancelled: set[str] = set()
        self._ready = threading.Event()
        self._device_name = "cpu"
        self._loaded: list[str] = []
        self._decode = JobDecoder()

    async def start(self) -> None:
        self._thread = threading.Thread(target=self._main, name="inprocess-engine", daemon=True)
        self._thread.start()
        # Readiness means torch imported and the generator built: a first job then only loads its model.
        await asyncio.get_running_loop().run_in_executor(None, self._ready.wait, 120.0)

    async def stop(self) -> None:
        self._tasks.put(None)
        if self._thread is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._thread.join, 10.0)

    def ready(self) -> bool:
        return self._ready.is_set() and self._thread is not None and self._thread.is_alive()

    def idle_workers(self) -> int:
        return 1 if self.ready() and self._pending == 0 else 0

    def workers(self) -> list[WorkerInfo]:
        return [WorkerInfo(WORKER_ID, self._device_name, self.ready(), self._busy, list(self._loaded), None, None)]

    async def run(self, item: WorkItem, on_event: Callable[[EngineEvent], None]) -> WorkResult:
        loop = asyncio.get_running_loop()
        job = self._decode(item)  # a stored spec that fails its checks fails here: nothing is queued
        future: asyncio.Future[WorkResult] = loop.create_future()
        self._pending += 1
        try:
            self._tasks.put(_Task(job, on_event, future, loop))
            return await future
        finally:
            self._pending -= 1
            self._cancelled.discard(item.job_id)

    async def cancel(self, job_id: str) -> bool:
        self._cancelled.add(job_id)
        return self._busy == job_id

    # --- the worker thread ---

    def _main(self) -> None:
        try:
            from pipelines.generate import VideoGenerator
            from pipelines.weights import WeightsLocator

            gen = VideoGenerator(WeightsLocator(self.weights_dir, self.model_paths), self.device, self.dtype,
                                 max_models=2, **self.generator_options)
            self._device_name = str(gen.device)
        except Exception:
            log.exception("in-process engine failed to start")
            return
        self._ready.set()
        for model in self.preload:
            self._preload(gen, model)
        while True:
            task = self._tasks.get()
            if task is None:
                return
            self._busy = task.job.job_id
            try:
                result: WorkResult | BaseException = self._run_one(gen, task)
            except BaseException as exc:  # handed to the awaiting coroutine, never lost in the thread
                result = exc
            finally:
                self._busy = None
            task.loop.call_soon_threadsafe(_settle, task.future, result)

    def _preload(self, gen: Any, model: str) -> None:
        try:
            gen.preload(model)
            self._loaded.append(model)
        except Exception as exc:
            log.warning("preload of %s failed: %s", model, exc)

    def _run_one(self, gen: Any, task: _Task) -> WorkResult:
        from server.engine.runtime.job_run import run_and_report

        job = task.job

        def emit(kind: EventType, data: dict[str, Any]) -> None:
            task.on_event(EngineEvent(job.job_id, kind, data, time.time()))

        # The same runner and failure classification as the worker subprocesses: generation, post
        # stage, re-post; OOM, a full disk, cancel, bad input, internal.
        outcome = run_and_report(gen, job, WORKER_ID, emit, lambda: job.job_id in self._cancelled)
        if isinstance(outcome, JobFailed):
            raise outcome.failure.error()
        if not job.reposts and job.spec.model not in self._loaded:
            self._loaded.append(job.spec.model)
        return outcome.result


def _settle(future: asyncio.Future[WorkResult], result: WorkResult | BaseException) -> None:
    if future.done():
        return
    if isinstance(result, BaseException):
        future.set_exception(result)
    else:
        future.set_result(result)
