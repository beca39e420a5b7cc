"""Studio request bodies and the objects the studio routes return (projects, shots, takes, handoffs)."""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import ConfigDict, Field

from pipelines.core.shapes import ASPECT_RATIOS, RESOLUTIONS
from pipelines.core.validation import NoBoolNumbers
from server.api.schemas import MAX_N, render_video
from server.studio.models import Handoff, Project, Review, Shot, ShotStatus
from server.studio.service import Cost, TakeView

AspectRatio = Literal["16:9", "9:16", "1:1", "4:3", "3:4", "21:9"]
Resolution = Literal["480p", "720p", "1080p"]
assert set(get_args(AspectRatio)) == set(ASPECT_RATIOS) and set(get_args(Resolution)) == set(RESOLUTIONS)

_TEXT = 4000
_PROMPT = 20_000


class ProjectFields(NoBoolNumbers):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    aspect_ratio: AspectRatio | None = Field(default=None, description="the shape every take of the project has")
    resolution: Resolution | None = Field(default=None, description="where the model has it (GET /v1/models)")
    model: str | None = Field(default=None, max_length=200, description="default model of the project's takes")
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
    duration: float | None = Field(default=None, gt=0, le=600, description="seconds; each take's length")
    acceptance_note: str | None = Field(default=None, max_length=_TEXT, description="what a take must show")
    prompt: str | None = Field(default=None, max_length=_PROMPT)
    model: str | None = Field(default=None, max_length=200)
    status: ShotStatus | None = None
    multiple_selects: bool | None = Field(default=None, description="allow more than one selected take")
    keyframe: str | None = Field(default=None, description="the first frame (file part, data URL or base64)")
    last_image: str | None = Field(default=None, description="optional last frame (first+last-frame takes)")
    reference_1: str | None = Field(default=None, description="a reference still for the crew (not a model input)")
    reference_2: str | None = Field(default=None, description="a second reference still")


class TakesRequest(NoBoolNumbers):
    """`POST /v1/shots/{id}/takes`: n takes with the project's shape and the shot's keyframe."""

    model_config = ConfigDict(extra="forbid")

    n: int = Field(default=3, ge=1, le=MAX_N, description="takes: seeds seed..seed+n-1")
    seed: int | None = Field(default=None, ge=0, le=2**63 - 1)
    seeds: list[Annotated[int, Field(ge=0, le=2**63 - 1)]] | None = Field(
        default=None, min_length=1, max_length=MAX_N, description="one seed per take (n is then their count)")
    model: str | None = Field(default=None, max_length=200, description="overrides the shot's and project's")
    steps: int | None = Field(default=None, ge=1, le=200)
    num_frames: int | None = Field(default=None, ge=1, le=2048)
    seconds: float | None = Field(default=None, gt=0, le=600, description="overrides the shot's duration")
    guidance_scale: float | None = Field(default=None, ge=0, le=30)
    negative_prompt: str | None = Field(default=None, max_length=_PROMPT)
    image_fit: Literal["cover", "contain"] = "cover"
    speed: Literal["exact", "fast", "fastest"] = "exact"
    priority: int = Field(default=0, ge=-10, le=10)
    post: dict[str, Any] | str | None = Field(default=None, description="interpolate / upscale / export")


class ReviewRequest(NoBoolNumbers):
    """`POST /v1/videos/{id}/review`: a verdict (null clears it; omitted keeps it) and/or a note."""

    model_config = ConfigDict(extra="forbid")

    verdict: Literal["select", "maybe", "reject"] | None = None
    note: str = Field(default="", max_length=_TEXT)


def render_cost(cost: Cost) -> dict[str, Any]:
    return {"takes": cost.takes, "gpu_seconds": round(cost.gpu_seconds, 3), "peak_vram_bytes": cost.peak_vram_bytes}


def render_project(project: Project, shots: int, cost: Cost) -> dict[str, Any]:
    return {
        "id": project.id, "object": "project", "name": project.name, "aspect_ratio": project.aspect_ratio,
        "resolution": project.resolution, "model": project.model, "visual_bible": project.visual_bible,
        "notes": project.notes, "created_at": project.created_at, "updated_at": project.updated_at,
        "shots": shots, "cost": render_cost(cost),
    }


def render_shot(shot: Shot, cost: Cost) -> dict[str, Any]:
    base = f"/v1/shots/{shot.id}"
    return {
        "id": shot.id, "object": "shot", "project_id": shot.project_id, "order": shot.position, "name": shot.name,
        "scene": shot.scene, "description": shot.description, "camera_move": shot.camera_move,
        "duration": shot.duration, "acceptance_note": shot.acceptance_note, "prompt": shot.prompt,
        "model": shot.model, "status": shot.status.value, "multiple_selects": shot.multiple_selects,
        "keyframe_url": f"{base}/keyframe" if shot.keyframe else None,
        "last_image_url": f"{base}/keyframe?which=last_image" if shot.last_image else None,
        "reference_urls": {name: f"{base}/keyframe?which={name}" for name in sorted(shot.references)},
        "created_at": shot.created_at, "updated_at": shot.updated_at, "takes": cost.takes, "cost": render_cost(cost),
    }


def render_review(review: Review) -> dict[str, Any]:
    return {"verdict": review.verdict.value if review.verdict else None, "verdict_set": review.verdict_set,
            "note": review.note, "author": review.author, "created_at": review.created_at}


def render_take(take: TakeView) -> dict[str, Any]:
    verdict = take.verdict
    return render_video(take.job) | {
        "take_number": take.number, "verdict": verdict.value if verdict else None,
        "notes": [render_review(r) for r in take.reviews if r.note], "cost": render_cost(take.cost),
    }


def render_handoff(handoff: Handoff) -> dict[str, Any]:
    return {
        "id": handoff.id, "object": "handoff", "project_id": handoff.project_id, "status": handoff.state.value,
        "created_at": handoff.created_at, "completed_at": handoff.completed_at, "selects": handoff.selects,
        "error": handoff.error,
        "download_url": f"/v1/projects/{handoff.project_id}/handoff" if handoff.state.value == "completed" else None,
    }
