"""The objects the studio routes return: projects, shots, takes, reviews and handoffs."""

from __future__ import annotations

from typing import Any

from server.api.render.video import render_video
from server.studio.models import Handoff, Project, Review, Shot
from server.studio.service import Cost, TakeView


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
