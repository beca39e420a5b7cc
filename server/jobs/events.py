"""``JobEvents``: fan-out of job events to live subscribers (the SSE streams); ``JobFinished``: the
typed event the dispatcher publishes when a job reaches a terminal state.

Each subscriber has its own bounded queue; a subscriber that stops reading loses its oldest
events rather than slowing the dispatcher (progress events supersede each other anyway).

The job layer does not know what a client is shown for a finished job: the API subscribes to
``JobFinished`` (``server.api.delivery``) and renders the terminal SSE event and the webhook body, so
the arrows point one way, api -> jobs -> engine.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from server.jobs.models import Job

TERMINAL_EVENTS = frozenset({"completed", "failed", "cancelled"})


@dataclass(frozen=True)
class JobEvent:
    job_id: str
    name: str  # queued | started | stage | progress | completed | failed | cancelled
    data: dict[str, Any]


@dataclass(frozen=True)
class JobFinished:
    """A job was completed, failed or cancelled; ``job`` is its record as stored."""

    job: Job


FinishedListener = Callable[[JobFinished], None]


class JobEvents:
    def __init__(self, max_pending: int = 256) -> None:
        self._subs: dict[str, set[asyncio.Queue[JobEvent]]] = {}
        self._max = max_pending

    def subscribe(self, job_id: str) -> asyncio.Queue[JobEvent]:
        q: asyncio.Queue[JobEvent] = asyncio.Queue(self._max)
        self._subs.setdefault(job_id, set()).add(q)
        return q

    def unsubscribe(self, job_id: str, q: asyncio.Queue[JobEvent]) -> None:
        subs = self._subs.get(job_id)
        if subs is not None:
            subs.discard(q)
            if not subs:
                del self._subs[job_id]

    def has_subscribers(self, job_id: str) -> bool:
        return bool(self._subs.get(job_id))

    def watched(self) -> list[str]:
        return list(self._subs)

    def publish(self, job_id: str, name: str, data: dict[str, Any]) -> None:
        event = JobEvent(job_id, name, data)
        for q in list(self._subs.get(job_id, ())):
            if q.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    q.get_nowait()
            q.put_nowait(event)
