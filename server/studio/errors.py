"""Studio errors; the API maps them to HTTP codes in server.api.errors."""

from __future__ import annotations


class StudioError(Exception):
    code = "studio_error"

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


class StudioNotFound(StudioError):
    """No such project/shot, or it belongs to another key (404 either way, so ids cannot be probed)."""

    code = "not_found"

    def __init__(self, kind: str, record_id: str) -> None:
        super().__init__(f"no {kind} with id {record_id!r}", f"{kind}_id")


class StudioConflict(StudioError):
    """The request is well-formed but the records are not in a state for it (409)."""

    code = "conflict"

    def __init__(self, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message, param)
        if code is not None:
            self.code = code
