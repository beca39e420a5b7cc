"""``JobMetrics``: Prometheus series for the job layer, in a registry owned by the app (no globals)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from server.engine.base import WorkerInfo
from server.jobs.gpu_metrics import NvmlGauges


class JobMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.queue_depth = Gauge("vidserve_queue_depth", "Jobs waiting in the queue", registry=self.registry)
        self.jobs = Gauge("vidserve_jobs", "Jobs in the store by state", ["state"], registry=self.registry)
        self.finished = Counter(
            "vidserve_jobs_finished", "Jobs that reached a terminal state", ["state", "model"],
            registry=self.registry,
        )
        self.step_seconds = Histogram(
            "vidserve_step_seconds", "Seconds per denoising step", ["model"], registry=self.registry,
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 40, 80),
        )
        self.job_seconds = Histogram(
            "vidserve_job_seconds", "Seconds from start to finish of a completed job", ["model"],
            registry=self.registry, buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1200, 2400, 3600),
        )
        self.queue_wait_seconds = Histogram(
            "vidserve_queue_wait_seconds", "Seconds a job waited before a worker took it",
            registry=self.registry, buckets=(0.1, 1, 5, 15, 60, 300, 900, 3600),
        )
        self.gpu_memory_total = Gauge(
            "vidserve_gpu_memory_total_bytes", "Device memory per worker", ["worker", "device"],
            registry=self.registry,
        )
        self.gpu_memory_free = Gauge(
            "vidserve_gpu_memory_free_bytes", "Free device memory per worker", ["worker", "device"],
            registry=self.registry,
        )
        self.workers_alive = Gauge("vidserve_workers_alive", "Engine workers up", registry=self.registry)
        # Autoscaling hint (docs/ray.md): how many more workers holding each model would be busy.
        self.queue_depth_by_model = Gauge("vidserve_queue_depth_by_model", "Jobs waiting in the queue, per model",
                                          ["model"], registry=self.registry)
        self.workers_idle = Gauge("vidserve_workers_idle", "Engine workers up and without a job",
                                  registry=self.registry)
        # Outcomes by error code (cancelled, out_of_memory, worker_crashed, storage_full, ...; "" = success).
        self.outcomes = Counter("vidserve_job_outcomes", "Terminal jobs by state and error code",
                                ["state", "code", "model"], registry=self.registry)
        self.stage_seconds = Histogram(
            "vidserve_stage_seconds", "Seconds per stage of a completed job (load, text_encode, denoise, "
            "decode, audio_decode, encode, post)", ["model", "stage"], registry=self.registry,
            buckets=(0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800))
        self.nvml = NvmlGauges(self.registry)

    def observe_stages(self, model: str, timings: dict[str, Any]) -> None:
        for key, value in timings.items():
            if key.endswith("_s") and key != "total_s" and isinstance(value, int | float):
                self.stage_seconds.labels(model, key[:-2]).observe(float(value))

    def render(
        self, queue_depth: int, counts: dict[str, int], workers: list[WorkerInfo],
        states: Callable[[], list[str]], queued_by_model: dict[str, int] | None = None,
    ) -> bytes:
        self.queue_depth.set(queue_depth)
        if queued_by_model is not None:
            # Models seen before and no longer queued go to 0 rather than vanishing (scalers see the drop).
            for model in set(queued_by_model) | {labels[0] for labels in self._seen_models()}:
                self.queue_depth_by_model.labels(model).set(queued_by_model.get(model, 0))
        self.workers_idle.set(sum(1 for w in workers if w.alive and w.busy_job is None))
        self.nvml.update(workers)
        for state in states():
            self.jobs.labels(state).set(counts.get(state, 0))
        self.workers_alive.set(sum(1 for w in workers if w.alive))
        for w in workers:
            if w.memory_total_bytes is not None:
                self.gpu_memory_total.labels(w.worker_id, w.device).set(w.memory_total_bytes)
            if w.memory_free_bytes is not None:
                self.gpu_memory_free.labels(w.worker_id, w.device).set(w.memory_free_bytes)
        return generate_latest(self.registry)

    def _seen_models(self) -> list[tuple[str, ...]]:
        return [tuple(s.labels.values()) for m in self.queue_depth_by_model.collect() for s in m.samples]
