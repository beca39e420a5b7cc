"""Per-key request rate limits: one token bucket per API key id, refilled continuously.

In memory on purpose: a limit protects this process from one noisy client; it does not need to
survive a restart. Buckets of keys that went quiet are dropped so the table stays small.
"""

from __future__ import annotations

import math
import threading
import time

from server.api.errors import ApiError


class RateLimited(ApiError):
    status = 429
    type = "rate_limit_error"
    code = "rate_limited"

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class KeyRateLimiter:
    def __init__(self, rate_per_s: float, burst: int, max_keys: int = 10_000) -> None:
        self.rate = rate_per_s
        self.burst = float(burst)
        self.max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}  # key id -> (tokens, last refill monotonic)
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def check(self, key_id: str, now: float | None = None) -> None:
        """Take one token for ``key_id`` or raise RateLimited with the seconds until one is back."""
        if not self.enabled:
            return
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.get(key_id, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens < 1.0:
                self._buckets[key_id] = (tokens, now)
                wait = math.ceil((1.0 - tokens) / self.rate)
                raise RateLimited(f"rate limit: {self.rate:g} requests/s per key (burst {self.burst:g}); "
                                  f"retry in {wait}s", max(1, wait))
            self._buckets[key_id] = (tokens - 1.0, now)
            if len(self._buckets) > self.max_keys:
                self._prune(now)

    def _prune(self, now: float) -> None:
        # A bucket full again carries no state worth keeping.
        full_after = self.burst / self.rate
        for key, (_, last) in list(self._buckets.items()):
            if now - last >= full_after:
                del self._buckets[key]
