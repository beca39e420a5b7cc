"""The creator's workflow over HTTP: takes (select), extension by last-frame chaining, remix,
LoRAs, and provenance/lineage."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from pipelines.core.catalog import Mode, ModelEntry
from pipelines.core.spec import GenerationSpec
from pipelines.families import adapter_for
from pipelines.stitch import SourceVideo
from server.api.auth import ApiKey
from server.api.body import parse, read_body, read_image
from server.api.deps import AppSettings, Service
from server.api.errors import InvalidRequest
from server.api.post_fields import parse_post
from server.api.render import render_video
from server.api.requests import ExtendRequest, RemixRequest
from server.api.routes_create import _check_prompt, _submit
from server.api.submit import Draft, map_seconds, pick_model, request_hash
from server.api.uploads import ImageUpload
from server.api.workflow import (
    add_loras,
    check_can_extend,
    copy_inputs,
    extend_size,
    fmt_seconds,
    library,
    owned_source,
    remix_spec,
    source_of_upload,
    video_id_field,
)
from server.jobs.errors import JobNotReady
from server.jobs.models import Job, JobState
from server.jobs.provenance import lineage, provenance_summary, read_sidecar
from server.jobs.service import JobService
from server.settings import Settings

log = logging.getLogger(__name__)

router = APIRouter(tags=["workflow"])


# --- takes ---


@router.post("/v1/videos/{video_id}/select", summary="Mark a take as the chosen one")
async def select(video_id: str, service: Service, key: ApiKey) -> JSONResponse:
    return JSONResponse(render_video(service.select(video_id, True)))


@router.post("/v1/videos/{video_id}/unselect", summary="Unmark a chosen take")
async def unselect(video_id: str, service: Service, key: ApiKey) -> JSONResponse:
    return JSONResponse(render_video(service.select(video_id, False)))


# --- extension ---


@router.post("/v1/videos/extensions", status_code=202,
             summary="Extend a completed video (OpenAI videos.extend): video[id] or an uploaded MP4 `video`")
async def extensions(request: Request, service: Service, settings: AppSettings, key: ApiKey,
                     idempotency_key: str | None = Header(default=None, max_length=255)) -> JSONResponse:
    return await _extend(request, service, settings, key, idempotency_key, None)


@router.post("/v1/videos/{video_id}/extend", status_code=202,
             summary="Extend a completed video from its last frame; the result is the stitched clip")
async def extend(video_id: str, request: Request, service: Service, settings: AppSettings, key: ApiKey,
                 idempotency_key: str | None = Header(default=None, max_length=255)) -> JSONResponse:
    return await _extend(request, service, settings, key, idempotency_key, video_id)


async def _extend(request: Request, service: JobService, settings: Settings, key: str, idem: str | None,
                  video_id: str | None) -> JSONResponse:
    body = await read_body(request, max(settings.max_upload_bytes, settings.max_video_upload_bytes))
    video_id = video_id or video_id_field(body)
    uploaded = await source_of_upload(body, settings.max_video_upload_bytes)
    if (video_id is None) == (uploaded is None):
        raise InvalidRequest("video: give the id of a completed video (video[id]) or upload an MP4 as `video`, "
                             "not both", "video")
    end = await read_image(body, "last_image", settings.max_upload_bytes, settings.max_upload_pixels)
    if body.files:
        raise InvalidRequest(f"unexpected file field(s): {', '.join(sorted(body.files))}; accepted: video, "
                             "last_image", next(iter(sorted(body.files))))
    req = parse(ExtendRequest, body.fields)
    _check_prompt(req.prompt, settings)
    parent, video_bytes, src = await _extend_source(request, service, key, video_id, uploaded)
    mode = Mode.FIRST_LAST_FRAME if end is not None else Mode.IMAGE_TO_VIDEO
    requested = req.model or (parent.model if parent is not None else None)
    entry = pick_model(requested, request.app.state.default_model, service, request.app.state.locator)
    # A model that continues a video itself (diffusion forcing) extends in its video-to-video mode, from the
    # source's last frames; a last image still needs first+last conditioning, i.e. chaining.
    native = end is None and adapter_for(entry).extends_natively(entry)
    if native:
        mode = Mode.VIDEO_TO_VIDEO
    check_can_extend(entry, mode, service, request)
    width, height = extend_size(entry, src, video_id or "upload")
    frames = _continuation_frames(req, entry, src)
    spec = req.generation_fields()
    spec |= {"model": entry.id, "width": width, "height": height, "num_frames": frames, "fps": src.fps}
    await add_loras(spec, req.loras, entry, request)
    images = _extend_inputs(video_bytes, src, native, end)
    total = src.frames + frames - 1
    workflow = {"frames": total, "continuation_frames": frames,
                "source": {"video_id": video_id, "frames": src.frames, "size": f"{src.width}x{src.height}",
                           "fps": src.fps, "sha256": images["extend_video"].sha256},
                "generated_size": f"{width}x{height}",
                "extend_method": adapter_for(entry).extend_method if native else "chain"}
    digest = request_hash("extend", req.model_dump() | {"video_id": video_id}, images)
    draft = Draft(mode, GenerationSpec(**spec), images, req.n, fmt_seconds(total, src.fps), req.metadata or {},
                  req.priority, req.webhook_url, post=parse_post(req.post), parent_id=video_id, relation="extend",
                  workflow=workflow)
    log.info("extend %s: %d source frames + %d new - 1 = %d at %d fps with %s", video_id or "upload", src.frames,
             frames, total, src.fps, entry.id)
    return await _submit(service, draft, key, digest, idem)


async def _extend_source(request: Request, service: JobService, key: str, video_id: str | None,
                         uploaded: tuple[bytes, SourceVideo] | None) -> tuple[Job | None, bytes, SourceVideo]:
    """The video to extend: a finished job of this key's (its parent record too), or the upload."""
    if video_id is None:
        assert uploaded is not None
        return None, *uploaded
    parent, path, src = await owned_source(request, service, key, video_id)
    return parent, await run_in_threadpool(path.read_bytes), src


