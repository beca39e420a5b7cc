"""The worker as a Ray actor: one per GPU, the same ``run_item`` as the local worker subprocess.

``RayWorker`` is a plain class; ``server.engine.ray_engine`` wraps it with ``ray.remote`` and the
resources it needs. It runs as a *threaded* actor (``max_concurrency`` > 1) so ``cancel`` and
``status`` are served while ``run`` is busy; ``run`` itself holds a lock, because a diffusers
pipeline must never be called concurrently.

``run`` is a streaming generator: every message of a job flows back to the API node as one
object in the stream, in order (see ``Msg``). The result travels as the *encoded* files' bytes,
not as frames: an MP4 is a small fraction of the uint8 frames it holds, and encoding on the worker
keeps that CPU work off the API node (``benchmarks/ray_transfer_bench.py`` measures both).
Torch-free at import, like ``worker.py``: the API node imports this module to build the actor class.
"""

from __future__ import annotations

import logging
import os
import queue
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from server.engine.base import EngineEvent, EventType, WorkItem
from server.engine.child import setup_child
from server.engine.failures import classify_failure, free_memory
from server.engine.worker import WorkerConfig, preload_model, run_item

if TYPE_CHECKING:
    from pipelines.generate import VideoGenerator

log = logging.getLogger(__name__)

# Messages in a job's stream (tuples, so they pickle small):
#   ("event", EngineEvent)                   STARTED, STAGE, STEP
#   ("heartbeat", time)                      nothing new for HEARTBEAT_S: the worker is alive
#   ("failed", code, message, status)        code is an EngineError ``code``
#   ("completed", WorkResult fields, {key: (file name, bytes)}, status)
Msg = tuple[Any, ...]


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

        from server.engine.worker import make_generator

        # Ray sets CUDA_VISIBLE_DEVICES to the GPU it granted this actor: "cuda" is that GPU.
        self.gen: VideoGenerator = make_generator(wc, 0)
        self._run_lock = threading.Lock()
        self._cancel: dict[str, threading.Event] = {}
        log.info("ready on %s (%s)", self.gen.device, str(self.gen.dtype).removeprefix("torch."))

    # -- served while a job runs (threaded actor) --------------------------------------------

    def status(self) -> dict[str, Any]:
        """What the router needs: the models held, device memory, where this actor lives."""
        import ray

        total = free = None
        if self.gen.device.type == "cuda":
            import torch

            free, total = torch.cuda.mem_get_info(self.gen.device)
        ctx = ray.get_runtime_context()
        return {"pid": os.getpid(), "node_id": ctx.get_node_id(), "node_ip": ray.util.get_node_ip_address(),
                "loaded_models": self.gen.cache.loaded_ids(), "memory_total_bytes": total,
                "memory_free_bytes": free, "device": str(self.gen.device)}

    def cancel(self, job_id: str) -> bool:
        """Stop ``job_id`` at its next step; True if it was running here. A cancel may overtake the
        ``run`` call it is about (the two are served by different threads): the flag it leaves
        makes that run stop at once."""
        running = job_id in self._cancel
        self._cancel.setdefault(job_id, threading.Event()).set()
        log.info("job %s: cancel requested%s", job_id, "" if running else " (not started here yet)")
        return running

    def preload(self, models: list[str]) -> dict[str, Any]:
        """Load ``models`` now (under the run lock: a job sent meanwhile waits and finds them warm)."""
        with self._run_lock:
            for model in models:
                preload_model(self.gen, model)  # the local worker's step: logs and goes on if a model cannot load
        return self.status()

    # -- one job -----------------------------------------------------------------------------

    def run(self, item: WorkItem) -> Iterator[Msg]:
        """Run ``item`` and stream its messages. The work runs in a thread so this generator can
        send heartbeats while a step (or a model load) takes long."""
        stop = self._cancel.setdefault(item.job_id, threading.Event())
        out: queue.Queue[Msg | None] = queue.Queue()
        worker = threading.Thread(target=self._work, args=(item, stop, out), name=f"job-{item.job_id}", daemon=True)
        worker.start()
        try:
            while True:
                try:
                    msg = out.get(timeout=self.cfg.heartbeat_s)
                except queue.Empty:
                    yield ("heartbeat", time.time())
                    continue
                if msg is None:
                    return
                yield msg
        finally:
            # The API node gave up on the stream (it timed out, or the engine stopped): stop the work too.
            stop.set()

    def _work(self, item: WorkItem, stop: threading.Event, out: queue.Queue[Msg | None]) -> None:
        job = item.job_id
        try:
            with self._run_lock:
                self._stamp.job_id = job
                try:
                    self._run_locked(item, stop, out)
                finally:
                    self._stamp.job_id = None
        finally:
            self._cancel.pop(job, None)
            out.put(None)

    def _run_locked(self, item: WorkItem, stop: threading.Event, out: queue.Queue[Msg | None]) -> None:
        job = item.job_id

        def emit(kind: EventType, data: dict[str, Any]) -> None:
            out.put(("event", EngineEvent(job, kind, data, time.time())))

        emit(EventType.STARTED, {"worker_id": self.worker_id, "pid": os.getpid(), "device": str(self.gen.device)})
        log.info("job %s: started (%s)", job, item.spec.get("model"))
        # Files are written to a scratch folder on this node and shipped back as bytes: the API
        # node owns the output folder, and no disk is shared between nodes.
        scratch = Path(tempfile.mkdtemp(prefix=f"vidserve-{job}-"))
        try:
            try:
                result = run_item(self.gen, replace(item, output_dir=scratch), self.worker_id, emit, stop.is_set)
            except Exception as exc:
                failure = classify_failure(exc)
                if failure.internal:
                    log.exception("job %s: failed", job)
                else:
                    log.info("job %s: %s: %s", job, failure.code, failure.message)
                if failure.out_of_memory:
                    free_memory(self.gen.device)
                out.put(("failed", failure.code, failure.message, self.status()))
                return
            blobs = {key: (Path(path).name, Path(path).read_bytes()) for key, path in result.files.items()}
            size = sum(len(b) for _, b in blobs.values())
            log.info("job %s: completed in %.2fs; returning %d files, %d bytes",
                     job, result.timings.get("total_s", 0.0), len(blobs), size)
            out.put(("completed", asdict(result), blobs, self.status()))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
