"""Typed errors of the pipelines library. Each carries a stable ``code`` the server maps to HTTP."""

from __future__ import annotations

from pathlib import Path
from typing import Any


class VidserveError(Exception):
    code = "internal"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidSpec(VidserveError):
    """A generation spec breaks a catalog rule; names the field and the bad value."""

    code = "invalid_input"

    def __init__(self, field: str, value: Any, message: str) -> None:
        shown = value if not isinstance(value, str) or len(value) <= 80 else value[:77] + "..."
        super().__init__(f"{field}={shown!r}: {message}")
        self.field = field
        self.value = value


class ModelUnavailable(VidserveError):
    """Weights for a catalog model are not on disk, or are incomplete."""

    code = "model_unavailable"

    def __init__(self, model_id: str, message: str, path: Path | None = None) -> None:
        super().__init__(f"model {model_id!r}: {message}")
        self.model_id = model_id
        self.path = path


class GenerationCancelled(VidserveError):
    """``should_stop`` turned true; raised from the step callback so diffusers stops at once."""

    code = "cancelled"

    def __init__(self, step: int, total: int) -> None:
        super().__init__(f"cancelled after step {step} of {total}")
        self.step = step
        self.total = total


class OutOfMemory(VidserveError):
    code = "out_of_memory"
