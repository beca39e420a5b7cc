"""How run code reports a job's progress, whatever carries it: ``emit(kind, data)``."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from server.engine.base import EventType, Stage

Emit = Callable[[EventType, dict[str, Any]], None]


class StepClock:
    """The generator's ``on_stage``/``on_step`` callbacks as STAGE and STEP events, each step with its
    seconds (a stage's first step counts from the start of its denoising)."""

    def __init__(self, emit: Emit) -> None:
        self.emit = emit
        self.last = time.perf_counter()

    def on_stage(self, name: str) -> None:
        if name in (Stage.DENOISING, Stage.REFINING):
            self.last = time.perf_counter()
        self.emit(EventType.STAGE, {"stage": Stage(name)})

    def on_step(self, step: int, total: int) -> None:
        now = time.perf_counter()
        self.emit(EventType.STEP, {"step": step, "total": total, "step_seconds": now - self.last})
        self.last = now
