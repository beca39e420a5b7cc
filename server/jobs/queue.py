"""``JobQueue``: the in-memory order of queued jobs (priority, then FIFO), rebuilt from the store.

Bounded: ``push`` refuses past ``max_size`` and past ``max_per_key`` for one API key, so a
burst is refused at the door (429) instead of growing without limit. A submission reserves its
places before it awaits its commit and the commit's callback turns them into jobs, so a burst of
submissions in flight at once cannot get past the bounds together.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection
from dataclasses import dataclass, field

from server.jobs.errors import QueueFull

# How many times a queued job can be passed over by a later job of the same priority that matches a
# worker's loaded LoRA set: grouping saves adapter switches but must not starve anyone.
MAX_SKIPS = 3


@dataclass(order=True)
class _Entry:
    sort_key: tuple[int, int]
    job_id: str = field(compare=False)
    key_id: str = field(compare=False)
    affinity: str = field(default="", compare=False)  # the LoRA set it needs (server.jobs.provenance.lora_key)
    skipped: int = field(default=0, compare=False)    # times a later job of its priority went first


@dataclass(frozen=True)
class Reservation:
    """Places a submission holds while it commits (``JobQueue.reserve``); released exactly once."""

    key_id: str
    count: int


class JobQueue:
    def __init__(self, max_size: int, max_per_key: int) -> None:
        self.max_size = max_size
        self.max_per_key = max_per_key
        self._heap: list[_Entry] = []
        self._live: dict[str, _Entry] = {}
        self._per_key: dict[str, int] = {}
        self._reserved: dict[str, int] = {}  # key id -> places held by submissions still committing

    def __len__(self) -> int:
        return len(self._live)

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._live

    def check_room(self, key_id: str, count: int = 1, retry_after_s: int = 5) -> None:
        waiting = len(self._live) + sum(self._reserved.values())
        if waiting + count > self.max_size:
            raise QueueFull(
                f"the queue is full ({waiting} of {self.max_size} jobs waiting); retry later",
                retry_after_s,
            )
        held = self._per_key.get(key_id, 0) + self._reserved.get(key_id, 0)
        if held + count > self.max_per_key:
            raise QueueFull(
                f"this API key already has {held} queued jobs (limit {self.max_per_key}); retry later",
                retry_after_s,
            )

    def reserve(self, key_id: str, count: int, retry_after_s: int = 5) -> Reservation:
        """Hold ``count`` places for a submission that is committing (QueueFull when there is no room);
        ``release`` them when its jobs are pushed (with ``force``) or it failed."""
        self.check_room(key_id, count, retry_after_s)
        self._reserved[key_id] = self._reserved.get(key_id, 0) + count
        return Reservation(key_id, count)

    def release(self, held: Reservation) -> None:
        left = self._reserved.get(held.key_id, 0) - held.count
        if left > 0:
            self._reserved[held.key_id] = left
        else:
            self._reserved.pop(held.key_id, None)

    def push(self, job_id: str, priority: int, seq: int, key_id: str, *, force: bool = False,
             affinity: str = "") -> None:
        """Add a job; ``force`` skips the bounds (jobs already accepted: restart, retry)."""
        if job_id in self._live:
            return
        if not force:
            self.check_room(key_id)
        entry = _Entry((-priority, seq), job_id, key_id, affinity)
        heapq.heappush(self._heap, entry)
        self._live[job_id] = entry
        self._per_key[key_id] = self._per_key.get(key_id, 0) + 1

    def pop(self, prefer: Collection[str] = ()) -> str | None:
        """The next job. With ``prefer`` (the LoRA sets already loaded on idle workers): among jobs of
        the head's priority, the oldest whose set is preferred goes first, so jobs sharing a set run
        back to back; priority order is never broken, and a head passed over MAX_SKIPS times goes next."""
        while self._heap and self._live.get(self._heap[0].job_id) is not self._heap[0]:
            heapq.heappop(self._heap)  # drop entries removed lazily
        if prefer and self._heap:
            head = self._heap[0]
            if head.affinity not in prefer and head.skipped < MAX_SKIPS:
                same = [e for e in self._live.values() if e.sort_key[0] == head.sort_key[0] and e.affinity in prefer]
                if same:
                    pick = min(same)
                    head.skipped += 1
                    self._forget(pick)
                    return pick.job_id
        while self._heap:
            entry = heapq.heappop(self._heap)
            if self._live.get(entry.job_id) is entry:
                self._forget(entry)
                return entry.job_id
        return None

    def remove(self, job_id: str) -> bool:
        entry = self._live.get(job_id)
        if entry is None:
            return False
        self._forget(entry)  # the heap entry is skipped lazily by pop()
        return True

    def positions(self) -> dict[str, int]:
        """1-based place in line of every queued job."""
        ordered = sorted(self._live.values())
        return {e.job_id: i + 1 for i, e in enumerate(ordered)}

    def _forget(self, entry: _Entry) -> None:
        del self._live[entry.job_id]
        n = self._per_key.get(entry.key_id, 1) - 1
        if n:
            self._per_key[entry.key_id] = n
        else:
            self._per_key.pop(entry.key_id, None)
