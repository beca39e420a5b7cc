"""Every message that crosses a process or actor boundary of the engines: one frozen dataclass per
message, one union per direction, one ``Channel`` per direction that encodes and decodes them.

The four boundaries and what travels on each:

========================  =================================  ==============================================
boundary                  down (from the owner)              up (to the owner)
========================  =================================  ==============================================
worker pipe               ``WorkerCommand``: RunJob, Stop    ``WorkerReport``: WorkerReady, StatusReport,
(local.py ↔ worker.py)                                       JobEvent, JobDone, JobFailed
Ray bridge pipe           ``BridgeCommand``: RunJob,         ``BridgeReport``: BridgeState, Heartbeat,
(ray_engine ↔ ray_bridge) CancelJob, Stop                    JobEvent, JobDone, JobFailed
Ray actor stream          ``RayWorker.run(RunJob)``          ``ActorReport``: JobEvent, Heartbeat,
(ray_pool ↔ ray_worker)                                      StatusReport, FilesDone, JobFailed
rank group (group.py)     ``RankCommand``: PreloadModel,     (none: rank 0 reports the job's outcome)
                          GenerateOn, Stop
========================  =================================  ==============================================

A job ends the same way on every boundary: ``JobDone`` carrying its ``WorkResult`` (``FilesDone``
with the files' bytes from a Ray actor on another node) or ``JobFailed`` carrying its ``Failure``.

What crosses is the dataclass itself, pickled by the transport (multiprocessing, Ray's object store,
``torch.distributed.broadcast_object_list``): every transport pickles anyway, both ends always run
the same install of this code, and a tagged form would be a second schema to keep in step with these
classes. ``Channel.decode`` is the one gate on the receiving side: anything that is not one of its
direction's messages raises ``MalformedMessage`` (loudly, never ignored), and handlers ``match``
over the union with ``assert_never``, so mypy checks that every message is handled.

Torch-free: the API process imports this.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast, get_args

from pydantic import ValidationError

from pipelines.core.errors import InvalidSpec
from pipelines.core.spec import ResolvedSpec, check_resolved
from server.engine.base import EngineEvent, EventType, InvalidInput, WorkerInfo, WorkItem, WorkResult
from server.engine.failures import Failure, validation_message

if TYPE_CHECKING:
    from pipelines.core.catalog import Catalog


class MalformedMessage(Exception):
    """Something arrived on a channel that is not one of that direction's messages."""


# -- what a worker reports about itself ------------------------------------------------------------


@dataclass(frozen=True)
class WorkerStatus:
    """A worker's state at a job boundary: what it holds and where it runs."""

    pid: int
    loaded_models: tuple[str, ...] = ()
    memory_total_bytes: int | None = None
    memory_free_bytes: int | None = None
    group_pids: tuple[int, ...] = ()    # a context-parallel worker's processes, rank 0 first
    device: str | None = None           # Ray actors: the device, node and its address
    node_id: str | None = None
    node_ip: str | None = None


# Files of a job as (file name, bytes) per key ("video", "sidecar" ...): a Ray actor's outputs.
FileBlobs = dict[str, tuple[str, bytes]]


# -- messages --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunJob:
    """Run one job: the job layer's ``WorkItem`` with its stored spec decoded and checked."""

    job_id: str
    spec: ResolvedSpec
    output_dir: Path
    sidecar_extra: dict[str, Any] = field(default_factory=dict)
    post: dict[str, Any] | None = None     # pipelines.post.PostSpec JSON, completed in the worker
    source_frames: Path | None = None      # re-post: the post stage over these frames, no denoising

    @property
    def reposts(self) -> bool:
        return self.source_frames is not None


@dataclass(frozen=True)
class CancelJob:
    job_id: str


@dataclass(frozen=True)
class Stop:
    pass


@dataclass(frozen=True)
class WorkerReady:
    status: WorkerStatus


@dataclass(frozen=True)
class StatusReport:
    status: WorkerStatus


@dataclass(frozen=True)
class JobEvent:
    event: EngineEvent


@dataclass(frozen=True)
class JobDone:
    result: WorkResult
    at: float                              # time.time() where the job finished

    def event(self) -> EngineEvent:
        """The COMPLETED event the engine hands its caller before the result."""
        return EngineEvent(self.result.job_id, EventType.COMPLETED, asdict(self.result), self.at)


