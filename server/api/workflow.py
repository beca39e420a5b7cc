"""Building drafts for the creator's workflow: LoRAs on any create request, extension (last-frame
chaining) of a finished or uploaded video, and remix of a finished video's spec. Torch-free; file
decoding runs in a thread so the event loop is never held."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

from fastapi import Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from pipelines.core.audio_spec import AudioRequest
from pipelines.core.catalog import Mode, ModelEntry
from pipelines.core.loras import LoraLibrary, LoraRequest, resolve_loras
from pipelines.stitch import SourceVideo, fit_size, inspect_source
from server.api.auth import is_admin
from server.api.body import RequestBody
from server.api.errors import InvalidRequest, PayloadTooLarge
from server.api.requests import RemixRequest
from server.api.submit import REFERENCE_PREFIX
from server.api.uploads import ImageUpload
from server.jobs.errors import JobNotFound, JobNotReady
from server.jobs.models import Job, JobState
from server.jobs.service import JobService

log = logging.getLogger(__name__)

_PATH_FIELDS = ("image", "last_image", "extend_video", "video", "mask")


def library(request: Request) -> LoraLibrary:
    lib: LoraLibrary = request.app.state.loras
    return lib


async def add_loras(spec: dict[str, Any], raw: list[dict[str, Any]] | str | None, entry: ModelEntry,
                    request: Request) -> None:
    """Resolve the request's LoRAs against ``entry`` into ``spec["loras"]`` (400 naming loras[i])."""
    if raw is None or raw == "" or raw == []:
        return
    if isinstance(raw, str):
        import json

        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise InvalidRequest(f"loras: not a JSON list ({exc})", "loras") from exc
    if not isinstance(raw, list):
        raise InvalidRequest("loras: expected a list of {name, strength, expert}", "loras")
    try:
        wanted = [LoraRequest.model_validate(x) for x in raw]
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InvalidRequest(f"loras: {first['msg']} (got {first.get('input')!r})", "loras") from exc
    location = request.app.state.locator.find(entry.id)
    refs = await run_in_threadpool(resolve_loras, wanted, library(request), entry,
                                   location.path if location else None)
    spec["loras"] = [r.model_dump(mode="json") for r in refs]


def able_models(service: JobService, request: Request, mode: Mode) -> str:
    """Models that serve ``mode``, those with weights here first."""
    able = [e.id for e in service.catalog.entries() if mode in e.pipelines]
    present = {loc.model_id for loc in request.app.state.locator.present()}
    here = [m for m in able if m in present]
    return ", ".join(here) + (" (weights present); in the catalog also: " if here else "") + \
        ", ".join(m for m in able if m not in present)


def check_can_extend(entry: ModelEntry, mode: Mode, service: JobService, request: Request) -> None:
    if mode not in entry.pipelines:
        served = ", ".join(m.value for m in entry.modes)
        raise InvalidRequest(
            f"model {entry.id} cannot extend a video: extension continues from the last frame and needs "
            f"{mode.value} conditioning, and {entry.id} serves only {served}. Models that can: "
            f"{able_models(service, request, mode)}", "model", "model_cannot_extend")


async def source_of_job(service: JobService, video_id: str) -> tuple[Job, Path, SourceVideo]:
    job = service.get(video_id)
    if job.state is not JobState.COMPLETED:
        raise JobNotReady(f"video {video_id} is {job.state.value}; only a completed video can be extended", "video")
    path = service.file_of(job, "video")
    if path is None:
        raise JobNotReady(f"video {video_id} has no video file left", "video")
    try:
        return job, path, await run_in_threadpool(inspect_source, path)
    except ValueError as exc:
        raise InvalidRequest(f"video {video_id}: {exc}", "video") from exc


async def owned_source(request: Request, service: JobService, key: str,
                       video_id: str) -> tuple[Job, Path, SourceVideo]:
    """``source_of_job`` for an id that came in the body: the route's ownership check (on path ids)
    did not see it, so another key's video is a 404 here too."""
    owner = service.store.get(video_id)
    if owner is not None and owner.key_id != key and not is_admin(request):
        raise JobNotFound(video_id)
    return await source_of_job(service, video_id)


