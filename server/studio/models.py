"""Studio records: projects, shots, reviews and handoffs, as the studio layer sees them."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class ShotStatus(StrEnum):
    PLANNED = "planned"
    GENERATING = "generating"
    IN_REVIEW = "in_review"
    APPROVED = "approved"


class Verdict(StrEnum):
    SELECT = "select"
    MAYBE = "maybe"
    REJECT = "reject"


class HandoffState(StrEnum):
    BUILDING = "building"
    COMPLETED = "completed"
    FAILED = "failed"


# Job metadata labels that tie a take to its shot and project (and name its downloads).
SHOT_LABEL = "studio_shot"
PROJECT_LABEL = "studio_project"


@dataclass
class Project:
    id: str
    key_id: str
    name: str
    aspect_ratio: str | None
    resolution: str | None
    model: str | None
    visual_bible: str
    notes: str
    created_at: float
    updated_at: float


@dataclass
class Shot:
    id: str
    project_id: str
    position: int
    name: str
    scene: str
    description: str
    camera_move: str
    duration: float | None
    acceptance_note: str
    prompt: str
    model: str | None
    status: ShotStatus
    multiple_selects: bool
    keyframe: str | None      # path of the stored keyframe image
    last_image: str | None    # path of the stored last image (first+last-frame takes)
    created_at: float
    updated_at: float
    # Reference stills for the people making the shot (mood, character, set): name -> stored path.
    # Kept and shown; no catalog model is conditioned on them.
    references: dict[str, str] = field(default_factory=dict)


@dataclass
class Review:
    seq: int
    job_id: str
    shot_id: str | None
    verdict: Verdict | None
    verdict_set: bool          # False: a note that leaves the verdict as it was
    note: str
    author: str                # the key id that wrote it
    created_at: float


@dataclass
class Handoff:
    id: str
    project_id: str
    key_id: str
    state: HandoffState
    created_at: float
    completed_at: float | None
    path: str | None
    error: str | None
    selects: int
