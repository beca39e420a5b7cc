"""Errors raised by the job layer. The API maps each to an HTTP status in one place
(``server.api.errors``); every message names the field or job and the value at fault."""

from __future__ import annotations


class JobError(Exception):
    code = "internal"

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


class JobNotFound(JobError):
    code = "not_found"

    def __init__(self, job_id: str) -> None:
        shown = repr(job_id) if len(job_id) <= 100 else f"{job_id[:100]!r}... ({len(job_id)} characters)"
        super().__init__(f"no video job with id {shown}", "id")  # cut: a 5000-char id is not echoed back
        self.job_id = job_id


class QueueFull(JobError):
    code = "queue_full"

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class IdempotencyConflict(JobError):
    code = "idempotency_conflict"

    def __init__(self, key: str) -> None:
        super().__init__(
            f"Idempotency-Key {key!r} was already used with a different request body", "Idempotency-Key"
        )


class AdmissionRefused(JobError):
    """The job cannot fit the memory of any worker; refused at submission, not failed later."""

    code = "too_large"


class JobNotReady(JobError):
    """The job has no output of that kind (yet)."""

    code = "not_ready"
