"""GPU utilization and memory per worker from NVML, read at scrape time when NVML is present.

The API process does not import torch; NVML (``nvidia-ml-py``'s ``pynvml``, shipped with the
CUDA image) is a small C library binding that reads the driver's counters without a CUDA context.
Without it, or without a GPU, these series are simply absent; worker-reported memory
(``vidserve_gpu_memory_*_bytes``) still comes from the workers themselves.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from prometheus_client import CollectorRegistry, Gauge

from server.engine.base import WorkerInfo

log = logging.getLogger(__name__)
_CUDA_INDEX = re.compile(r"cuda:(\d+)")


class NvmlGauges:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.utilization = Gauge("vidserve_gpu_utilization_percent", "GPU busy percent (NVML) per worker",
                                 ["worker", "device"], registry=registry)
        self.memory_used = Gauge("vidserve_gpu_memory_used_bytes", "GPU memory in use (NVML) per worker",
                                 ["worker", "device"], registry=registry)
        self._nvml: Any = None
        self._tried = False

    def _init(self) -> Any:
        if not self._tried:
            self._tried = True
            try:
                import pynvml

                pynvml.nvmlInit()
                self._nvml = pynvml
            except Exception as exc:  # not installed, no driver, no GPU: all the same here
                log.debug("NVML not available (%s); GPU utilization metrics off", exc)
        return self._nvml

    def update(self, workers: list[WorkerInfo]) -> None:
        nvml = self._init()
        if nvml is None:
            return
        for w in workers:
            m = _CUDA_INDEX.search(w.device)
            if not m or not w.alive:
                continue
            try:
                handle = nvml.nvmlDeviceGetHandleByIndex(int(m.group(1)))
                self.utilization.labels(w.worker_id, w.device).set(nvml.nvmlDeviceGetUtilizationRates(handle).gpu)
                self.memory_used.labels(w.worker_id, w.device).set(nvml.nvmlDeviceGetMemoryInfo(handle).used)
            except Exception as exc:  # a GPU that fell off the bus must not break /metrics
                log.warning("NVML read failed for %s (%s): %s", w.worker_id, w.device, exc)
