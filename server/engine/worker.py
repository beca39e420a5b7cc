"""The worker subprocess: owns one device, keeps models loaded, runs one job at a time.

Started by ``server.engine.local.LocalEngine`` with the *spawn* start method. This module owns the
process and its pipe; what runs inside is ``server.engine.runtime``. Torch-free at import time (the
parent imports it for ``worker_main``); torch and diffusers are imported in the child only.

On the duplex pipe travel ``server.engine.messages``: ``WorkerCommand`` down (RunJob, Stop), and
``WorkerReport`` up: WorkerReady once the generator is built, JobEvent (STARTED, STAGE, STEP),
JobDone or JobFailed per job, StatusReport after every job and preload. A command that is none of
these is refused: the worker logs it and exits with ``EXIT_MALFORMED_COMMAND`` (the engine restarts it).
"""

from __future__ import annotations

import logging
import time
from multiprocessing.connection import Connection, wait
from typing import TYPE_CHECKING, Any, Protocol, assert_never

from server.engine.base import EngineEvent, EventType
from server.engine.child import JobStamp, setup_child
from server.engine.messages import (
    WORKER_COMMANDS,
    WORKER_REPORTS,
    GenerateOn,
    JobEvent,
    JobFailed,
    MalformedMessage,
    PreloadModel,
    RunJob,
    StatusReport,
    Stop,
    WorkerReady,
    WorkerReport,
    WorkerStatus,
)
from server.engine.runtime.config import WorkerConfig
from server.engine.runtime.emit import Emit

if TYPE_CHECKING:
    from pipelines.generate import VideoGenerator
    from server.engine.group import RankGroup

log = logging.getLogger(__name__)

EXIT_MALFORMED_COMMAND = 3


class CancelFlag(Protocol):
    """A shared byte the parent sets to ask for a stop (``multiprocessing.RawValue``). Lock-free on
    purpose: a worker killed while holding a lock (as ``mp.Event`` takes) would hang the parent."""

    value: Any


def worker_main(cfg: WorkerConfig, conn: Connection, cancel: CancelFlag) -> None:
    """Child process entry point. Returns (the process exits) on Stop or when the parent is gone."""
    # CUDA reads CUDA_VISIBLE_DEVICES at its first initialisation, not yet done in a fresh spawn child.
    # The parent decides when workers stop (Stop, then SIGKILL); without a parent the pipe ends the loop.
    stamp = setup_child(cfg.worker_id, cfg.log_level, cuda_visible_devices=cfg.cuda_visible_devices,
                        ignore_stop_signals=True)
    try:
        _Worker(cfg, conn, cancel, stamp).serve()
    except (EOFError, BrokenPipeError, ConnectionResetError):
        # The parent went away; nothing is left to report to.
        log.info("parent gone; worker exiting")
    except MalformedMessage as exc:
        log.error("%s; exiting so the engine restarts this worker", exc)
        raise SystemExit(EXIT_MALFORMED_COMMAND) from exc


class _Worker:
    def __init__(self, cfg: WorkerConfig, conn: Connection, cancel: CancelFlag, stamp: JobStamp) -> None:
        self.cfg = cfg
        self.conn = conn
        self.cancel = cancel
        self.stamp = stamp
        self.group: RankGroup | None = None
        self.gen: VideoGenerator | None = None

    def serve(self) -> None:
        from server.engine.group import RankGroup
        from server.engine.runtime.generator import make_generator

        # A multi-device worker: the other ranks start and join first (the model load needs them).
        self.group = RankGroup(self.cfg) if self.cfg.context_parallel > 1 else None
        self.gen = make_generator(self.cfg, 0)
        log.info("ready on %s (%s)", self.gen.device, str(self.gen.dtype).removeprefix("torch."))
        self.send(WorkerReady(self.status()))
        self.preload()
        while self.next_command():
            pass

    def preload(self) -> None:
        """After ready, not before: loading a large model can take minutes, and a job sent meanwhile
        simply waits in the pipe (and gets the model warm)."""
        from server.engine.runtime.generator import preload_model

        assert self.gen is not None
        for model in self.cfg.preload:
            if self.group is not None:
                self.group.tell(PreloadModel(model))
            preload_model(self.gen, model)
            self.send(StatusReport(self.status()))

    def next_command(self) -> bool:
        """Wait for and handle one command; False when the worker is to exit."""
        group = self.group
        if group is not None and self.conn not in wait([self.conn, *group.sentinels()]):
            self.group_intact()  # logs which rank died
            return False  # no job is lost: the engine restarts the group before sending the next one
        command = WORKER_COMMANDS.decode(self.conn.recv())
        match command:
            case Stop():
                log.info("stop requested; worker exiting")
                if group is not None:
                    group.tell(Stop())
                return False
            case RunJob():
                return self.run(command)
            case _:
                assert_never(command)

    def run(self, job: RunJob) -> bool:
        """Run one job and report it; False when the group broke (the worker exits, the engine
        restarts the group and, for a job that died with it, fails it as a retryable crash)."""
        from server.engine.runtime.job_run import RankLost, run_and_report

        assert self.gen is not None
        group = self.group
        if group is not None and not self.group_intact():
            return False  # before taking the job: the engine fails it as a crash and restarts the group
        if group is not None and not job.reposts:
            group.tell(GenerateOn(job.spec))
        self.stamp.job_id = job.job_id
        try:
            outcome = run_and_report(self.gen, job, self.cfg.worker_id, self.emit_for(job.job_id),
                                     lambda: bool(self.cancel.value),
                                     rank_lost=(lambda: not self.group_intact(wait_s=2.0)) if group else None)
        except RankLost:
            return False  # the engine sees this worker die with the job: a retryable crash
        finally:
            self.stamp.job_id = None
        self.send(outcome)
        self.send(StatusReport(self.status()))
        if group is not None:
            breaking = isinstance(outcome, JobFailed) and outcome.failure.breaks_group
            if breaking or not self.group_intact():
                log.error("job %s ended (%s) in a context-parallel group; restarting the group", job.job_id,
                          outcome.failure.code if isinstance(outcome, JobFailed) else "completed")
                return False
        return True

    def emit_for(self, job_id: str) -> Emit:
        def emit(kind: EventType, data: dict[str, Any]) -> None:
            self.send(JobEvent(EngineEvent(job_id, kind, data, time.time())))

        return emit

    def send(self, report: WorkerReport) -> None:
        self.conn.send(WORKER_REPORTS.encode(report))

    def group_intact(self, wait_s: float = 0.0) -> bool:
        assert self.group is not None
        dead = self.group.dead_ranks(wait_s)
        if dead:
            log.error("rank(s) %s of this worker's group died; exiting so the group restarts", dead)
        return not dead

    def status(self) -> WorkerStatus:
        from server.engine.runtime.generator import worker_status

        assert self.gen is not None
        return worker_status(self.gen, self.group.pids() if self.group is not None else None)
