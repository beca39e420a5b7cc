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
    # Ray's workers lower their own priority to nice 15 (its ``worker_niceness``), so any nice-0 CPU
    # load on a node (a decode, another service, a CPU hog) takes ~30x their share of a core: an
    # actor then spent minutes importing torch beside one busy core. Ours run at this niceness.
    worker_niceness: int = 0
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
    # Liveness, judged by the API process: the bridge's event loop sends a heartbeat every
    # ``heartbeat_s``; silence past ``silence_s`` (``start_grace_s`` before the first message) and the
    # parent reports not ready at once, kills the bridge and starts a fresh one.
    heartbeat_s: float = 1.0
    silence_s: float = 10.0
    start_grace_s: float = 90.0
    # Inside the bridge, a watchdog thread (not the loop) probes the GCS port every
    # ``gcs_probe_s``; the loop asks the GCS for its nodes every ``cluster_check_s`` (answer within
    # ``cluster_check_timeout_s``). Either failing = not connected, reported at once (readyz 503).
    gcs_probe_s: float = 0.5
    cluster_check_s: float = 2.0
    cluster_check_timeout_s: float = 5.0
    # The watchdog thread ends the bridge (the parent restarts it) when the cluster stays unusable
    # this long, when its own loop stalls this long, or when no worker actor has been alive (nor
    # been started) for ``no_worker_exit_s`` while the cluster answers (e.g. it came back as a new
    # cluster that this driver cannot use).
    cluster_lost_exit_s: float = 20.0
    loop_stall_exit_s: float = 15.0
    no_worker_exit_s: float = 60.0
    init_kwargs: dict[str, Any] | None = None
    log_level: int = logging.INFO
