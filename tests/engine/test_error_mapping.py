"""How a failure inside a worker becomes the EngineError the job layer sees. OOM cannot be caused
for real on a CPU, so the mapping is checked here on the real exception types."""

from __future__ import annotations

import errno

import pytest
import torch
from pydantic import ValidationError

from pipelines.core.errors import GenerationCancelled, InvalidSpec, ModelUnavailable, OutOfMemory
from pipelines.core.spec import ResolvedSpec
from server.engine import base
from server.engine.failures import classify_failure, engine_error


def _validation_error() -> ValidationError:
    try:
        ResolvedSpec.model_validate({"model": "m", "steps": "many"})
    except ValidationError as exc:
        return exc
    raise AssertionError("expected a ValidationError")


@pytest.mark.parametrize(
    ("exc", "expected", "retryable"),
    [
        (InvalidSpec("width", 60, "must be a multiple of 16"), base.InvalidInput, False),
        (ModelUnavailable("wan", "no weights found"), base.ModelUnavailableError, False),
        (GenerationCancelled(3, 60), base.JobCancelled, False),
        (OutOfMemory("out of GPU memory running wan"), base.OutOfMemory, False),
        (torch.OutOfMemoryError("CUDA out of memory"), base.OutOfMemory, False),
        (RuntimeError("boom"), base.EngineError, False),
        (OSError(errno.ENOSPC, "No space left on device"), base.StorageFull, False),
        (base.StorageFull("no space left for the outputs"), base.StorageFull, False),
    ],
)
def test_worker_failures_map_to_engine_errors(exc: Exception, expected: type, retryable: bool) -> None:
    code, message = classify_failure(exc)
    err = engine_error(code, message)
    assert type(err) is expected
    assert err.code == code
    assert err.retryable is retryable
    assert message and err.message == message


def test_validation_errors_name_the_field_and_value() -> None:
    code, message = classify_failure(_validation_error())
    assert code == "invalid_input"
    assert "steps='many'" in message


def test_a_crash_is_the_one_retryable_error() -> None:
    assert engine_error("worker_crashed", "died").retryable
    assert type(engine_error("no_such_code", "x")) is base.EngineError
