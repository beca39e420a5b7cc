"""Blocking Ray API calls off the bridge's event loop, each with a deadline.

Ray's driver calls (``ray.init``, ``ray.kill``, ``ray.nodes``, creating an actor, even submitting
a task) can block inside Ray's C++ client, or retry there for as long as the cluster (its GCS) is
away. On the loop that would stop everything else the bridge does, its heartbeats to the API
process included. Here each call runs in a thread of a pool that only Ray calls use and the loop
waits for it ``timeout`` seconds at most: a call stuck past that raises ``TimeoutError`` and keeps
its thread (the bridge's watchdogs end a process whose cluster stays unusable). Torch- and ray-free.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


class RayCalls:
    def __init__(self, timeout_s: float, threads: int = 4) -> None:
        self.timeout_s = timeout_s
        # Not the loop's default executor: a thread stuck in Ray must not hold up asyncio.to_thread
        # users (file writes) or asyncio.run's shutdown.
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="ray-call")

    async def __call__(self, fn: Callable[..., T], *args: Any, timeout: float | None = None, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)`` in a Ray-call thread; TimeoutError after ``timeout`` (default
        ``timeout_s``) seconds."""
        loop = asyncio.get_running_loop()
        fut = loop.run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))
        return await asyncio.wait_for(fut, self.timeout_s if timeout is None else timeout)

    def close(self) -> None:
        """Stop taking calls; threads still stuck in Ray are left to the process exit."""
        self._pool.shutdown(wait=False, cancel_futures=True)