@dataclass(frozen=True)
class FilesDone:
    """A Ray actor's job result with its files as bytes: the API node owns the output folder."""

    result: WorkResult
    blobs: FileBlobs


@dataclass(frozen=True)
class JobFailed:
    job_id: str
    failure: Failure


@dataclass(frozen=True)
class Heartbeat:
    at: float                              # time.time() of the sender


@dataclass(frozen=True)
class BridgeState:
    """The Ray bridge's view: whether the cluster answers, and its workers."""

    connected: bool
    workers: tuple[WorkerInfo, ...]


@dataclass(frozen=True)
class PreloadModel:
    model: str


@dataclass(frozen=True)
class GenerateOn:
    """Run this generation on every rank (rank 0 runs it too, and alone reports it)."""

    spec: ResolvedSpec


WorkerCommand = RunJob | Stop
WorkerReport = WorkerReady | StatusReport | JobEvent | JobDone | JobFailed
BridgeCommand = RunJob | CancelJob | Stop
BridgeReport = BridgeState | Heartbeat | JobEvent | JobDone | JobFailed
ActorReport = JobEvent | Heartbeat | StatusReport | FilesDone | JobFailed
RankCommand = PreloadModel | GenerateOn | Stop

M = TypeVar("M")


class Channel(Generic[M]):
    """One direction of one boundary: ``encode`` before the transport sends, ``decode`` after it receives."""

    def __init__(self, name: str, union: Any) -> None:
        self.name = name
        self.kinds: tuple[type, ...] = get_args(union) or (union,)

    def encode(self, msg: M) -> M:
        """What the transport pickles: the message itself (see the module docstring)."""
        return self._checked(msg, "cannot send")

    def decode(self, raw: object) -> M:
        """The message ``raw`` is; MalformedMessage when it is none of this direction's."""
        return self._checked(raw, "refused")

    def _checked(self, obj: object, what: str) -> M:
        if not isinstance(obj, self.kinds):
            shown = repr(obj)
            shown = shown if len(shown) <= 200 else shown[:197] + "..."
            expected = ", ".join(k.__name__ for k in self.kinds)
            raise MalformedMessage(f"{self.name}: {what} {type(obj).__name__} {shown}; expected one of {expected}")
        return cast(M, obj)


WORKER_COMMANDS: Channel[WorkerCommand] = Channel("engine -> worker", WorkerCommand)
WORKER_REPORTS: Channel[WorkerReport] = Channel("worker -> engine", WorkerReport)
BRIDGE_COMMANDS: Channel[BridgeCommand] = Channel("engine -> Ray bridge", BridgeCommand)
BRIDGE_REPORTS: Channel[BridgeReport] = Channel("Ray bridge -> engine", BridgeReport)
ACTOR_JOBS: Channel[RunJob] = Channel("pool -> Ray actor", RunJob)
ACTOR_REPORTS: Channel[ActorReport] = Channel("Ray actor -> pool", ActorReport)
RANK_COMMANDS: Channel[RankCommand] = Channel("rank 0 -> ranks", RankCommand)


# -- decoding a stored job -------------------------------------------------------------------------


class JobDecoder:
    """Turns the job layer's ``WorkItem`` (its spec as stored JSON) into a ``RunJob``: the spec is
    validated into a ``ResolvedSpec`` and checked against the catalog as it is now, never resolved
    again. A spec that fails raises InvalidInput naming the field: the job fails, nothing is sent."""

    def __init__(self, catalog: Catalog | None = None) -> None:
        self._catalog = catalog

    def __call__(self, item: WorkItem) -> RunJob:
        try:
            spec = ResolvedSpec.model_validate(item.spec)
            if item.source_frames is None:  # a re-post runs no generation: its source job's spec is a record
                check_resolved(spec, self.catalog())
        except InvalidSpec as exc:
            raise InvalidInput(exc.message) from exc
        except ValidationError as exc:
            raise InvalidInput(validation_message(exc)) from exc
        return RunJob(item.job_id, spec, item.output_dir, item.sidecar_extra, item.post, item.source_frames)

    def catalog(self) -> Catalog:
        if self._catalog is None:
            # The catalog the workers' generators use; built on first use (importing the families is slow).
            from pipelines.families import default_catalog

            self._catalog = default_catalog()
        return self._catalog
