"""How a worker is built: the settings the engines hand every worker process, rank and Ray actor."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class WorkerConfig:
    worker_id: str
    device: str                      # "cuda" or "cpu": what the child passes to VideoGenerator
    cuda_visible_devices: str        # the child's CUDA_VISIBLE_DEVICES ("" hides every GPU)
    weights_dir: Path
    model_paths: dict[str, Path] = field(default_factory=dict)
    dtype: str | None = None
    max_models: int = 1
    preload: list[str] = field(default_factory=list)  # models loaded right after start
    cpu_threads: int | None = None   # torch intra-op threads; None leaves torch's default
    # Extra VideoGenerator arguments (attention, compile, memory_budget_bytes, memory_strategy).
    generator_options: dict[str, Any] = field(default_factory=dict)
    log_level: int = logging.INFO
    # >1: this worker owns that many devices and runs each job across all of them (server.engine.group).
    context_parallel: int = 1
    context_parallel_kind: str = "ulysses"