async def source_of_upload(body: RequestBody, max_bytes: int) -> tuple[bytes, SourceVideo] | None:
    upload = body.files.pop("video", None)
    if upload is None:
        return None
    data = await upload.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"video: file is over the {max_bytes} byte limit", "video")

    def inspect(raw: bytes) -> SourceVideo:
        with tempfile.NamedTemporaryFile(suffix=".mp4") as f:
            f.write(raw)
            f.flush()
            return inspect_source(Path(f.name))

    try:
        return data, await run_in_threadpool(inspect, data)
    except ValueError as exc:
        raise InvalidRequest(f"video: {exc}", "video", "invalid_video") from exc


def video_id_field(body: RequestBody) -> str | None:
    """The OpenAI SDK's ``video={"id": …}``: multipart key ``video[id]``, or JSON ``{"video": {"id"}}``."""
    vid = body.fields.pop("video[id]", None)
    raw = body.fields.get("video")
    if vid is None and isinstance(raw, dict):
        vid = raw.get("id")
        body.fields.pop("video")
    elif vid is None and isinstance(raw, str):
        vid = body.fields.pop("video")
    return str(vid) if vid else None


def extend_size(entry: ModelEntry, src: SourceVideo, job_id_hint: str) -> tuple[int, int]:
    w, h = fit_size(entry, src.width, src.height)
    if (w, h) != (src.width, src.height):
        log.info("extend %s: source %dx%d does not fit %s's rules; continuation runs at %dx%d and is resized "
                 "back to %dx%d for stitching", job_id_hint, src.width, src.height, entry.id, w, h,
                 src.width, src.height)
    return w, h


def fmt_seconds(frames: int, fps: int) -> str:
    return f"{frames / fps:.2f}".rstrip("0").rstrip(".")


def copy_inputs(parent: Job) -> dict[str, ImageUpload]:
    """The parent's input files (images, extended or source video, mask, reference images) as uploads,
    so the new job owns copies."""
    out: dict[str, ImageUpload] = {}
    for name in _PATH_FIELDS:
        value = parent.spec.get(name)
        if not value:
            continue
        path = Path(value)
        if not path.is_file():
            raise JobNotReady(f"video {parent.id}: its input {name} is gone; it cannot be re-run", name)
        out[name] = ImageUpload(name, path.read_bytes(), path.suffix, 0, 0)
    for i, value in enumerate(parent.spec.get("reference_images") or ()):
        path = Path(value)
        if not path.is_file():
            raise JobNotReady(f"video {parent.id}: its input reference_images[{i}] is gone; it cannot be re-run",
                              "reference_images")
        name = f"{REFERENCE_PREFIX}{i}"
        out[name] = ImageUpload(name, path.read_bytes(), path.suffix, 0, 0)
    return out


def remix_spec(parent: Job, req: RemixRequest, entry: ModelEntry) -> dict[str, Any]:
    """The parent's resolved spec with the new prompt and overrides; a different model keeps mode,
    size, frames, fps and seed but takes its own defaults for steps and guidance unless given."""
    spec = {k: v for k, v in parent.spec.items()
            if k not in (*_PATH_FIELDS, "reference_images", "pipeline_class", "mode")}
    if entry.id != parent.model:
        # ... and its own soundtrack defaults (a video-only model takes no audio fields; an audio one makes audio)
        for key in ("steps", "guidance_scale", "guidance_scale_2", "negative_prompt", "loras", "flow_shift",
                    "decode_timestep", "decode_noise_scale", "image_cond_noise_scale", *AudioRequest.model_fields):
            spec.pop(key, None)
        spec["model"] = entry.id
    spec.update(req.generation_fields())
    if not spec.get("loras"):
        spec.pop("loras", None)
    return spec
