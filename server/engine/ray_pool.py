"""RayPool: the worker actors of a Ray cluster, routing, streams, failure detection and replacement.

Runs where a Ray driver may run: in ``server.engine.ray_bridge``'s child process (never in the API
process, because Ray ends a driver whose cluster stays away). Shaped like an ``Engine``, on one
asyncio loop. Every Ray call has a deadline: blocking driver calls (creating and killing actors,
submitting to them) run through ``RayCalls`` off the loop; a job's stream must deliver a message
(an event or a heartbeat) every ``event_timeout_s``, probes of idle actors answer within
``call_timeout_s``; otherwise the actor is killed, its job fails with ``WorkerCrashed`` (retryable: the job layer
requeues it once) and a replacement actor is created, which Ray places when the cluster has room.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, assert_never

import ray
from ray.exceptions import RayError

from server.engine.base import (
    EngineError,
    EngineEvent,
    EventType,
    WorkerCrashed,
    WorkerInfo,
)
from server.engine.handles import NoIdleWorker
from server.engine.messages import (
    ACTOR_JOBS,
    ACTOR_REPORTS,
    FilesDone,
    Heartbeat,
    JobEvent,
    JobFailed,
    MalformedMessage,
    RunJob,
    StatusReport,
    WorkerStatus,
)
from server.engine.ray_calls import RayCalls
from server.engine.ray_config import PoolConfig
from server.engine.ray_worker import RayWorker, RayWorkerConfig
from server.engine.restarts import OnEvent, RestartBackoff
from server.engine.runtime.config import WorkerConfig
from server.engine.waiting import StateSignal, acquire_idle

log = logging.getLogger(__name__)


@dataclass
class ActorSlot:
    worker_id: str
    actor: Any = None                 # ray ActorHandle of the current incarnation; None while replaced
    incarnation: int = 0
    ready: bool = False
    job: str | None = None
    status: WorkerStatus | None = None   # as of the actor's last answer
    backoff: RestartBackoff = field(default_factory=RestartBackoff)
    born: float = 0.0
    creating: bool = False            # an actor of this slot is being created (a Ray call in flight)

    @property
    def alive(self) -> bool:
        return self.actor is not None and self.ready

    @property
    def idle(self) -> bool:
        return self.alive and self.job is None

    @property
    def models(self) -> tuple[str, ...]:
        return self.status.loaded_models if self.status is not None else ()


class RayPool:
    def __init__(self, cfg: PoolConfig, calls: RayCalls | None = None) -> None:
        self.cfg = cfg
        self.calls = calls or RayCalls(cfg.call_timeout_s)
        self.last_spawn = 0.0             # monotonic time an actor was last started (the bridge's watchdog)
        self.slots: list[ActorSlot] = []
        self._actor_cls: Any = None
        self._waiting: dict[str, bool] = {}   # job id -> cancelled, for runs waiting for a worker
        self._signal = StateSignal()
        self._listeners: list[Callable[[], None]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stopping = False

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Create the actors (Ray must be initialised). Returns at once: they come up in the background."""
        cfg = self.cfg
        count = cfg.workers
        if count is None:
            have = (await self.calls(ray.cluster_resources)).get(cfg.resource, 0)
            count = int(have)
            if count < 1:
                raise EngineError(f"the Ray cluster has no {cfg.resource!r} resource; give --workers to wait for one")
        # RAY_worker_niceness, read by the actor's own core worker as it starts (how Ray keeps its job
        # drivers at nice 0), replaces Ray's default of 15 for these processes only.
        options: dict[str, Any] = {"max_concurrency": 4, "num_cpus": cfg.num_cpus, "max_restarts": 0,
                                   "runtime_env": {"env_vars": {"RAY_worker_niceness": str(cfg.worker_niceness)}}}
        if cfg.resource == "GPU":
            options["num_gpus"] = 1
        else:
            options["resources"] = {cfg.resource: 1}
        self._actor_cls = ray.remote(RayWorker).options(**options)
        self.slots = [ActorSlot(f"ray-worker-{i}") for i in range(count)]
        log.info("starting %d Ray worker actor(s), one %s each", count, cfg.resource)
        for slot in self.slots:
            self._spawn(slot)
        self._background(self._monitor())

    async def stop(self) -> None:
        self._stopping = True
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        actors = [slot.actor for slot in self.slots if slot.actor is not None]
        for slot in self.slots:
            slot.actor, slot.ready = None, False
        await asyncio.gather(*(self._kill(a) for a in actors))
        self._notify()

    def on_change(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    # -- the Engine shape --------------------------------------------------------------------

    def ready(self) -> bool:
        return any(s.alive for s in self.slots)

    def idle_workers(self) -> int:
        return sum(1 for s in self.slots if s.idle)

    def workers(self) -> list[WorkerInfo]:
        out = []
        for s in self.slots:
            st = s.status if s.alive else None
            # Which node: operators (and tests) map a worker to a Ray node with it.
            where = (f"{st.node_ip or '?'}/{(st.node_id or '?')[:12]}/{st.device or self.cfg.device}"
                     if st is not None else self.cfg.resource)
            out.append(WorkerInfo(worker_id=s.worker_id, device=where, alive=s.alive, busy_job=s.job,
                                  loaded_models=list(st.loaded_models) if st else [],
                                  memory_total_bytes=st.memory_total_bytes if st else None,
                                  memory_free_bytes=st.memory_free_bytes if st else None))
        return out

    async def run(self, item: RunJob, on_event: OnEvent) -> FilesDone:
        """Run ``item`` on the best idle actor; returns the result and its files as (name, bytes)."""
        slot = await self._acquire(item)
        actor = slot.actor
        slot.job = item.job_id
        self._notify()
        log.info("job %s: sent to %s (incarnation %d) on node %s", item.job_id, slot.worker_id,
                 slot.incarnation, ((slot.status and slot.status.node_id) or "?")[:12])
        try:
            return await self._stream(slot, actor, item, on_event)
        except asyncio.CancelledError:
            # The caller gave up (shutdown): stop the actor's work too, without waiting for it.
            self._background(self._quietly(actor.cancel.remote, item.job_id))
            raise
        finally:
            if slot.actor is actor and slot.job == item.job_id:
                slot.job = None
            self._notify()

    async def cancel(self, job_id: str) -> bool:
        for slot in self.slots:
            if slot.job == job_id and slot.actor is not None:
                actor = slot.actor
                try:
                    ref = await self.calls(actor.cancel.remote, job_id)
                    return bool(await asyncio.wait_for(ref, self.cfg.call_timeout_s))
                except (TimeoutError, RayError) as exc:
                    # The stream's own deadline notices a dead actor; the job fails there.
                    log.warning("job %s: cancel on %s failed: %s", job_id, slot.worker_id, exc)
                    return False
        if job_id in self._waiting:
            self._waiting[job_id] = True
            self._notify()
            return True
        return False

    # -- one job's stream --------------------------------------------------------------------

    async def _stream(self, slot: ActorSlot, actor: Any, item: RunJob, on_event: OnEvent) -> FilesDone:
        job = item.job_id
        timeout = self.cfg.event_timeout_s
        try:
            stream = await self.calls(actor.run.remote, ACTOR_JOBS.encode(item))
            while True:
                ref = await asyncio.wait_for(stream.__anext__(), timeout)
                report = ACTOR_REPORTS.decode(await asyncio.wait_for(ref, timeout))
                match report:
                    case JobEvent(event=event):
                        self._forward(event, on_event)
                    case Heartbeat():
                        pass
                    case StatusReport(status=status):
                        slot.status = status
                    case JobFailed(failure=failure):
                        log.info("job %s: failed on %s: %s: %s", job, slot.worker_id, failure.code, failure.message)
                        raise failure.error()
                    case FilesDone():
                        return report
                    case _:
                        assert_never(report)
        except StopAsyncIteration:
            reason = "its stream ended without a result"
        except TimeoutError:
            reason = f"it sent nothing for {timeout:.0f}s"
        except MalformedMessage as exc:
            # Not a crash to retry: the actor broke the protocol. It is replaced like a lost one.
            log.error("job %s: %s; replacing %s", job, exc, slot.worker_id)
            self._lost(slot, actor, "malformed message")
            raise EngineError(f"job {job}: {exc}") from exc
        except RayError as exc:
            reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        log.error("job %s: %s lost while running it: %s", job, slot.worker_id, reason)
        self._lost(slot, actor, reason)
        raise WorkerCrashed(f"worker {slot.worker_id} was lost while running job {job} ({reason})")

    def _forward(self, ev: EngineEvent, on_event: OnEvent) -> None:
        if ev.type == EventType.STEP:
            log.debug("job %s: step %s/%s", ev.job_id, ev.data.get("step"), ev.data.get("total"))
        else:
            log.info("job %s: %s", ev.job_id, ev.data.get("stage") or ev.type.value)
        try:
            on_event(ev)
        except Exception:
            log.exception("job %s: on_event callback failed", ev.job_id)

    # -- choosing an actor -------------------------------------------------------------------

    async def _acquire(self, item: RunJob) -> ActorSlot:
        model = item.spec.model
        slot = await acquire_idle(self._signal, lambda: self._pick(model), self._waiting, item.job_id,
                                  self.cfg.acquire_timeout_s)
        if slot is None:
            raise NoIdleWorker(f"job {item.job_id}: no idle Ray worker within {self.cfg.acquire_timeout_s:.0f}s "
                               f"({self.idle_workers()} idle of {len(self.slots)})")
        return slot

    def _pick(self, model: str) -> ActorSlot | None:
        idle = [s for s in self.slots if s.idle]
        # An actor that already holds the model first (loading is the slowest part of a job); else
        # the one holding the fewest models (loading there evicts nothing another job may want);
        # among equals, the one with the most free device memory.
        holding = [s for s in idle if model in s.models]
        pool = holding or idle
        if not pool:
            return None
        return max(pool, key=lambda s: (-len(s.models), (s.status and s.status.memory_free_bytes) or 0))

    # -- actors: start, probe, lose, replace -------------------------------------------------

    def _spawn(self, slot: ActorSlot) -> None:
        if self._stopping or slot.creating:
            return
        slot.incarnation += 1
        slot.creating, slot.ready, slot.status, slot.born = True, False, None, time.monotonic()
        self.last_spawn = slot.born
        self._background(self._create(slot))

    async def _create(self, slot: ActorSlot) -> None:
        wc = WorkerConfig(
            worker_id=slot.worker_id, device=self.cfg.device, cuda_visible_devices="",
            weights_dir=self.cfg.weights_dir, model_paths=self.cfg.model_paths, dtype=self.cfg.dtype,
            max_models=self.cfg.max_models, cpu_threads=self.cfg.cpu_threads, log_level=self.cfg.log_level,
            generator_options=self.cfg.generator_options,
        )
        try:
            actor = await self.calls(self._actor_cls.remote, RayWorkerConfig(wc, self.cfg.heartbeat_s))
        except Exception as exc:  # TimeoutError, or Ray refusing (the cluster is gone)
            slot.creating = False
            log.error("%s: creating the actor failed: %s", slot.worker_id, _first_line(exc))
            self._replace_later(slot, "creating it failed")
            return
        slot.creating = False
        if self._stopping:
            await self._kill(actor)
            return
        slot.actor = actor
        await self._bring_up(slot, actor)

    async def _bring_up(self, slot: ActorSlot, actor: Any) -> None:
        # No deadline on the answer: a replacement waits (pending in Ray) until the cluster has room for it.
        try:
            ref = await self.calls(actor.status.remote)
            status = await ref
        except (TimeoutError, RayError) as exc:
            log.error("%s: actor failed to start: %s", slot.worker_id, str(exc).splitlines()[0])
            self._lost(slot, actor, "failed to start")
            return
        if slot.actor is actor:
            slot.ready, slot.status = True, status
            log.info("%s: ready on node %s (%s, pid %s) after %.1fs", slot.worker_id, status.node_ip,
                     status.device, status.pid, time.monotonic() - slot.born)
            self._notify()
            if self.cfg.preload:
                # After ready, not before: a job sent meanwhile waits on the actor's run lock.
                with contextlib.suppress(RayError, TimeoutError):
                    status = await (await self.calls(actor.preload.remote, list(self.cfg.preload)))
                    if slot.actor is actor:
                        slot.status = status
                        self._notify()

    async def _monitor(self) -> None:
        while True:
            await asyncio.sleep(self.cfg.probe_interval_s)
            # Busy actors are watched by their job's stream (heartbeats); idle ones are probed here.
            idle = [s for s in self.slots if s.idle]
            results = await asyncio.gather(*(self._probe(s, s.actor) for s in idle), return_exceptions=True)
            for s, r in zip(idle, results, strict=True):
                if isinstance(r, BaseException):
                    log.error("%s: probe failed: %s", s.worker_id, r)

    async def _probe(self, slot: ActorSlot, actor: Any) -> None:
        try:
            ref = await self.calls(actor.status.remote)
            status = await asyncio.wait_for(ref, self.cfg.call_timeout_s)
        except (TimeoutError, RayError) as exc:
            reason = "no answer" if isinstance(exc, TimeoutError) else type(exc).__name__
            self._lost(slot, actor, f"probe: {reason}")
            return
        if slot.actor is actor:
            slot.status = status

    def _lost(self, slot: ActorSlot, actor: Any, reason: str) -> None:
        """Forget a dead (or unresponsive) actor and start its replacement."""
        if slot.actor is not actor:
            return
        self._background(self._kill(actor))
        slot.actor, slot.ready, slot.job = None, False, None
        self._notify()
        self._replace_later(slot, reason)

    def _replace_later(self, slot: ActorSlot, reason: str) -> None:
        if self._stopping:
            return
        delay = slot.backoff.after_exit(time.monotonic() - slot.born)
        log.warning("%s: actor lost (%s); replacing it in %.0fs", slot.worker_id, reason, delay)
        asyncio.get_running_loop().call_later(delay, self._replace, slot)

    def _replace(self, slot: ActorSlot) -> None:
        if slot.actor is None and not self._stopping:
            self._spawn(slot)

    async def _kill(self, actor: Any) -> None:
        await self._quietly(ray.kill, actor, no_restart=True)

    async def _quietly(self, fn: Any, *args: Any, **kwargs: Any) -> None:
        """A Ray call whose outcome does not matter (kill, a cancel on the way out): bounded, never raising."""
        try:
            await self.calls(fn, *args, **kwargs)
        except Exception as exc:
            log.debug("%s failed: %s", getattr(fn, "__name__", fn), _first_line(exc))

    # -- helpers -----------------------------------------------------------------------------

    def _background(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _notify(self) -> None:
        self._signal.notify()
        for listener in self._listeners:
            try:
                listener()
            except Exception:
                log.exception("pool listener failed")


def _first_line(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__
