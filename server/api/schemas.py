"""Request bodies and the ``video`` object the API returns (OpenAI's fields plus ours)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator

from pipelines.core.validation import NoBoolNumbers
from server.api.audio import AudioFields
from server.api.naming import download_name
from server.jobs.models import Job, JobState
from server.jobs.provenance import provenance_summary

MAX_N = 8
MAX_METADATA_KEYS = 16


def _check_metadata(value: dict[str, str] | None) -> dict[str, str] | None:
    if value is None:
        return None
    if len(value) > MAX_METADATA_KEYS:
        raise ValueError(f"at most {MAX_METADATA_KEYS} keys")
    for k, v in value.items():
        if not 1 <= len(k) <= 64 or len(str(v)) > 512:
            raise ValueError(f"key {k!r}: keys are 1-64 characters, values at most 512")
    return {k: str(v) for k, v in value.items()}


class CommonFields(NoBoolNumbers):
    """What every creation request may carry besides the generation spec."""

    model_config = ConfigDict(extra="forbid")

    metadata: dict[str, str] | None = Field(default=None, description="free-form labels (project, scene, shot)")
    priority: int = Field(default=0, ge=-10, le=10, description="higher runs first; FIFO within a priority")
    webhook_url: str | None = Field(default=None, max_length=2048, pattern=r"^https?://")
    # The post stage (interpolate, upscale, export); multipart sends it as a JSON string. Checked by
    # server.api.post_fields.parse_post, which names the bad field (post.upscale.size).
    post: dict[str, Any] | str | None = Field(default=None, description="interpolate / upscale / export")
    # LoRAs from the server's LoRA folder: [{"name", "strength", "expert"}]; multipart sends a JSON string.
    # Checked against the model by server.api.workflow.lora_refs (400 naming loras[i]).
    loras: list[dict[str, Any]] | str | None = Field(default=None, description="[{name, strength, expert}]")

    @field_validator("metadata")
    @classmethod
    def check_metadata(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        return _check_metadata(value)


class PublishedSettingsFields(NoBoolNumbers):
    """The model's published quality settings (GET /v1/models shows them), which a request may override on
    the native and the OpenAI shape alike; checked against the model by pipelines.core.spec.resolve (400
    naming the field)."""

    flow_shift: float | None = Field(default=None, description="scheduler flow shift (Wan)")
    decode_timestep: float | None = Field(default=None, description="LTX-Video decode timestep")
    decode_noise_scale: float | None = Field(default=None, description="LTX-Video decode noise")
    image_cond_noise_scale: float | None = Field(default=None, description="LTX-Video image-condition noise")

    def settings_fields(self) -> dict[str, float]:
        return self.model_dump(include=set(PublishedSettingsFields.model_fields), exclude_none=True)


class NativeRequest(CommonFields, AudioFields, PublishedSettingsFields):
    """`POST /v1/text-to-video`, `/v1/image-to-video`, `/v1/first-last-frame-to-video`.

    ``n`` > 1 creates n separate jobs sharing a ``group_id``, with seeds seed, seed+1, …, seed+n−1
    (a random base seed when none is given); the response is then a list of the n video objects.
    Images are multipart file fields or data-URL/base64 strings."""

    model: str | None = Field(default=None, max_length=200)
    prompt: str = Field(default="", max_length=20_000)
    negative_prompt: str | None = Field(default=None, max_length=20_000)
    width: int | None = Field(default=None, ge=1, le=8192)
    height: int | None = Field(default=None, ge=1, le=8192)
    size: str | None = Field(default=None, max_length=16, description="'WIDTHxHEIGHT', as on POST /v1/videos")
    aspect_ratio: str | None = Field(default=None, max_length=8, description="16:9, 9:16, 1:1, 4:3, 3:4 or 21:9: "
                                     "the server picks the model's nearest valid size (not with size/width/height)")
    resolution: str | None = Field(default=None, max_length=8, description="480p, 720p or 1080p where the model "
                                   "has it (GET /v1/models lists its shapes); alone: the model's default aspect ratio")
    num_frames: int | None = Field(default=None, ge=1, le=2048)
    seconds: float | None = Field(default=None, gt=0, le=600)
    fps: int | None = Field(default=None, ge=1, le=120)
    steps: int | None = Field(default=None, ge=1, le=200)
    guidance_scale: float | None = Field(default=None, ge=0, le=30)
    guidance_scale_2: float | None = Field(default=None, ge=0, le=30)
    seed: int | None = Field(default=None, ge=0, le=2**63 - 1)
    n: int = Field(default=1, ge=1, le=MAX_N)
    image_fit: Literal["cover", "contain"] = "cover"
    speed: Literal["exact", "fast", "fastest"] = Field(
        default="exact", description="exact: the same math as diffusers; fast/fastest: step caching (lossy)")
    quality: Literal["draft", "final"] = Field(
        default="draft", description="draft: one pass; final: the model's two-stage flow (LTX-2; GET /v1/models)")
    image: str | None = None
    last_image: str | None = None


class OpenAIVideoRequest(CommonFields, AudioFields, PublishedSettingsFields):
    """`POST /v1/videos`: OpenAI's fields; a few of ours are accepted too (sent via ``extra_body``)."""

    prompt: str = Field(max_length=20_000)
    model: str | None = Field(default=None, max_length=200)
    seconds: str | None = Field(default=None, max_length=16)
    size: str | None = Field(default=None, max_length=16)
    aspect_ratio: str | None = Field(default=None, max_length=8, description="16:9, 9:16, 1:1, 4:3, 3:4 or 21:9: "
                                     "the server picks the model's nearest valid size (not with size/width/height)")
    resolution: str | None = Field(default=None, max_length=8, description="480p, 720p or 1080p where the model "
                                   "has it (GET /v1/models lists its shapes); alone: the model's default aspect ratio")
    input_reference: str | dict[str, Any] | None = None
    negative_prompt: str | None = Field(default=None, max_length=20_000)
    steps: int | None = Field(default=None, ge=1, le=200)
    seed: int | None = Field(default=None, ge=0, le=2**63 - 1)
    fps: int | None = Field(default=None, ge=1, le=120)
    guidance_scale: float | None = Field(default=None, ge=0, le=30)
    n: int = Field(default=1, ge=1, le=MAX_N, description="takes: seeds seed..seed+n-1, one group_id")
    speed: Literal["exact", "fast", "fastest"] = "exact"
    quality: Literal["draft", "final"] = "draft"


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
