"""The job record as the job layer sees it."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class JobState(StrEnum):
    QUEUED = "queued"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in (JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED)


@dataclass(frozen=True)
class Outcome:
    """How a job ended: what ``JobDispatcher.finish`` writes. Files, timings and the worker only
    for a completed job."""

    state: JobState
    error_code: str | None = None
    error_message: str | None = None
    files: dict[str, str] | None = None
    timings: dict[str, Any] | None = None
    worker_id: str | None = None


# Where a re-post job keeps its own copy of the source's generated frames (relative to its folder),
# so it does not depend on the source job surviving until it runs.
REPOST_SOURCE = "inputs/source.mp4"

# How many times a job may be started: the first run plus one retry after a crash or restart.
MAX_ATTEMPTS = 2


@dataclass
class Job:
    id: str
    seq: int                      # insertion order: FIFO within a priority and the list cursor
    state: JobState
    model: str
    spec: dict[str, Any]          # ResolvedSpec, JSON form
    created_at: float
    priority: int = 0
    seconds: str = ""             # as the client asked (OpenAI clients send a string), or derived
    metadata: dict[str, str] = field(default_factory=dict)
    key_id: str = "anonymous"
    group_id: str | None = None
    webhook_url: str | None = None
    attempts: int = 0
    stage: str | None = None
    progress: int = 0
    eta_seconds: float | None = None
    started_at: float | None = None
    completed_at: float | None = None
    expires_at: float | None = None
    error_code: str | None = None
    error_message: str | None = None
    timings: dict[str, Any] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    worker_id: str | None = None
    # The post stage (pipelines.post.PostSpec, JSON form, weights_dir left to the worker); None: plain encode.
    post: dict[str, Any] | None = None
    # Set on a re-post job (``POST /v1/videos/{id}/post``): the finished video whose frames it reuses.
    source_video_id: str | None = None
    # Workflow: the video this one continues or re-runs, and how ("extend" | "remix"); whether it is
    # the chosen take of its group; the rest of its history (take index, base seed, source facts).
    parent_id: str | None = None
    relation: str | None = None
    selected: bool = False
    workflow: dict[str, Any] = field(default_factory=dict)
    # Filled by the service, not stored:
    queue_position: int | None = None

    @property
    def size(self) -> str:
        return f"{self.spec['width']}x{self.spec['height']}"
