"""Settings of the Ray engine's parts, in a module that imports neither ray nor torch (the API
process builds them; the bridge child and the actors receive them pickled)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class PoolConfig:
    weights_dir: Path
    model_paths: dict[str, Path] = field(default_factory=dict)
    workers: int | None = None        # actors; None = one per unit of ``resource`` in the cluster
    resource: str = "GPU"             # "GPU" (num_gpus=1) or a custom resource name (tests: a stand-in)
    device: str = "cuda"              # what the actor passes to VideoGenerator
    dtype: str | None = None
    max_models: int = 1
    preload: list[str] = field(default_factory=list)  # models each actor loads once it is up
    cpu_threads: int | None = None
    # VideoGenerator options every actor gets (attention, compile, memory budget and floor, fp8).
    generator_options: dict[str, Any] = field(default_factory=dict)
    num_cpus: float = 1.0             # CPUs each actor reserves
    heartbeat_s: float = 2.0
    event_timeout_s: float = 30.0     # a running job's stream silent this long = the worker is lost
    call_timeout_s: float = 20.0      # probes and cancels
    probe_interval_s: float = 2.0
    acquire_timeout_s: float = 60.0   # a run waits this long for an idle worker
    log_level: int = logging.INFO



@dataclass(frozen=True)
class BridgeConfig:
    address: str                      # "" starts a private single-machine Ray; "auto" or host:port joins one
    pool: PoolConfig
    namespace: str = "vidserve"
    connect_timeout_s: float = 60.0
    # Ray ends a driver after this long without its GCS; the parent then restarts the bridge,
    # which waits for the cluster to come back.
    gcs_reconnect_timeout_s: int = 15
    # No worker actor alive this long (the cluster went away, or came back as a new cluster that
    # this driver cannot use): the bridge exits, and the parent starts a fresh one that reconnects.
    no_worker_exit_s: float = 20.0
    init_kwargs: dict[str, Any] | None = None
    log_level: int = logging.INFO
