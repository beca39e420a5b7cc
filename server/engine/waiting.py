"""Waiting on engine state, shared by the local and Ray engines (and the Ray worker pool).

``StateSignal`` wakes every waiter on any change; each re-checks its own condition. ``acquire_idle``
waits for an idle worker for one job, ending early when the job is cancelled while it waits.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import TypeVar

from server.engine.base import JobCancelled

T = TypeVar("T")


class StateSignal:
    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait_for(self, pred: Callable[[], bool], timeout: float | None) -> bool:
        """True once ``pred()`` holds; False when ``timeout`` seconds pass first."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while not pred():
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._event.wait(), remaining)
        return True


async def acquire_idle(signal: StateSignal, pick: Callable[[], T | None], cancelled: dict[str, bool], job_id: str,
                       timeout: float) -> T | None:
    """``pick()`` now, else once something changes; None after ``timeout``. A cancel of ``job_id``
    while it waits (``cancelled[job_id] = True`` and a notify) raises JobCancelled."""
    found = pick()
    if found is not None:
        return found
    cancelled[job_id] = False
    try:
        await signal.wait_for(lambda: cancelled[job_id] or pick() is not None, timeout)
        if cancelled[job_id]:
            raise JobCancelled(f"job {job_id}: cancelled while waiting for a worker")
    finally:
        del cancelled[job_id]
    return pick()
