"""``JobProgress``: turns a running job's engine events into percent, stage and ETA.

Percent follows real steps: denoising spans 0–95 (step/total), decoding and encoding hold at 95
and 97, completion is 100. ETA = mean step time × remaining steps + the tail (decode, post,
encode) last seen for this model, or one step's time when none has been seen yet.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

DENOISE_SPAN = 95
_STAGE_FLOOR = {"decoding": 95, "post": 96, "encoding": 97}


@dataclass
class JobProgress:
    model: str
    stage: str | None = None
    progress: int = 0
    step: int = 0
    total: int = 0
    eta_seconds: float | None = None
    step_times: list[float] = field(default_factory=list)
    last_flush: float = 0.0
    denoise_end: float | None = None

    def on_stage(self, stage: str, tails: dict[str, float]) -> None:
        self.stage = stage
        if stage in _STAGE_FLOOR:
            if self.denoise_end is None:
                self.denoise_end = time.monotonic()
            self.progress = max(self.progress, _STAGE_FLOOR[stage])
        self._eta(tails)

    def on_step(self, step: int, total: int, step_seconds: float | None, tails: dict[str, float]) -> None:
        self.step, self.total = step, total
        if step_seconds is not None and step_seconds >= 0:
            self.step_times.append(step_seconds)
        if total > 0:
            self.progress = max(self.progress, min(DENOISE_SPAN, DENOISE_SPAN * step // total))
        self.stage = self.stage or "denoising"
        self._eta(tails)

    def _eta(self, tails: dict[str, float]) -> None:
        if not self.step_times:
            self.eta_seconds = None
            return
        recent = self.step_times[-8:]
        per_step = sum(recent) / len(recent)
        tail = tails.get(self.model, per_step)
        if self.denoise_end is not None:
            tail = max(0.0, tail - (time.monotonic() - self.denoise_end))
        self.eta_seconds = round(per_step * max(0, self.total - self.step) + tail, 2)

    def tail_seconds(self) -> float | None:
        """Seconds from the end of denoising to now: what the next ETA's tail should be."""
        return None if self.denoise_end is None else time.monotonic() - self.denoise_end