def _continuation_frames(req: ExtendRequest, entry: ModelEntry, src: SourceVideo) -> int:
    if req.num_frames is not None and req.seconds is not None:
        raise InvalidRequest("give num_frames or seconds, not both", "seconds")
    if req.num_frames is not None:
        return req.num_frames
    return map_seconds(entry, req.seconds, src.fps) if req.seconds is not None else entry.defaults.num_frames


def _extend_inputs(video_bytes: bytes, src: SourceVideo, native: bool,
                   end: ImageUpload | None) -> dict[str, ImageUpload]:
    """The video rides along as an input file: each take keeps its own copy of what it extends; the
    model continues its last frame (chaining) or the video itself (native)."""
    images = {"extend_video": ImageUpload("extend_video", video_bytes, ".mp4", src.width, src.height)}
    if native:
        images["video"] = ImageUpload("video", video_bytes, ".mp4", src.width, src.height)
    else:
        images["image"] = ImageUpload("image", src.last_frame_png, ".png", src.width, src.height)
    if end is not None:
        images["last_image"] = end
    return images


# --- remix ---


@router.post("/v1/videos/{video_id}/remix", status_code=202,
             summary="Re-run a finished video's spec with a new prompt (OpenAI videos.remix)")
async def remix(video_id: str, request: Request, service: Service, settings: AppSettings, key: ApiKey,
                idempotency_key: str | None = Header(default=None, max_length=255)) -> JSONResponse:
    body = await read_body(request, settings.max_upload_bytes)
    if body.files:
        raise InvalidRequest("remix takes no files; it reuses the original's inputs", next(iter(body.files)))
    req = parse(RemixRequest, body.fields)
    _check_prompt(req.prompt, settings)
    parent = service.get(video_id)
    if parent.state is not JobState.COMPLETED:
        raise JobNotReady(f"video {video_id} is {parent.state.value}; only a completed video can be remixed", "id")
    entry = pick_model(req.model or parent.model, None, service, request.app.state.locator)
    spec = remix_spec(parent, req, entry)
    await add_loras(spec, req.loras, entry, request)
    images = await run_in_threadpool(copy_inputs, parent)
    post = parse_post(req.post) if req.post is not None else parent.post
    workflow = {k: v for k, v in parent.workflow.items() if k in ("frames", "continuation_frames", "source",
                                                                   "generated_size")}
    digest = request_hash("remix", req.model_dump() | {"parent": video_id}, images)
    draft = Draft(Mode(parent.spec["mode"]), GenerationSpec(**spec), images, req.n, parent.seconds,
                  req.metadata or parent.metadata, req.priority, req.webhook_url, post=post, parent_id=video_id,
                  relation="remix", workflow=workflow)
    return await _submit(service, draft, key, digest, idempotency_key)


# --- provenance ---


@router.get("/v1/videos/{video_id}/lineage", summary="The chain of videos this one was made from, newest first")
async def get_lineage(video_id: str, service: Service, key: ApiKey) -> JSONResponse:
    chain = lineage(video_id, service.store.get)
    if chain and chain[0].get("deleted"):
        service.get(video_id)  # 404
    return JSONResponse({"object": "list", "data": chain})


@router.get("/v1/videos/{video_id}/provenance",
            summary="Full provenance: the output's sidecar (spec, weights, LoRAs, inputs, versions) and lineage")
async def get_provenance(video_id: str, service: Service, key: ApiKey) -> JSONResponse:
    job = service.get(video_id)
    sidecar = await run_in_threadpool(read_sidecar, job)
    return JSONResponse({"id": job.id, "object": "video.provenance",
                         "summary": provenance_summary(job, f"/v1/videos/{job.id}/content"),
                         "lineage": lineage(job.id, service.store.get), "sidecar": sidecar})


# --- LoRAs ---


@router.get("/v1/loras", summary="LoRA files on this server, with hashes and the models their keys fit")
async def list_loras(request: Request, service: Service, key: ApiKey) -> JSONResponse:
    lib = library(request)
    models = [(e, loc.path) for loc in request.app.state.locator.present()
              if (e := service.catalog.get(loc.model_id)) is not None]

    def describe() -> list[dict[str, Any]]:
        return [lib.describe(f, models) for f in lib.files()]

    data = await run_in_threadpool(describe)
    return JSONResponse({"object": "list", "data": data, "folder": str(lib.folder)})
