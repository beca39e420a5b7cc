"""When to restart a worker, bridge or actor that died: the one back-off policy every engine uses.

The first quick death restarts at once; each further quick death in a row waits twice as long
(1 s, 2 s, 4 s ... up to ``MAX_BACKOFF_S``), so a worker that keeps dying (a bad driver, a broken
weights folder) does not spin. A process that ran ``HEALTHY_UPTIME_S`` before dying starts the count
again. Torch-free and Ray-free: the engines' parent sides import it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from server.engine.base import EngineEvent

OnEvent = Callable[[EngineEvent], None]

HEALTHY_UPTIME_S = 60.0
MAX_BACKOFF_S = 30.0


@dataclass
class RestartBackoff:
    """Quick deaths in a row of one restartable thing, and the delay before its next start."""

    quick_deaths: int = 0

    def after_exit(self, uptime_s: float, healthy: bool = True) -> float:
        """Record an exit after ``uptime_s`` (``healthy``: it had come up) and return the restart delay."""
        self.quick_deaths = 0 if healthy and uptime_s >= HEALTHY_UPTIME_S else self.quick_deaths + 1
        return 0.0 if self.quick_deaths <= 1 else min(MAX_BACKOFF_S, 2.0 ** (self.quick_deaths - 2))
