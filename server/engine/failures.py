"""One failure classification for every engine: how an exception raised while running a job
becomes a code, a message and the EngineError the job layer sees.

The local worker, the Ray actor, the context-parallel group and the in-process engine all use
this module, so a failure (CUDA out of memory, a full disk, a cancel, bad input) is the same job
error whichever engine ran it. Torch-free at import: torch is imported inside ``classify_failure``
and ``free_memory``, which run only where a job runs.
"""

from __future__ import annotations

import errno
import gc
from typing import TYPE_CHECKING, NamedTuple

from server.engine.base import (
    EngineError,
    InvalidInput,
    JobCancelled,
    ModelUnavailableError,
    OutOfMemory,
    StorageFull,
    WorkerCrashed,
)

if TYPE_CHECKING:
    import torch
    from pydantic import ValidationError

_ERRORS: dict[str, type[EngineError]] = {
    cls.code: cls
    for cls in (WorkerCrashed, JobCancelled, OutOfMemory, InvalidInput, ModelUnavailableError, StorageFull)
}

# Failures that ranks of a context-parallel group may not share (one rank ran out of memory, or
# failed alone): the group can no longer be trusted to meet in its next collective and restarts.
BREAKING_FAILURES = frozenset({OutOfMemory.code, EngineError.code})


class Failure(NamedTuple):
    """A job's failure as it crosses a process boundary: an EngineError ``code`` and its message."""

    code: str
    message: str

    def error(self) -> EngineError:
        return engine_error(self.code, self.message)

    @property
    def internal(self) -> bool:
        return self.code == EngineError.code

    @property
    def out_of_memory(self) -> bool:
        return self.code == OutOfMemory.code

    @property
    def breaks_group(self) -> bool:
        return self.code in BREAKING_FAILURES


def engine_error(code: str, message: str) -> EngineError:
    """The EngineError subclass for a failure code; unknown codes are plain (internal) errors."""
    return _ERRORS.get(code, EngineError)(message)


def classify_failure(exc: BaseException) -> Failure:
    """Map an exception from the pipelines library (or the output writer) to a Failure."""
    import torch
    from pydantic import ValidationError

    from pipelines.core.errors import GenerationCancelled, InvalidSpec, ModelUnavailable
    from pipelines.core.errors import OutOfMemory as PipelineOOM

    if isinstance(exc, EngineError):
        return Failure(exc.code, exc.message)
    if isinstance(exc, InvalidSpec):
        return Failure(InvalidInput.code, exc.message)
    if isinstance(exc, ValidationError):
        return Failure(InvalidInput.code, validation_message(exc))
    if isinstance(exc, ModelUnavailable):
        return Failure(ModelUnavailableError.code, exc.message)
    if isinstance(exc, GenerationCancelled):
        return Failure(JobCancelled.code, exc.message)
    if isinstance(exc, PipelineOOM | torch.OutOfMemoryError):
        return Failure(OutOfMemory.code, str(exc))
    if storage_full(exc):
        return Failure(StorageFull.code, f"no space left for the outputs: {exc}")
    return Failure(EngineError.code, f"{type(exc).__name__}: {exc}")


def validation_message(exc: ValidationError) -> str:
    """One part per bad field, naming it and the value, like InvalidSpec does."""
    parts = [f"{'.'.join(str(x) for x in e['loc']) or 'spec'}={e.get('input')!r}: {e['msg']}" for e in exc.errors()]
    return "; ".join(parts)


def storage_full(exc: BaseException) -> bool:
    """ENOSPC/EDQUOT anywhere in the chain: PyAV and PIL wrap the OSError of a failed write."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, OSError) and cur.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if "No space left on device" in str(cur):
            return True
        cur = cur.__cause__ or cur.__context__
    return False


def free_memory(device: torch.device) -> None:
    """After an OOM the worker goes on: drop what the failed call left behind."""
    import torch

    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
