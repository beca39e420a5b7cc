"""Every error the API returns, mapped in one place to a status and one body shape:
``{"error": {"message", "type", "param", "code"}}`` (the OpenAI shape, so its SDK raises the
matching exception class)."""

from __future__ import annotations

import errno
import logging
import sqlite3
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from pipelines.core.errors import InvalidSpec, ModelUnavailable
from server.jobs.errors import AdmissionRefused, IdempotencyConflict, JobError, JobNotFound, JobNotReady, QueueFull
from server.jobs.webhook_policy import WebhookRefused
from server.studio.errors import StudioConflict, StudioError, StudioNotFound

log = logging.getLogger(__name__)


class ApiError(Exception):
    status = 400
    type = "invalid_request_error"
    code = "invalid_request"

    def __init__(self, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code


class InvalidRequest(ApiError):
    pass


class Unauthorized(ApiError):
    status = 401
    type = "authentication_error"
    code = "invalid_api_key"


class PayloadTooLarge(ApiError):
    status = 413
    type = "invalid_request_error"
    code = "payload_too_large"


class UnsupportedMediaType(ApiError):
    status = 415
    type = "invalid_request_error"
    code = "unsupported_media_type"


# Job-layer and pipeline errors -> (HTTP status, error type). The only table of its kind.
_STATUS: list[tuple[type[Exception], int, str]] = [
    (JobNotFound, 404, "not_found_error"),
    (StudioNotFound, 404, "not_found_error"),
    (StudioConflict, 409, "invalid_request_error"),
    (QueueFull, 429, "rate_limit_error"),
    (IdempotencyConflict, 409, "conflict_error"),
    (JobNotReady, 409, "invalid_request_error"),
    (AdmissionRefused, 400, "invalid_request_error"),
    (WebhookRefused, 400, "invalid_request_error"),
    (JobError, 500, "server_error"),
    (InvalidSpec, 400, "invalid_request_error"),
    (ModelUnavailable, 400, "invalid_request_error"),
]


def _short(value: Any, limit: int = 120) -> str:
    """A bad value as shown in a message: repr, cut so a 10 MB field is not echoed back."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def is_storage_full(exc: BaseException) -> bool:
    """ENOSPC/EDQUOT from a write, or SQLite's "database or disk is full"."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    return isinstance(exc, sqlite3.OperationalError) and "full" in str(exc)


def error_body(message: str, type_: str, param: str | None, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def to_response(exc: Exception) -> JSONResponse:
    headers: dict[str, str] = {}
    if isinstance(exc, ApiError):
        status, type_, param, code, message = exc.status, exc.type, exc.param, exc.code, exc.message
        if isinstance(exc, Unauthorized):
            headers["WWW-Authenticate"] = "Bearer"
        if getattr(exc, "retry_after_s", None):  # per-key rate limit
            headers["Retry-After"] = str(getattr(exc, "retry_after_s"))  # noqa: B009
    else:
        status, type_ = next(((s, t) for cls, s, t in _STATUS if isinstance(exc, cls)), (500, "server_error"))
        message = getattr(exc, "message", str(exc))
        code = getattr(exc, "code", "internal")
        param = getattr(exc, "param", None) or getattr(exc, "field", None)
        if isinstance(exc, ModelUnavailable):
            param = "model"
        if isinstance(exc, QueueFull):
            headers["Retry-After"] = str(exc.retry_after_s)
    return JSONResponse(error_body(message, type_, param, code), status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    async def handle_known(request: Request, exc: Exception) -> JSONResponse:
        return to_response(exc)

    async def handle_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        first = exc.errors()[0] if exc.errors() else {}
        loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path", "header")]
        param = ".".join(loc) or None
        value = first.get("input")
        shown = f" (got {_short(value)})" if value is not None and not isinstance(value, dict) else ""
        msg = f"{param or 'request'}: {first.get('msg', 'invalid')}{shown}"
        return JSONResponse(error_body(msg, "invalid_request_error", param, "invalid_value"), status_code=422)

    async def handle_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        type_ = "not_found_error" if exc.status_code == 404 else "invalid_request_error"
        return JSONResponse(error_body(str(exc.detail), type_, None, str(exc.status_code)),
                            status_code=exc.status_code, headers=getattr(exc, "headers", None))

    async def handle_other(request: Request, exc: Exception) -> JSONResponse:
        if is_storage_full(exc):
            log.error("storage full on %s %s: %s", request.method, request.url.path, exc)
            return JSONResponse(error_body("the server's storage is full; retry later", "server_error", None,
                                           "storage_full"), status_code=507, headers={"Retry-After": "60"})
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(error_body("internal server error", "server_error", None, "internal"), status_code=500)

    for cls in (ApiError, JobError, InvalidSpec, ModelUnavailable, StudioError):
        app.add_exception_handler(cls, handle_known)
    app.add_exception_handler(RequestValidationError, handle_validation)
    app.add_exception_handler(StarletteHTTPException, handle_http)
    app.add_exception_handler(Exception, handle_other)
