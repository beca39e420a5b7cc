"""The worker as a Ray actor: one per GPU, the same run code (``server.engine.runtime``) as the local worker subprocess.

``RayWorker`` is a plain class; ``server.engine.ray_engine`` wraps it with ``ray.remote`` and the
resources it needs. It runs as a *threaded* actor (``max_concurrency`` > 1) so ``cancel`` and
``status`` are served while ``run`` is busy; ``run`` itself holds a lock, because a diffusers
pipeline must never be called concurrently.

``run`` takes a ``RunJob`` and is a streaming generator: every message of a job flows back to the
API node as one object in the stream, in order (``ActorReport`` in ``server.engine.messages``: events
and heartbeats, then a StatusReport and the job's FilesDone or JobFailed). The result travels as the
*encoded* files' bytes, not as frames: an MP4 is a small fraction of the uint8 frames it holds, and
encoding on the worker keeps that CPU work off the API node (``benchmarks/ray_transfer_bench.py`` measures both).
Torch-free at import, like ``worker.py``: the API node imports this module to build the actor class.
"""

from __future__ import annotations

import logging
import queue
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from server.engine.base import EngineEvent, EventType
from server.engine.child import setup_child
from server.engine.messages import (
    ACTOR_JOBS,
    ACTOR_REPORTS,
    ActorReport,
    FilesDone,
    Heartbeat,
    JobEvent,
    JobFailed,
    RunJob,
    StatusReport,
    WorkerStatus,
)
from server.engine.runtime.config import WorkerConfig
from server.engine.runtime.generator import preload_model, worker_status

if TYPE_CHECKING:
    from pipelines.generate import VideoGenerator

log = logging.getLogger(__name__)

# What the job's worker thread hands the stream: a report, or None when the job is over.
_Queue = queue.Queue[ActorReport | None]


@dataclass(frozen=True)
class RayWorkerConfig:
    worker: WorkerConfig
    heartbeat_s: float = 2.0


class RayWorker:
    def __init__(self, cfg: RayWorkerConfig) -> None:
        wc = cfg.worker
        self.cfg = cfg
        self.worker_id = wc.worker_id
        self._stamp = setup_child(wc.worker_id, wc.log_level)  # Ray set CUDA_VISIBLE_DEVICES itself

        from server.engine.runtime.generator import make_generator

        # Ray sets CUDA_VISIBLE_DEVICES to the GPU it granted this actor: "cuda" is that GPU.
        self.gen: VideoGenerator = make_generator(wc, 0)
        self._run_lock = threading.Lock()
        self._cancel: dict[str, threading.Event] = {}
        log.info("ready on %s (%s)", self.gen.device, str(self.gen.dtype).removeprefix("torch."))

    # -- served while a job runs (threaded actor) --------------------------------------------

    def status(self) -> WorkerStatus:
        """What the router needs: the models held, device memory, where this actor lives."""
        import ray

        ctx = ray.get_runtime_context()
        return replace(worker_status(self.gen), node_id=ctx.get_node_id(), node_ip=ray.util.get_node_ip_address())

    def cancel(self, job_id: str) -> bool:
        """Stop ``job_id`` at its next step; True if it was running here. A cancel may overtake the
        ``run`` call it is about (the two are served by different threads): the flag it leaves
        makes that run stop at once."""
        running = job_id in self._cancel
        self._cancel.setdefault(job_id, threading.Event()).set()
        log.info("job %s: cancel requested%s", job_id, "" if running else " (not started here yet)")
        return running

    def preload(self, models: list[str]) -> WorkerStatus:
        """Load ``models`` now (under the run lock: a job sent meanwhile waits and finds them warm)."""
        with self._run_lock:
            for model in models:
                preload_model(self.gen, model)  # the local worker's step: logs and goes on if a model cannot load
        return self.status()

    # -- one job -----------------------------------------------------------------------------

    def run(self, job: RunJob) -> Iterator[ActorReport]:
        """Run ``job`` and stream its messages. The work runs in a thread so this generator can
        send heartbeats while a step (or a model load) takes long."""
        job = ACTOR_JOBS.decode(job)  # refused loudly: the pool sees the stream fail
        stop = self._cancel.setdefault(job.job_id, threading.Event())
        out: _Queue = queue.Queue()
        worker = threading.Thread(target=self._work, args=(job, stop, out), name=f"job-{job.job_id}", daemon=True)
        worker.start()
        try:
            while True:
                try:
                    msg = out.get(timeout=self.cfg.heartbeat_s)
                except queue.Empty:
                    yield ACTOR_REPORTS.encode(Heartbeat(time.time()))
                    continue
                if msg is None:
                    return
                yield ACTOR_REPORTS.encode(msg)
        finally:
            # The API node gave up on the stream (it timed out, or the engine stopped): stop the work too.
            stop.set()

    def _work(self, job: RunJob, stop: threading.Event, out: _Queue) -> None:
        try:
            with self._run_lock:
                self._stamp.job_id = job.job_id
                try:
                    self._run_locked(job, stop, out)
                finally:
                    self._stamp.job_id = None
        finally:
            self._cancel.pop(job.job_id, None)
            out.put(None)

    def _run_locked(self, job: RunJob, stop: threading.Event, out: _Queue) -> None:
        from server.engine.runtime.job_run import run_and_report

        def emit(kind: EventType, data: dict[str, Any]) -> None:
            out.put(JobEvent(EngineEvent(job.job_id, kind, data, time.time())))

        # Files are written to a scratch folder on this node and shipped back as bytes: the API
        # node owns the output folder, and no disk is shared between nodes.
        scratch = Path(tempfile.mkdtemp(prefix=f"vidserve-{job.job_id}-"))
        try:
            outcome = run_and_report(self.gen, replace(job, output_dir=scratch), self.worker_id, emit, stop.is_set)
            out.put(StatusReport(self.status()))
            if isinstance(outcome, JobFailed):
                out.put(outcome)
                return
            result = outcome.result
            blobs = {key: (Path(path).name, Path(path).read_bytes()) for key, path in result.files.items()}
            log.info("job %s: returning %d files, %d bytes", job.job_id, len(blobs),
                     sum(len(b) for _, b in blobs.values()))
            out.put(FilesDone(result, blobs))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
