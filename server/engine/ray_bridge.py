"""The Ray driver, in a child process of the API server.

Why a child: a Ray driver whose cluster (GCS) stays unreachable is ended by Ray itself, and that
must not take the API down. This process connects to the cluster, owns the ``RayPool`` of worker
actors and writes each job's files (received as bytes through the object store) into the job's
output folder on the API node. ``server.engine.ray_engine.RayEngine`` starts it, restarts it when
it dies, and talks to it over one duplex pipe:

parent -> child   ("run", WorkItem) | ("cancel", job_id) | ("stop",)
child -> parent   ("state", {"connected": bool, "workers": [WorkerInfo fields]})   on every change
                  ("event", EngineEvent)        STARTED, STAGE, STEP, COMPLETED (files on the API node)
                  ("done", job_id, WorkResult) | ("failed", job_id, code, message)
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from dataclasses import asdict, replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from server.engine.base import EngineError, EngineEvent, EventType, WorkItem
from server.engine.ray_config import BridgeConfig

log = logging.getLogger(__name__)


def bridge_main(cfg: BridgeConfig, conn: Connection) -> None:
    # Ray reads its config from case-sensitive RAY_<name> variables.
    os.environ["RAY_gcs_rpc_server_reconnect_timeout_s"] = str(cfg.gcs_reconnect_timeout_s)  # noqa: SIM112
    # The parent decides when the bridge stops (("stop",), then SIGKILL), as for local workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(level=cfg.log_level, force=True,
                        format=f"%(asctime)s %(levelname)s [ray-bridge pid={os.getpid()}] %(name)s: %(message)s")
    try:
        asyncio.run(_Bridge(cfg, conn).serve())
    except (EOFError, BrokenPipeError, ConnectionResetError):
        log.info("parent gone; bridge exiting")
    finally:
        import ray

        if ray.is_initialized():
            ray.shutdown()


class _Bridge:
    def __init__(self, cfg: BridgeConfig, conn: Connection) -> None:
        self.cfg = cfg
        self.conn = conn
        self.connected = False
        self.stop_requested = asyncio.Event()
        self.tasks: set[asyncio.Task[Any]] = set()

    async def serve(self) -> None:
        from server.engine.ray_pool import RayPool

        loop = asyncio.get_running_loop()
        loop.add_reader(self.conn.fileno(), self._on_readable)
        self.pool = RayPool(self.cfg.pool)
        self._send_state()
        await self._connect()
        self.pool.on_change(self._send_state)
        await self.pool.start()
        self._send_state()
        self._spawn(self._watchdog())
        await self.stop_requested.wait()
        log.info("stop requested; stopping %d actor(s)", len(self.pool.slots))
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.pool.stop()

    async def _connect(self) -> None:
        import ray

        address = self.cfg.address or None
        delay = 1.0
        while not self.stop_requested.is_set():
            t0 = time.monotonic()
            try:
                await asyncio.wait_for(asyncio.to_thread(
                    ray.init, address=address, namespace=self.cfg.namespace, log_to_driver=True,
                    ignore_reinit_error=True, **(self.cfg.init_kwargs or {})), self.cfg.connect_timeout_s)
            except TimeoutError:
                # ray.init is stuck in its thread; only a fresh process gets a clean retry.
                log.error("no Ray cluster at %s within %.0fs; exiting so the server restarts the bridge",
                          address or "(local)", self.cfg.connect_timeout_s)
                os._exit(3)
            except Exception as exc:
                log.warning("cannot reach the Ray cluster at %s (%s); retrying in %.0fs", address, exc, delay)
                await asyncio.sleep(delay)
                delay = min(30.0, delay * 2)
                continue
            self.connected = True
            log.info("connected to Ray at %s in %.1fs: %s", address or "(local)", time.monotonic() - t0,
                     {k: v for k, v in ray.cluster_resources().items() if not k.startswith("node:")})
            return

    async def _watchdog(self) -> None:
        """Ray ends a driver whose GCS stays away, but one that returns as a *new* cluster at the
        same address leaves this driver connected to nothing (WrongClusterID) for good. Either
        way no actor stays alive; past ``no_worker_exit_s`` only a fresh process can reconnect."""
        since: float | None = None
        while True:
            await asyncio.sleep(1.0)
            if self.pool.ready():
                since = None
                continue
            since = since or time.monotonic()
            if time.monotonic() - since > self.cfg.no_worker_exit_s:
                log.error("no Ray worker alive for %.0fs; exiting so the server reconnects with a fresh driver",
                          self.cfg.no_worker_exit_s)
                os._exit(4)

    # -- the pipe ----------------------------------------------------------------------------

    def _send(self, msg: tuple[Any, ...]) -> None:
        try:
            self.conn.send(msg)
        except OSError:
            self.stop_requested.set()  # the parent is gone

    def _send_state(self) -> None:
        workers = [asdict(w) for w in self.pool.workers()]
        self._send(("state", {"connected": self.connected, "workers": workers}))

    def _on_readable(self) -> None:
        try:
            while self.conn.poll():
                self._handle(self.conn.recv())
        except (EOFError, OSError):
            asyncio.get_running_loop().remove_reader(self.conn.fileno())
            self.stop_requested.set()

    def _handle(self, msg: tuple[Any, ...]) -> None:
        kind = msg[0]
        if kind == "stop":
            self.stop_requested.set()
        elif kind == "run":
            self._spawn(self._run(msg[1]))
        elif kind == "cancel":
            self._spawn(self.pool.cancel(msg[1]))
        else:
            log.warning("ignoring unknown message %r", kind)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _run(self, item: WorkItem) -> None:
        job = item.job_id
        try:
            result, blobs = await self.pool.run(item, lambda ev: self._send(("event", ev)))
            files = await asyncio.to_thread(write_files, item.output_dir, blobs)
        except EngineError as exc:
            self._send(("failed", job, exc.code, exc.message))
            return
        except Exception as exc:
            log.exception("job %s: unexpected error", job)
            self._send(("failed", job, "internal", f"{type(exc).__name__}: {exc}"))
            return
        result = replace(result, files=files)
        self._send(("event", EngineEvent(job, EventType.COMPLETED, asdict(result), time.time())))
        self._send(("done", job, result))
        log.info("job %s: completed on %s; %d files written to %s", job, result.worker_id, len(files), item.output_dir)


def write_files(output_dir: Path, blobs: dict[str, tuple[str, bytes]]) -> dict[str, str]:
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
