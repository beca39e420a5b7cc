"""The parent's view of its worker processes: one slot per device, one record per process
incarnation (a restart makes a new one), and how a worker's exit is described.
Torch-free, like the rest of the parent side."""

from __future__ import annotations

import asyncio
import signal
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from server.engine.base import EngineError, WorkResult
from server.engine.devices import DevicePlan
from server.engine.messages import WorkerStatus
from server.engine.restarts import OnEvent, RestartBackoff


class NoIdleWorker(EngineError):
    """``run`` found no idle worker within the start timeout (all busy, or none came up)."""

    code = "no_worker"
    retryable = True


@dataclass
class RunningJob:
    job_id: str
    future: asyncio.Future[WorkResult]
    on_event: OnEvent


@dataclass
class WorkerProcess:
    """One incarnation of a worker process; a restart makes a new one."""

    process: BaseProcess
    conn: Connection
    cancel: Any                      # multiprocessing RawValue(c_bool), read by the child's should_stop
    started_at: float
    exited: asyncio.Future[None]
    ready: bool = False
    ready_timer: asyncio.TimerHandle | None = None


@dataclass
class WorkerSlot:
    worker_id: str
    plan: DevicePlan
    proc: WorkerProcess | None = None
    job: RunningJob | None = None
    status: WorkerStatus | None = None   # as of the worker's last job boundary
    backoff: RestartBackoff = field(default_factory=RestartBackoff)
    restart_timer: asyncio.TimerHandle | None = None

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.ready

    @property
    def idle(self) -> bool:
        return self.alive and self.job is None

    def holds(self, model: str) -> bool:
        return self.status is not None and model in self.status.loaded_models


def describe_exit(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"
