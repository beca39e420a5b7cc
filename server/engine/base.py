"""The contract between the job layer and the engines that run generations.

The job layer hands an engine a ``WorkItem`` and receives ``EngineEvent``s while it runs; the
engine owns processes/actors, loaded models, cancellation and crash detection. Engines:
``server.engine.local`` (one worker subprocess per GPU, the default), ``server.engine.ray_engine``
(Ray actors) and ``server.engine.inprocess`` (a thread, for tests). What the engines say to their
own processes is ``server.engine.messages``.
Torch-free: the API process imports this.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from pipelines.outputs import OutputFiles


class EventType(StrEnum):
    STARTED = "started"      # a worker took the item
    STAGE = "stage"          # data: {"stage": Stage}
    STEP = "step"            # data: {"step": i, "total": n, "step_seconds": s}
    COMPLETED = "completed"  # data: WorkResult fields


class Stage(StrEnum):
    LOADING = "loading"
    TEXT_ENCODING = "text_encoding"
    DENOISING = "denoising"
    UPSAMPLING = "upsampling"  # quality final: the x2 latent upsample between the two denoising stages
    REFINING = "refining"      # quality final: stage 2, denoising at the full size
    DECODING = "decoding"
    AUDIO_DECODING = "audio_decoding"  # audio VAE + vocoder, on models that generate a soundtrack
    POST = "post"
    ENCODING = "encoding"


@dataclass(frozen=True)
class WorkItem:
    job_id: str
    # The job's stored spec, ResolvedSpec.model_dump(mode="json"): each engine decodes it once into the
    # typed RunJob it sends its workers (server.engine.messages.JobDecoder), checked, not resolved again.
    spec: dict[str, Any]
    output_dir: Path              # the worker writes video.mp4 and companions here
    sidecar_extra: dict[str, Any] = field(default_factory=dict)  # merged into the sidecar (job id, metadata)
    post: dict[str, Any] | None = None  # pipelines.post.PostSpec JSON: run the post stage instead of a plain encode
    source_frames: Path | None = None   # re-post: decode these frames instead of generating (no denoising)


@dataclass(frozen=True)
class EngineEvent:
    job_id: str
    type: EventType
    data: dict[str, Any]
    at: float                     # time.time() in the worker


@dataclass(frozen=True)
class WorkResult:
    job_id: str
    files: dict[str, str]         # "video", "thumbnail", "last_frame", "sidecar" -> absolute paths
    timings: dict[str, float]
    peak_memory_bytes: int | None
    worker_id: str

    @classmethod
    def of_files(cls, job_id: str, files: OutputFiles, timings: dict[str, float], peak_memory_bytes: int | None,
                 worker_id: str) -> WorkResult:
        """The result of a job whose outputs the writer put on disk: every file that exists, absolute."""
        return cls(
            job_id=job_id,
            files={k: str(Path(v).resolve()) for k, v in asdict(files).items() if v is not None},
            timings=timings,
            peak_memory_bytes=peak_memory_bytes,
            worker_id=worker_id,
        )


class EngineError(Exception):
    """Raised by ``Engine.run``; ``code`` is the job's error code."""

    code = "internal"
    retryable = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class WorkerCrashed(EngineError):
    code = "worker_crashed"
    retryable = True


class JobCancelled(EngineError):
    code = "cancelled"


class OutOfMemory(EngineError):
    code = "out_of_memory"


class InvalidInput(EngineError):
    code = "invalid_input"


class ModelUnavailableError(EngineError):
    code = "model_unavailable"


class StorageFull(EngineError):
    """The output directory ran out of space (ENOSPC/EDQUOT): the job fails, the worker goes on."""

    code = "storage_full"


@dataclass(frozen=True)
class WorkerInfo:
    worker_id: str
    device: str                   # "cuda:0" or "cpu"
    alive: bool
    busy_job: str | None
    loaded_models: list[str]
    memory_total_bytes: int | None
    memory_free_bytes: int | None
    # A context-parallel worker's processes, rank 0 first; empty for a one-device worker.
    rank_pids: list[int] = field(default_factory=list)


class Engine(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def ready(self) -> bool:
        """True when at least one worker is up and able to take work."""
        ...

    def idle_workers(self) -> int: ...

    def workers(self) -> list[WorkerInfo]: ...

    async def run(self, item: WorkItem, on_event: Callable[[EngineEvent], None]) -> WorkResult:
        """Run one item on an idle worker; raises an EngineError subclass on failure.
        Callers must not start more runs than ``idle_workers()``."""
        ...

    async def cancel(self, job_id: str) -> bool:
        """Ask the worker running ``job_id`` to stop at its next step; True if it was running."""
        ...
