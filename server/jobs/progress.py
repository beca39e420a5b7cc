"""``JobProgress``: turns a running job's engine events into percent, stage and ETA.

Percent follows real steps: denoising spans 0–95 (step/total), decoding and encoding hold at 95
and 97, completion is 100. A job with a post stage gives denoising 0–90 and the post stage's frames
(done/total) 90–99; a re-post job (no denoising) spends 0–99 on post frames. During post the ETA is
the post stage's own frame rate times the frames left. Otherwise ETA = mean step time × remaining
steps + the tail (decode, encode) last seen for this model, or one step's time when none has been seen yet.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

DENOISE_SPAN = 95
_STAGE_FLOOR = {"decoding": 95, "audio_decoding": 96, "post": 96, "encoding": 97}
POST_SPAN = (90, 99)    # percent range of the post stage in a job that also denoises
REPOST_SPAN = (0, 99)   # a re-post job is all post stage


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
    post_span: tuple[int, int] | None = None  # POST_SPAN / REPOST_SPAN when the job has a post stage
    post_start: float | None = None
    attempt: int = 0  # the job's attempt this progress belongs to (a stale write from another is dropped)

    def on_stage(self, stage: str, tails: dict[str, float]) -> None:
        self.stage = stage
        if stage in _STAGE_FLOOR:
            if self.denoise_end is None:
                self.denoise_end = time.monotonic()
            if stage == "post" and self.post_start is None:
                self.post_start = time.monotonic()
            floor = self.post_span[0] if self.post_span else _STAGE_FLOOR[stage]
            self.progress = max(self.progress, floor)
        self._eta(tails)

    def on_post(self, done: int, total: int | None) -> None:
        """Post-stage frames encoded so far; ``total`` None when the frame count is unknown."""
        lo, hi = self.post_span or (_STAGE_FLOOR["post"], _STAGE_FLOOR["encoding"])
        now = time.monotonic()
        if self.post_start is None:
            self.post_start = now
        self.stage = "post"
        if total:
            self.progress = max(self.progress, lo + (hi - lo) * min(done, total) // total)
            rate = done / (now - self.post_start) if done and now > self.post_start else None
            self.eta_seconds = round((total - done) / rate, 2) if rate else self.eta_seconds

    def on_step(self, step: int, total: int, step_seconds: float | None, tails: dict[str, float]) -> None:
        self.step, self.total = step, total
        if step_seconds is not None and step_seconds >= 0:
            self.step_times.append(step_seconds)
        span = self.post_span[0] if self.post_span else DENOISE_SPAN
        if total > 0:
            self.progress = max(self.progress, min(span, span * step // total))
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
