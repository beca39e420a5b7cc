"""RayEngine: GPU workers as Ray actors on a Ray cluster (``vidserve serve --engine ray``).

The API process imports neither ray nor torch: it starts one *bridge* child process
(``server.engine.ray_bridge``) that is the Ray driver and owns the worker actors
(``server.engine.ray_pool``), and mirrors the bridge's view of the workers. When the bridge dies
(the cluster went away and Ray ended its driver), running jobs fail with ``WorkerCrashed``
(requeued once by the job layer), ``ready()`` is False so ``/readyz`` answers 503 and the
dispatcher holds queued jobs, and the bridge is started again until the cluster is back.

The bridge is judged by what this process receives, not by what it says about itself: its event
loop sends a heartbeat every second, and a bridge silent for ``silence_s`` (stuck inside Ray, say)
is reported not ready at once, killed and started again. The check runs on the API's own loop,
which never waits on Ray.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing as mp
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, assert_never

from server.engine.base import EngineError, EngineEvent, WorkerCrashed, WorkerInfo, WorkItem, WorkResult
from server.engine.handles import describe_exit
from server.engine.messages import (
    BRIDGE_COMMANDS,
    BRIDGE_REPORTS,
    BridgeCommand,
    BridgeReport,
    BridgeState,
    CancelJob,
    Heartbeat,
    JobDecoder,
    JobDone,
    JobEvent,
    JobFailed,
    MalformedMessage,
    Stop,
)
from server.engine.ray_bridge import bridge_main
from server.engine.ray_config import BridgeConfig, PoolConfig
from server.engine.restarts import OnEvent, RestartBackoff
from server.engine.waiting import StateSignal

log = logging.getLogger(__name__)



@dataclass
class _Bridge:
    process: BaseProcess
    conn: Connection
    started_at: float
    exited: asyncio.Future[None]
    connected: bool = False
    workers: list[WorkerInfo] = field(default_factory=list)
    last_heard: float | None = None   # monotonic time of its last message of any kind
    killed_for: str | None = None     # why this process killed it


class RayEngine:
    """See ``server.engine.base.Engine``."""

    def __init__(
        self,
        address: str,
        weights_dir: Path,
        model_paths: Mapping[str, Path] | None = None,
        workers: int | None = None,
        resource: str = "GPU",
        device: str | None = None,
        dtype: str | None = None,
        max_models: int = 1,
        preload: list[str] | None = None,
        cpu_threads: int | None = None,
        num_cpus: float = 1.0,
        namespace: str = "vidserve",
        start_timeout: float = 180.0,
        stop_timeout: float = 20.0,
        event_timeout_s: float = 30.0,
        heartbeat_s: float = 2.0,
        gcs_reconnect_timeout_s: int = 15,
        bridge_silence_s: float = 10.0,
        init_kwargs: dict[str, Any] | None = None,
        log_level: int | None = None,
        generator_options: dict[str, Any] | None = None,
    ) -> None:
        level = log_level if log_level is not None else log.getEffectiveLevel()
        pool = PoolConfig(
            weights_dir=Path(weights_dir).resolve(), model_paths={k: Path(v) for k, v in (model_paths or {}).items()},
            workers=workers, resource=resource, device=device or ("cuda" if resource == "GPU" else "cpu"),
            dtype=dtype, max_models=max_models, preload=list(preload or []), cpu_threads=cpu_threads, num_cpus=num_cpus,
            heartbeat_s=heartbeat_s, event_timeout_s=event_timeout_s, log_level=level,
            generator_options=dict(generator_options or {}),
        )
        self._cfg = BridgeConfig(address=address, pool=pool, namespace=namespace,
                                 gcs_reconnect_timeout_s=gcs_reconnect_timeout_s, silence_s=bridge_silence_s,
                                 init_kwargs=init_kwargs, log_level=level)
        self._start_timeout = start_timeout
        self._stop_timeout = stop_timeout
        self._ctx = mp.get_context("spawn")
        self._bridge: _Bridge | None = None
        self._jobs: dict[str, tuple[asyncio.Future[WorkResult], OnEvent]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._signal = StateSignal()
        self._stopping = False
        self._backoff = RestartBackoff()
        self._restart: asyncio.TimerHandle | None = None
        self._liveness: asyncio.Task[None] | None = None
        self._decode = JobDecoder()

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the bridge and wait until every worker actor is up (or the start timeout passes);
        raises EngineError when none came up."""
        if self._bridge is not None and not self._stopping:
            return
        self._loop = asyncio.get_running_loop()
        self._stopping = False
        self._spawn()
        if self._liveness is None:
            self._liveness = self._loop.create_task(self._judge_bridge(), name="ray-bridge-liveness")
        await self.wait_ready(timeout=self._start_timeout)
        if not self.ready():
            await self.stop()
            raise EngineError(f"no Ray worker came up within {self._start_timeout:.0f}s "
                              f"(address {self._cfg.address or '(local)'}); see the bridge's log above")

    async def stop(self) -> None:
        self._stopping = True
        if self._restart is not None:
            self._restart.cancel()
        if self._liveness is not None:
            self._liveness.cancel()
            await asyncio.gather(self._liveness, return_exceptions=True)
            self._liveness = None
        b = self._bridge
        self._fail_all("engine stopped")
        if b is None:
            return
        with contextlib.suppress(OSError):
            _tell(b, Stop())
        await asyncio.wait([b.exited], timeout=self._stop_timeout)
        if not b.exited.done():
            log.warning("Ray bridge pid %s did not stop in %.0fs; killing it", b.process.pid, self._stop_timeout)
            b.process.kill()
            await asyncio.wait([b.exited], timeout=5.0)
        self._signal.notify()

    async def wait_ready(self, count: int | None = None, timeout: float | None = None) -> bool:
        """Wait until ``count`` workers (default: all that the bridge knows of) are idle."""
        def enough() -> bool:
            b = self._bridge
            if b is None or not b.connected or not b.workers:
                return False
            want = len(b.workers) if count is None else count
            return self.idle_workers() >= want
        return await self._signal.wait_for(enough, timeout)

    # -- the Engine protocol -----------------------------------------------------------------

    def ready(self) -> bool:
        b = self._bridge
        return b is not None and b.connected and any(w.alive for w in b.workers)

    def idle_workers(self) -> int:
        b = self._bridge
        if b is None or not b.connected:
            return 0
        idle = sum(1 for w in b.workers if w.alive and w.busy_job is None)
        alive = sum(1 for w in b.workers if w.alive)
        # The bridge's view lags the runs just sent; never report more than are not taken.
        return max(0, min(idle, alive - len(self._jobs)))

    def workers(self) -> list[WorkerInfo]:
        return list(self._bridge.workers) if self._bridge is not None else []

    def bridge_pid(self) -> int | None:
        """The Ray driver process now serving this engine (operators' logs, tests)."""
        b = self._bridge
        return b.process.pid if b is not None and not b.exited.done() else None

    async def run(self, item: WorkItem, on_event: OnEvent) -> WorkResult:
        loop = self._running_loop()
        job = self._decode(item)  # a stored spec that fails its checks fails here: nothing is sent
        b = self._bridge
        if b is None or not self.ready():
            raise WorkerCrashed(f"job {item.job_id}: the Ray cluster is not reachable")
        fut: asyncio.Future[WorkResult] = loop.create_future()
        self._jobs[item.job_id] = (fut, on_event)
        try:
            _tell(b, job)
        except OSError as exc:
            self._finish(item.job_id, exc=WorkerCrashed(f"job {item.job_id}: the Ray bridge is gone: {exc}"))
        try:
            return await fut
        except asyncio.CancelledError:
            with contextlib.suppress(OSError):
                _tell(b, CancelJob(item.job_id))
            raise
        finally:
            self._jobs.pop(item.job_id, None)
            self._signal.notify()

    async def cancel(self, job_id: str) -> bool:
        b = self._bridge
        if job_id not in self._jobs or b is None:
            return False
        try:
            _tell(b, CancelJob(job_id))
        except OSError:
            return False
        log.info("job %s: cancel requested", job_id)
        return True

    # -- the bridge process ------------------------------------------------------------------

    def _spawn(self) -> None:
        loop = self._running_loop()
        self._restart = None
        parent_conn, child_conn = self._ctx.Pipe(duplex=True)
        process = self._ctx.Process(target=bridge_main, args=(self._cfg, child_conn), name="vidserve-ray-bridge",
                                    daemon=True)
        process.start()
        child_conn.close()
        b = _Bridge(process, parent_conn, time.monotonic(), loop.create_future())
        self._bridge = b
        loop.add_reader(parent_conn.fileno(), self._on_readable, b)
        loop.add_reader(process.sentinel, self._on_exit, b)
        log.info("Ray bridge started (pid %s) for cluster %s", process.pid, self._cfg.address or "(local)")

    def _on_readable(self, b: _Bridge, limit: int | None = 256) -> None:
        handled = 0
        try:
            while (limit is None or handled < limit) and b.conn.poll():
                self._handle(b, BRIDGE_REPORTS.decode(b.conn.recv()))
                handled += 1
        except MalformedMessage as exc:
            # A bridge that breaks the protocol is not trusted: killed, its jobs fail, a fresh one starts.
            log.error("Ray bridge pid %s: %s; killing it", b.process.pid, exc)
            b.killed_for = "malformed message"
            for job_id in list(self._jobs):  # not a crash to retry: they fail with the reason
                self._finish(job_id, exc=EngineError(f"job {job_id}: {exc}"))
            b.process.kill()
        except (EOFError, OSError):
            if not b.conn.closed:
                self._running_loop().remove_reader(b.conn.fileno())

    def _on_exit(self, b: _Bridge) -> None:
        loop = self._running_loop()
        loop.remove_reader(b.process.sentinel)
        self._on_readable(b, limit=None)  # a result that raced the exit still counts
        if not b.conn.closed:
            loop.remove_reader(b.conn.fileno())
            b.conn.close()
        b.process.join(timeout=1.0)
        if not b.exited.done():
            b.exited.set_result(None)
        if self._bridge is not b:
            return
        how = describe_exit(b.process.exitcode)
        if b.killed_for:
            how = f"{how}, killed: {b.killed_for}"
        b.connected, b.workers = False, []
        self._fail_all(f"the Ray bridge exited ({how}): the cluster was lost")
        self._signal.notify()
        if self._stopping:
            log.info("Ray bridge stopped (%s)", how)
            return
        uptime = time.monotonic() - b.started_at
        delay = self._backoff.after_exit(uptime)
        log.error("Ray bridge pid %s exited (%s) after %.0fs; not ready; restarting it in %.0fs",
                  b.process.pid, how, uptime, delay)
        self._restart = loop.call_later(delay, self._respawn)

    def _respawn(self) -> None:
        if not self._stopping:
            self._spawn()

    async def _judge_bridge(self) -> None:
        """Kill a bridge that has gone silent: whatever it is stuck on, only a fresh one recovers."""
        cfg = self._cfg
        while True:
            await asyncio.sleep(min(1.0, cfg.heartbeat_s))
            b = self._bridge
            if b is None or b.exited.done() or b.killed_for or self._stopping:
                continue
            # What arrived while this loop was busy counts before judging.
            self._on_readable(b, limit=None)
            now = time.monotonic()
            if b.last_heard is None:
                silent, limit = now - b.started_at, cfg.start_grace_s
            else:
                silent, limit = now - b.last_heard, cfg.silence_s
            if silent <= limit:
                continue
            b.killed_for = f"no heartbeat for {silent:.0f}s"
            log.error("Ray bridge pid %s sent nothing for %.0fs (limit %.0fs); not ready; killing it",
                      b.process.pid, silent, limit)
            was = self.ready()
            b.connected, b.workers = False, []
            if was:
                log.warning("Ray engine NOT ready (the bridge is silent)")
            self._signal.notify()
            b.process.kill()  # _on_exit fails its jobs (retryable) and starts a new bridge

    def _handle(self, b: _Bridge, report: BridgeReport) -> None:
        b.last_heard = time.monotonic()
        match report:
            case Heartbeat():
                pass
            case BridgeState():
                if not b.killed_for:  # being killed: it no longer says whether the engine is ready
                    self._on_state(b, report)
            case JobEvent(event=event):
                self._forward(event)
            case JobDone():
                self._forward(report.event())
                self._finish(report.result.job_id, result=report.result)
            case JobFailed(job_id=job_id, failure=failure):
                self._finish(job_id, exc=failure.error())
            case _:
                assert_never(report)

    def _on_state(self, b: _Bridge, state: BridgeState) -> None:
        was = self.ready()
        b.connected = state.connected
        b.workers = list(state.workers)
        if was != self.ready():
            log.log(logging.INFO if self.ready() else logging.WARNING, "Ray engine %s (%d of %d workers up)",
                    "ready" if self.ready() else "NOT ready", sum(1 for w in b.workers if w.alive), len(b.workers))
        self._signal.notify()

    def _forward(self, ev: EngineEvent) -> None:
        entry = self._jobs.get(ev.job_id)
        if entry is not None:
            try:
                entry[1](ev)
            except Exception:
                log.exception("job %s: on_event callback failed", ev.job_id)

    def _finish(self, job_id: str, result: WorkResult | None = None, exc: EngineError | None = None) -> None:
        entry = self._jobs.get(job_id)
        if entry is None or entry[0].done():
            return
        if exc is not None:
            entry[0].set_exception(exc)
        else:
            entry[0].set_result(result)  # type: ignore[arg-type]

    def _fail_all(self, why: str) -> None:
        for job_id in list(self._jobs):
            log.error("job %s: %s", job_id, why)
            self._finish(job_id, exc=WorkerCrashed(f"job {job_id}: {why}"))

    # -- helpers -----------------------------------------------------------------------------

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise RuntimeError("RayEngine.start() has not been awaited")
        return self._loop


def _tell(b: _Bridge, command: BridgeCommand) -> None:
    b.conn.send(BRIDGE_COMMANDS.encode(command))
