"""Creating video jobs: the three native endpoints and the OpenAI ``POST /v1/videos``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from pipelines.core.catalog import Mode
from pipelines.core.shapes import Shape
from pipelines.core.spec import GenerationSpec
from pipelines.families.wan_vace.models import MAX_REFERENCE_IMAGES
from server.api.audio import read_audio, soundtrack
from server.api.auth import ApiKey
from server.api.body import RequestBody, parse, read_body, read_image
from server.api.deps import AppSettings, Service
from server.api.errors import InvalidRequest
from server.api.post_fields import parse_post
from server.api.render import render_video
from server.api.requests import NativeRequest, OpenAIVideoRequest
from server.api.submit import Draft, apply_shape, create_jobs, map_seconds, pick_model, request_hash
from server.api.uploads import ImageUpload
from server.api.video_inputs import read_references
from server.api.workflow import add_loras
from server.jobs.models import Job
from server.jobs.service import JobService
from server.settings import Settings

router = APIRouter(tags=["create"])

POLL_AFTER_MS = "1000"
_NATIVE_IMAGES = {Mode.TEXT_TO_VIDEO: (), Mode.IMAGE_TO_VIDEO: ("image",),
                  Mode.FIRST_LAST_FRAME: ("image", "last_image")}


async def _images(body: RequestBody, names: tuple[str, ...], settings: Settings) -> dict[str, ImageUpload]:
    out = {}
    for name in names:
        img = await read_image(body, name, settings.max_upload_bytes, settings.max_upload_pixels)
        if img is not None:
            out[name] = img
    if body.files:
        extra = ", ".join(sorted(body.files))
        raise InvalidRequest(f"unexpected file field(s): {extra}; accepted: {', '.join(names) or 'none'}",
                             next(iter(sorted(body.files))))
    return out


def _shape_workflow(shape: Shape | None) -> dict[str, Any]:
    return {"shape": shape.as_json()} if shape is not None else {}


def _check_prompt(prompt: str, settings: Settings) -> None:
    if len(prompt) > settings.max_prompt_chars:
        raise InvalidRequest(f"prompt: {len(prompt)} characters, over the {settings.max_prompt_chars} limit",
                             "prompt")


def refuse_early_when_full(service: JobService, key_id: str, idem_key: str | None) -> None:
    """A full queue refuses (429) before the body is read and parsed: in a burst most submissions are
    refused, and each one costs the event loop only this check, not a parse, a model lookup and a
    spec. A retry carrying an Idempotency-Key gets past it: it may be the replay of a job it made."""
    if idem_key is None:
        service.check_room(key_id, 1)


async def _submit(service: JobService, draft: Draft, key_id: str, digest: str,
                  idem_key: str | None) -> JSONResponse:
    idem = (f"{key_id}:{idem_key}", digest) if idem_key else None
    if idem is not None:
        replay = service.store.idempotent(*idem)
        if replay is not None:
            if not replay:
                raise InvalidRequest(f"Idempotency-Key {idem_key!r}: the jobs it created were deleted",
                                     "Idempotency-Key", "idempotency_key_used")
            return _created([service.view(j) for j in replay], replayed=True)
    # The places are held from here (a burst's later submissions are refused at once, before their
    # inputs are written) until the commit queues the jobs or this submission fails.
    held = service.queue.reserve(key_id, draft.n, service.retry_after_s())
    try:
        # Saving inputs and decoding images is disk and CPU work: off the event loop.
        jobs = await run_in_threadpool(create_jobs, service, draft, key_id)
    except BaseException:
        service.queue.release(held)
        raise
    stored, created = await service.submit(jobs, idem, held)
    return _created(stored, replayed=not created)


def _created(jobs: list[Job], replayed: bool) -> JSONResponse:
    headers = {"openai-poll-after-ms": POLL_AFTER_MS, "Location": f"/v1/videos/{jobs[0].id}"}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    content: dict[str, Any]
    if len(jobs) == 1:
        content = render_video(jobs[0])
    else:
        content = {"object": "list", "group_id": jobs[0].group_id, "data": [render_video(j) for j in jobs]}
    return JSONResponse(content, status_code=202, headers=headers)


async def _native(mode: Mode, request: Request, service: JobService, settings: Settings, key: str,
                  idem_key: str | None) -> JSONResponse:
    refuse_early_when_full(service, key, idem_key)
    body = await read_body(request, settings.max_upload_bytes)
    audio = await read_audio(body, settings.max_upload_bytes)
    # Checked against the model by resolve() (a 400 on models that take none).
    refs = await read_references(body, settings, MAX_REFERENCE_IMAGES)
    images = await _images(body, _NATIVE_IMAGES[mode], settings) | refs
    req = parse(NativeRequest, body.fields)
    _check_prompt(req.prompt, settings)
    track = soundtrack(audio, req)
    digest = request_hash(mode.value, req.model_dump(exclude={"image", "last_image"}),
                          images | ({"audio": audio} if audio else {}))
    entry = pick_model(req.model, request.app.state.default_model, service, request.app.state.present_weights)
    spec = req.generation_fields()
    spec["model"] = entry.id
    shape = apply_shape(entry, spec, req.size, req.aspect_ratio, req.resolution)
    await add_loras(spec, req.loras, entry, request)
    seconds = None
    if req.seconds is not None:
        if req.num_frames is not None:
            raise InvalidRequest("give num_frames or seconds, not both", "seconds")
        spec["num_frames"] = map_seconds(entry, req.seconds, req.fps)
        seconds = f"{req.seconds:g}"
    draft = Draft(mode, GenerationSpec(**spec), images, req.n, seconds, req.metadata or {}, req.priority,
                  req.webhook_url, post=parse_post(req.post), audio=track, workflow=_shape_workflow(shape))
    return await _submit(service, draft, key, digest, idem_key)


@router.post("/v1/text-to-video", status_code=202, summary="Create a text-to-video job")
async def text_to_video(request: Request, service: Service, settings: AppSettings, key: ApiKey,
                        idempotency_key: str | None = Header(default=None, max_length=255)) -> JSONResponse:
    return await _native(Mode.TEXT_TO_VIDEO, request, service, settings, key, idempotency_key)


@router.post("/v1/image-to-video", status_code=202, summary="Create an image-to-video job (field `image`)")
async def image_to_video(request: Request, service: Service, settings: AppSettings, key: ApiKey,
                         idempotency_key: str | None = Header(default=None, max_length=255)) -> JSONResponse:
    return await _native(Mode.IMAGE_TO_VIDEO, request, service, settings, key, idempotency_key)


@router.post("/v1/first-last-frame-to-video", status_code=202,
             summary="Create a first+last-frame job (fields `image`, `last_image`)")
async def first_last_frame(request: Request, service: Service, settings: AppSettings, key: ApiKey,
                           idempotency_key: str | None = Header(default=None, max_length=255)) -> JSONResponse:
    return await _native(Mode.FIRST_LAST_FRAME, request, service, settings, key, idempotency_key)


@router.post("/v1/videos", status_code=202, summary="Create a video (OpenAI Videos API)")
async def create_video(request: Request, service: Service, settings: AppSettings, key: ApiKey,
                       idempotency_key: str | None = Header(default=None, max_length=255)) -> JSONResponse:
    refuse_early_when_full(service, key, idempotency_key)
    body = await read_body(request, settings.max_upload_bytes)
    audio = await read_audio(body, settings.max_upload_bytes)
    images = await _images(body, ("input_reference",), settings)
    req = parse(OpenAIVideoRequest, body.fields)
    _check_prompt(req.prompt, settings)
    track = soundtrack(audio, req)
    digest = request_hash("videos", req.model_dump(exclude={"input_reference"}),
                          images | ({"audio": audio} if audio else {}))
    entry = pick_model(req.model, request.app.state.default_model, service, request.app.state.present_weights)
    mode = Mode.IMAGE_TO_VIDEO if images else Mode.TEXT_TO_VIDEO
    spec = req.generation_fields()  # the published settings and audio fields too (the SDK's extra_body)
    spec["model"] = entry.id
    await add_loras(spec, req.loras, entry, request)
    shape = apply_shape(entry, spec, req.size or None, req.aspect_ratio, req.resolution)
    if req.seconds:
        spec["num_frames"] = map_seconds(entry, req.seconds, req.fps)
    if "input_reference" in images:
        images = {"image": images["input_reference"]}
    draft = Draft(mode, GenerationSpec(**spec), images, req.n, req.seconds, req.metadata or {}, req.priority,
                  req.webhook_url, post=parse_post(req.post), audio=track, workflow=_shape_workflow(shape))
    return await _submit(service, draft, key, digest, idempotency_key)
