"""Logging for the server: plain text or one JSON object per line, with the request id on every line
logged while a request is handled (and the job id when a message names one).

The request id lives in a ``ContextVar`` set by ``server.api.security.RequestIdMiddleware``; asyncio
copies the context into tasks created during the request, so lines logged by work the request
started carry it too.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from contextvars import ContextVar
from typing import Any, TextIO

request_id_var: ContextVar[str | None] = ContextVar("vidserve_request_id", default=None)

_JOB_ID = re.compile(r"\b(video_[0-9a-f]{8,32})\b")
# Attributes every LogRecord has; anything else was passed with ``extra=`` and goes into the JSON.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "request_id",
                                                                         "job_id"}


class ContextFilter(logging.Filter):
    """Adds ``request_id`` and ``job_id`` attributes (None when unknown) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        if not hasattr(record, "job_id"):
            # Our messages start "job <id>: ..." by convention; pull the id out for structured search.
            m = _JOB_ID.search(record.getMessage()) if isinstance(record.msg, str) else None
            record.job_id = m.group(1) if m else None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
            "job_id": getattr(record, "job_id", None),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value if isinstance(value, str | int | float | bool | type(None)) else repr(value)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"


# Import-time warnings from libraries that say nothing an operator can act on: torchao's kernels for
# other GPU generations failing to load (expected on a CPU or an older GPU), torch's deprecation
# notice for how torchao registers its enums, and diffusers 0.42 looking for torchao tensor classes
# that newer torchao renamed (only used to load torchao-serialized checkpoints, which vidserve does not).
_QUIET = ("torchao", "torch.utils._pytree", "diffusers.quantizers.torchao.torchao_quantizer")


def quiet_library_warnings() -> None:
    for name in _QUIET:
        logging.getLogger(name).setLevel(logging.ERROR)


def configure(log_format: str = "text", level: str | int = "INFO", stream: TextIO | None = None) -> logging.Handler:
    """Replace the root handlers with one stderr handler in the chosen format. uvicorn's loggers
    propagate to it (their own handlers are removed) so access lines get the same shape."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level if isinstance(level, int) else level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        lg = logging.getLogger(name)
        lg.handlers.clear()
        lg.propagate = True
    quiet_library_warnings()
    return handler

