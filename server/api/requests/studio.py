"""The studio shapes: projects, shots, takes and reviews."""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import ConfigDict, Field

from pipelines.core.shapes import ASPECT_RATIOS, RESOLUTIONS
from pipelines.core.spec import MAX_PROMPT_CHARS
from pipelines.core.validation import NoBoolNumbers
from server.api.requests.base import RequestModel
from server.api.requests.fields import (
    MAX_N,
    Guidance,
    ImageFit,
    ModelName,
    NegativePrompt,
    NumFrames,
    PostField,
    Priority,
    Seconds,
    Seed,
    SeedValue,
    Speed,
    Steps,
)
from server.studio.models import ShotStatus

AspectRatio = Literal["16:9", "9:16", "1:1", "4:3", "3:4", "21:9"]
Resolution = Literal["480p", "720p", "1080p"]
assert set(get_args(AspectRatio)) == set(ASPECT_RATIOS) and set(get_args(Resolution)) == set(RESOLUTIONS)

_TEXT = 4000


class ProjectFields(NoBoolNumbers):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    aspect_ratio: AspectRatio | None = Field(default=None, description="the shape every take of the project has")
    resolution: Resolution | None = Field(default=None, description="where the model has it (GET /v1/models)")
    model: ModelName = Field(default=None, description="default model of the project's takes")
    visual_bible: str | None = Field(default=None, max_length=_TEXT,
                                     description="a style paragraph appended to every shot's prompt")
    notes: str | None = Field(default=None, max_length=_TEXT)


class ProjectCreate(ProjectFields):
    """`POST /v1/projects`."""

    name: str = Field(min_length=1, max_length=200)


class ShotFields(NoBoolNumbers):
    """`POST /v1/projects/{id}/shots`, `PATCH /v1/shots/{id}` (JSON, or multipart with `keyframe` and
    `last_image` files; JSON takes them as data URLs or base64)."""

    model_config = ConfigDict(extra="forbid")

    order: int | None = Field(default=None, ge=1, le=10_000, description="place in the shot list (default: last)")
    name: str | None = Field(default=None, max_length=120, description="e.g. 'wide establishing' (file names)")
    scene: str | None = Field(default=None, max_length=64)
    description: str | None = Field(default=None, max_length=_TEXT)
    camera_move: str | None = Field(default=None, max_length=200)
    duration: Seconds = Field(default=None, description="seconds; each take's length")
    acceptance_note: str | None = Field(default=None, max_length=_TEXT, description="what a take must show")
    prompt: str | None = Field(default=None, max_length=MAX_PROMPT_CHARS)
    model: ModelName = None
    status: ShotStatus | None = None
    multiple_selects: bool | None = Field(default=None, description="allow more than one selected take")
    keyframe: str | None = Field(default=None, description="the first frame (file part, data URL or base64)")
    last_image: str | None = Field(default=None, description="optional last frame (first+last-frame takes)")
    reference_1: str | None = Field(default=None, description="a reference still for the crew (not a model input)")
    reference_2: str | None = Field(default=None, description="a second reference still")


class TakesRequest(RequestModel):
    """`POST /v1/shots/{id}/takes`: n takes with the project's shape and the shot's keyframe."""

    n: int = Field(default=3, ge=1, le=MAX_N, description="takes: seeds seed..seed+n-1")
    seed: Seed = None
    seeds: list[SeedValue] | None = Field(
        default=None, min_length=1, max_length=MAX_N, description="one seed per take (n is then their count)")
    model: ModelName = Field(default=None, description="overrides the shot's and project's")
    steps: Steps = None
    num_frames: NumFrames = None
    seconds: Seconds = Field(default=None, description="overrides the shot's duration")
    guidance_scale: Guidance = None
    negative_prompt: NegativePrompt = None
    image_fit: ImageFit = "cover"
    speed: Speed = "exact"
    priority: Priority = 0
    post: PostField = None


class ReviewRequest(NoBoolNumbers):
    """`POST /v1/videos/{id}/review`: a verdict (null clears it; omitted keeps it) and/or a note."""

    model_config = ConfigDict(extra="forbid")

    verdict: Literal["select", "maybe", "reject"] | None = None
    note: str = Field(default="", max_length=_TEXT)
