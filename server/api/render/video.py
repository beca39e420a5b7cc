"""The ``video`` object the API returns (OpenAI's fields plus ours), built from a job record."""

from __future__ import annotations

from typing import Any

from server.api.naming import download_name
from server.jobs.models import Job, JobState
from server.jobs.provenance import provenance_summary


def openai_status(state: JobState) -> str:
    return "failed" if state is JobState.CANCELLED else state.value


def _delivered(job: Job) -> dict[str, Any]:
    """What the post stage delivers for this job: frames, fps, size, codec, container."""
    from server.api.post_fields import expected_output

    spec = job.spec
    frames = int(job.workflow.get("frames") or spec["num_frames"])  # an extension delivers the stitched clip
    out = expected_output(job.post or {}, spec["width"], spec["height"], frames, spec["fps"])
    return out | {"size": f"{out['width']}x{out['height']}"}


def has_audio(job: Job) -> bool:
    """A finished job: whether it has a soundtrack file; before that, whether it will."""
    if job.state is JobState.COMPLETED:
        return bool(job.files.get("audio"))
    export = (job.post or {}).get("export") or {}
    return bool(job.spec.get("generate_audio") or export.get("audio"))


def render_video(job: Job, base_url: str = "") -> dict[str, Any]:
    """The OpenAI ``video`` object plus vidserve's fields."""
    spec = job.spec
    error = None
    if job.state in (JobState.FAILED, JobState.CANCELLED):
        error = {"code": job.error_code or "internal", "message": job.error_message or ""}
    content = f"{base_url}/v1/videos/{job.id}/content"
    return {
        "id": job.id,
        "object": "video",
        "model": job.model,
        "status": openai_status(job.state),
        "progress": job.progress,
        "created_at": int(job.created_at),
        "completed_at": int(job.completed_at) if job.completed_at else None,
        "expires_at": int(job.expires_at) if job.expires_at else None,
        "error": error,
        "remixed_from_video_id": job.parent_id if job.relation == "remix" else None,
        "seconds": job.seconds,
        "size": _delivered(job)["size"] if job.post else job.size,
        "prompt": spec.get("prompt", ""),
        # vidserve's own fields
        "state": job.state.value,
        "stage": job.stage,
        "eta_seconds": job.eta_seconds,
        "queue_position": job.queue_position,
        "priority": job.priority,
        "group_id": job.group_id,
        "seed": spec.get("seed"),
        "has_audio": has_audio(job),
        "spec": spec,
        "metadata": job.metadata,
        "attempts": job.attempts,
        "started_at": job.started_at,
        # Sub-second server timestamps (OpenAI's are whole seconds): queue wait and run time from these.
        "timestamps": {"created": job.created_at, "started": job.started_at, "completed": job.completed_at},
        # What a download is called: sorts by project, scene, shot and take (server.api.naming).
        "filename": download_name(job, "mp4"),
        "output": _delivered(job) if job.post else None,
        "timings": job.timings,
        "worker_id": job.worker_id,
        "post": job.post,
        "source_video_id": job.source_video_id,
        "parent_id": job.parent_id,
        "relation": job.relation,
        "selected": job.selected,
        # The shape the size was picked from (aspect_ratio/resolution), and what the server adjusted.
        "shape": (job.workflow or {}).get("shape"),
        "warnings": (job.workflow or {}).get("warnings", []),
        "provenance": provenance_summary(job, content),
        "outputs": {
            "video": f"{content}?variant=video",
            "thumbnail": f"{content}?variant=thumbnail",
            "last_frame": f"{content}?variant=last_frame",
            "spritesheet": f"{content}?variant=spritesheet",
            "sidecar": f"{content}?variant=sidecar",
        } | ({"audio": f"{content}?variant=audio"} if has_audio(job) else {})
        if job.state is JobState.COMPLETED else None,
    }
