"""The Ray driver, in a child process of the API server.

Why a child: a Ray driver whose cluster (GCS) stays unreachable is ended by Ray itself, and that
must not take the API down. This process connects to the cluster, owns the ``RayPool`` of worker
actors and writes each job's files (received as bytes through the object store) into the job's
output folder on the API node. ``server.engine.ray_engine.RayEngine`` starts it, restarts it when
it dies, and talks to it over one duplex pipe (``server.engine.messages``):

parent -> child   ``BridgeCommand``: RunJob | CancelJob | Stop
child -> parent   ``BridgeReport``: BridgeState on every change; Heartbeat every ``heartbeat_s``, from
                  the event loop; JobEvent (STARTED, STAGE, STEP); JobDone (files on the API node) or
                  JobFailed per job. A command that is none of these is refused: logged, and the
                  bridge exits (the parent restarts it).

Liveness never depends on the loop that the Ray calls run on alone. Every blocking Ray call runs
in a thread with a deadline (``server.engine.ray_calls``), so the loop keeps sending heartbeats;
the parent kills a bridge whose heartbeats stop, whatever Ray is doing inside it. A watchdog
thread here probes the GCS port (a plain TCP connect, no Ray involved), so a vanished cluster is
reported as not connected within a second, and ends the process when the cluster stays unusable,
when the loop stalls, or when the parent is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import threading
import time
from dataclasses import replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, assert_never

from server.engine.base import EngineError
from server.engine.child import setup_child
from server.engine.failures import Failure
from server.engine.messages import (
    BRIDGE_COMMANDS,
    BRIDGE_REPORTS,
    BridgeCommand,
    BridgeReport,
    BridgeState,
    CancelJob,
    FileBlobs,
    Heartbeat,
    JobDone,
    JobEvent,
    JobFailed,
    MalformedMessage,
    RunJob,
    Stop,
)
from server.engine.ray_calls import RayCalls
from server.engine.ray_config import BridgeConfig

log = logging.getLogger(__name__)

# Exit codes, for the parent's log.
EXIT_NO_CLUSTER = 3      # ray.init did not return
EXIT_NO_WORKER = 4       # no actor alive (nor starting) for no_worker_exit_s
EXIT_LOOP_STALLED = 5    # the event loop stopped turning
EXIT_CLUSTER_LOST = 6    # the cluster stayed unusable for cluster_lost_exit_s
EXIT_MALFORMED_COMMAND = 7  # the parent sent something that is not a BridgeCommand


def bridge_main(cfg: BridgeConfig, conn: Connection) -> None:
    # Ray reads its config from case-sensitive RAY_<name> variables.
    os.environ["RAY_gcs_rpc_server_reconnect_timeout_s"] = str(cfg.gcs_reconnect_timeout_s)  # noqa: SIM112
    # The parent decides when the bridge stops (("stop",), then SIGKILL), as for local workers.
    setup_child("ray-bridge", cfg.log_level, ignore_stop_signals=True)
    # Imported before the loop starts: the parent's start grace covers it, its heartbeat limit does not.
    import ray

    from server.engine.ray_pool import RayPool

    bridge = _Bridge(cfg, conn, RayPool)
    code = 0
    try:
        asyncio.run(bridge.serve())
    except (EOFError, BrokenPipeError, ConnectionResetError):
        log.info("parent gone; bridge exiting")
    except MalformedMessage as exc:
        log.error("%s; exiting so the server starts a fresh bridge", exc)
        code = EXIT_MALFORMED_COMMAND
    except Exception:
        log.exception("bridge failed")
        code = 1
    finally:
        bridge.watchdog.stop()
        if ray.is_initialized():
            # Bounded: ray.shutdown can block on a cluster that is gone; the actors die with this driver.
            done = threading.Thread(target=ray.shutdown, daemon=True)
            done.start()
            done.join(10.0)
        logging.shutdown()
        # Not a normal interpreter exit: a thread stuck in Ray would hold that up forever.
        os._exit(code)


class _Bridge:
    def __init__(self, cfg: BridgeConfig, conn: Connection, pool_cls: Any) -> None:
        self.cfg = cfg
        self.conn = conn
        self.initialized = False      # ray.init returned
        self.connected = False        # initialized, and the cluster answers (both checks below)
        self.gcs_address: str | None = None
        self.cluster_answers = True   # the last nodes() call answered in time
        self.calls = RayCalls(cfg.pool.call_timeout_s)
        self.checks = RayCalls(cfg.cluster_check_timeout_s, threads=1)  # never queued behind other calls
        self.pool = pool_cls(cfg.pool, self.calls)
        self.watchdog = _Watchdog(self)
        self.stop_requested = asyncio.Event()
        self.refused: MalformedMessage | None = None
        self.tasks: set[asyncio.Task[Any]] = set()

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_reader(self.conn.fileno(), self._on_readable)
        self._spawn(self._heartbeat())
        self.watchdog.start()
        self._send_state()
        await self._connect()
        self.pool.on_change(self._send_state)
        await self.pool.start()
        self._send_state()
        self._spawn(self._check_cluster())
        await self.stop_requested.wait()
        log.info("stop requested; stopping %d actor(s)", len(self.pool.slots))
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.pool.stop()
        self.calls.close()
        self.checks.close()
        if self.refused is not None:
            raise self.refused

    async def _connect(self) -> None:
        import ray

        address = self.cfg.address or None
        delay = 1.0
        while not self.stop_requested.is_set():
            t0 = time.monotonic()
            try:
                await self.calls(ray.init, address=address, namespace=self.cfg.namespace, log_to_driver=True,
                                 ignore_reinit_error=True, **(self.cfg.init_kwargs or {}),
                                 timeout=self.cfg.connect_timeout_s)
            except TimeoutError:
                # ray.init is stuck in its thread; only a fresh process gets a clean retry.
                log.error("no Ray cluster at %s within %.0fs; exiting so the server restarts the bridge",
                          address or "(local)", self.cfg.connect_timeout_s)
                os._exit(EXIT_NO_CLUSTER)
            except Exception as exc:
                log.warning("cannot reach the Ray cluster at %s (%s); retrying in %.0fs", address, exc, delay)
                await asyncio.sleep(delay)
                delay = min(30.0, delay * 2)
                continue
            with contextlib.suppress(Exception):
                self.gcs_address = str(ray.get_runtime_context().gcs_address)
            if self.gcs_address is None and ":" in (address or ""):
                self.gcs_address = address
            self.watchdog.gcs_address = self.gcs_address
            self.initialized = self.connected = True
            try:
                resources = await self.calls(ray.cluster_resources)
            except Exception as exc:
                resources = {"unknown": str(exc)}
            log.info("connected to Ray at %s (GCS %s) in %.1fs: %s", address or "(local)", self.gcs_address,
                     time.monotonic() - t0, {k: v for k, v in resources.items() if not k.startswith("node:")})
            return

    async def _heartbeat(self) -> None:
        """What the parent judges this process by; also where a change the watchdog saw is sent."""
        while True:
            self.watchdog.loop_tick = time.monotonic()
            self._send(Heartbeat(time.time()))
            was = self.connected
            self.connected = self._usable()
            if was != self.connected:
                log.log(logging.INFO if self.connected else logging.WARNING, "Ray cluster %s",
                        "reachable again" if self.connected else "unreachable: reporting not ready")
                self._send_state()
            await asyncio.sleep(self.cfg.heartbeat_s)

    def _usable(self) -> bool:
        return self.initialized and self.watchdog.gcs_reachable and self.cluster_answers

    async def _check_cluster(self) -> None:
        """Ask the GCS for its nodes, one call at a time: a GCS that accepts connections but does not
        answer (or no longer knows this driver) is as good as gone."""
        import ray

        while True:
            try:
                await self.checks(ray.nodes)
                answers = True
            except Exception as exc:  # TimeoutError or Ray's own errors
                answers = False
                if self.cluster_answers:
                    log.warning("the Ray GCS did not answer: %s", type(exc).__name__ if isinstance(
                        exc, TimeoutError) else f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
            self.cluster_answers = answers
            await asyncio.sleep(self.cfg.cluster_check_s)

    # -- the pipe ----------------------------------------------------------------------------

    def _send(self, report: BridgeReport) -> None:
        try:
            self.conn.send(BRIDGE_REPORTS.encode(report))
        except OSError:
            self.stop_requested.set()  # the parent is gone

    def _send_state(self) -> None:
        self._send(BridgeState(self.connected, tuple(self.pool.workers())))

    def _on_readable(self) -> None:
        try:
            while self.conn.poll():
                self._handle(BRIDGE_COMMANDS.decode(self.conn.recv()))
        except MalformedMessage as exc:
            self.refused = exc  # serve() raises it: refused loudly, never skipped
            self.stop_requested.set()
        except (EOFError, OSError):
            asyncio.get_running_loop().remove_reader(self.conn.fileno())
            self.stop_requested.set()

    def _handle(self, command: BridgeCommand) -> None:
        match command:
            case Stop():
                self.stop_requested.set()
            case RunJob():
                self._spawn(self._run(command))
            case CancelJob(job_id=job_id):
                self._spawn(self.pool.cancel(job_id))
            case _:
                assert_never(command)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _run(self, job: RunJob) -> None:
        try:
            done = await self.pool.run(job, lambda ev: self._send(JobEvent(ev)))
            files = await asyncio.to_thread(write_files, job.output_dir, done.blobs)
        except EngineError as exc:
            self._send(JobFailed(job.job_id, Failure(exc.code, exc.message)))
            return
        except Exception as exc:
            log.exception("job %s: unexpected error", job.job_id)
            self._send(JobFailed(job.job_id, Failure(EngineError.code, f"{type(exc).__name__}: {exc}")))
            return
        result = replace(done.result, files=files)
        self._send(JobDone(result, time.time()))
        log.info("job %s: completed on %s; %d files written to %s", job.job_id, result.worker_id, len(files),
                 job.output_dir)


class _Watchdog:
    """A thread beside the loop: probes the GCS port, and ends the process when the cluster stays
    unusable, the loop stops turning, no worker comes up, or the parent is gone. It only reads the
    bridge's state and exits; the loop does all the talking."""

    def __init__(self, bridge: _Bridge) -> None:
        self.bridge = bridge
        self.cfg = bridge.cfg
        self.gcs_address: str | None = None
        self.gcs_reachable = True
        self.loop_tick = time.monotonic()
        self._parent = os.getppid()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bridge-watchdog", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()

    def _run(self) -> None:
        unusable_since: float | None = None
        last_worker = time.monotonic()   # a worker alive, or one being started
        while not self._stopped.wait(self.cfg.gcs_probe_s):
            now = time.monotonic()
            if os.getppid() != self._parent:
                self._exit(0, "the API process is gone")
            if self.gcs_address is not None:
                self.gcs_reachable = _accepts(self.gcs_address, timeout=min(1.0, self.cfg.gcs_probe_s * 2))
            if now - self.loop_tick > self.cfg.loop_stall_exit_s:
                self._exit(EXIT_LOOP_STALLED, f"the event loop has not turned for {now - self.loop_tick:.0f}s")
            b = self.bridge
            if not b.initialized or b._usable():
                unusable_since = None
            else:
                unusable_since = unusable_since or now
                if now - unusable_since > self.cfg.cluster_lost_exit_s:
                    self._exit(EXIT_CLUSTER_LOST, f"the Ray cluster has been unusable for {now - unusable_since:.0f}s")
            pool = b.pool
            if not b.initialized or pool.ready():
                last_worker = now
            else:
                last_worker = max(last_worker, pool.last_spawn)
                if now - last_worker > self.cfg.no_worker_exit_s:
                    self._exit(EXIT_NO_WORKER, f"no Ray worker alive for {self.cfg.no_worker_exit_s:.0f}s")

    def _exit(self, code: int, why: str) -> None:
        log.error("%s; exiting so the server starts a fresh driver", why)
        logging.shutdown()
        os._exit(code)


def _accepts(address: str, timeout: float) -> bool:
    """Whether ``host:port`` accepts a TCP connection (the GCS process is there)."""
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


def write_files(output_dir: Path, blobs: FileBlobs) -> dict[str, str]:
    """Write a job's files (name, bytes) into ``output_dir``; each appears whole or not at all."""
    output_dir.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}
    for key, (name, data) in blobs.items():
        path = output_dir / Path(name).name  # a bare name: never a path from the worker
        part = path.with_name(path.name + ".part")
        part.write_bytes(data)
        part.replace(path)
        files[key] = str(path.resolve())
    return files
