"""Video-to-video: the OpenAI ``POST /v1/videos/edits`` (SDK ``videos.edit``) and the native
``POST /v1/video-to-video``. The source is an uploaded video or ``video[id]`` of a finished one; a
``mask`` (image or video, white = regenerate) inpaints or outpaints, ``reference_images`` keep subjects.

The source is decoded here within the limits (413/415/400 naming the limit), so a job never fails on
it. Its frames are resampled to the model's frame rate and fitted to the model's size by ``image_fit``;
unless ``num_frames``/``seconds`` say otherwise the output spans the source (the resampled frame count,
rounded down to the model's frame rule). A source with sound keeps it on the output (``keep_audio``)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from pipelines.core.catalog import Mode, ModelEntry
from pipelines.core.source_video import resampled_count
from pipelines.core.spec import GenerationSpec
from server.api.audio import Soundtrack, read_audio
from server.api.auth import ApiKey
from server.api.body import parse, read_body
from server.api.deps import AppSettings, Service
from server.api.errors import InvalidRequest
from server.api.post_fields import parse_post
from server.api.requests import VideoEditRequest
from server.api.routes_create import _check_prompt, _submit, refuse_early_when_full
from server.api.submit import Draft, apply_shape, map_seconds, map_size, pick_model, request_hash
from server.api.uploads import ImageUpload
from server.api.video_inputs import (
    VideoUpload,
    check_video,
    extract_audio,
    read_mask,
    read_references,
    read_video_file,
)
from server.api.workflow import able_models, add_loras, owned_source, video_id_field
from server.jobs.service import JobService
from server.settings import Settings

log = logging.getLogger(__name__)

router = APIRouter(tags=["create"])


@router.post("/v1/videos/edits", status_code=202,
             summary="Edit a video (OpenAI videos.edit): `video` upload or video[id], the prompt restyles it")
async def edits(request: Request, service: Service, settings: AppSettings, key: ApiKey,
                idempotency_key: str | None = Header(default=None, max_length=255)) -> JSONResponse:
    return await _video_to_video("edits", request, service, settings, key, idempotency_key)


@router.post("/v1/video-to-video", status_code=202,
             summary="Create a video-to-video job (file `video` or video[id]; optional `mask`, `reference_images`)")
async def video_to_video(request: Request, service: Service, settings: AppSettings, key: ApiKey,
                         idempotency_key: str | None = Header(default=None, max_length=255)) -> JSONResponse:
    return await _video_to_video("video-to-video", request, service, settings, key, idempotency_key)


async def _video_to_video(endpoint: str, request: Request, service: JobService, settings: Settings, key: str,
                          idem: str | None) -> JSONResponse:
    refuse_early_when_full(service, key, idem)
    body = await read_body(request, max(settings.max_upload_bytes, settings.max_video_upload_bytes))
    video_id = video_id_field(body)
    uploaded = await read_video_file(body, "video", settings)
    if (video_id is None) == (uploaded is None):
        raise InvalidRequest("video: give the id of a completed video (video[id]) or upload a video file as "
                             "`video`, not both", "video")
    model_name = body.fields.get("model")
    entry = _pick_v2v_model(model_name if isinstance(model_name, str) else None, request, service)
    mask = await read_mask(body, settings)
    refs = await read_references(body, settings, entry.max_reference_images)
    explicit_audio = await read_audio(body, settings.max_upload_bytes)
    if body.files:
        raise InvalidRequest(f"unexpected file field(s): {', '.join(sorted(body.files))}; accepted: video, mask, "
                             "reference_images, audio", next(iter(sorted(body.files))))
    req = parse(VideoEditRequest, body.fields)
    _check_prompt(req.prompt, settings)
    source = uploaded if uploaded is not None else await _finished_source(request, service, key, video_id)

    spec = req.generation_fields()  # width/height/fps/num_frames set below, from the source
    spec["model"] = entry.id
    shape = None
    if req.aspect_ratio is not None or req.resolution is not None:  # the shape picked once, as on create
        sized: dict[str, Any] = {"width": req.width, "height": req.height}
        shape = apply_shape(entry, sized, req.size, req.aspect_ratio, req.resolution)
        spec["width"], spec["height"] = sized["width"], sized["height"]
    else:
        spec["width"], spec["height"] = _target_size(entry, req, source)
    fps = req.fps or entry.defaults.fps
    spec["fps"] = fps
    spec["num_frames"], spanned = _frames(entry, req, source, fps)
    await add_loras(spec, req.loras, entry, request)

    images: dict[str, ImageUpload] = {"video": source.upload, **refs}
    if mask is not None:
        images["mask"] = mask
    audio = explicit_audio
    if audio is None and req.keep_audio and source.probe.has_audio:
        track = await run_in_threadpool(extract_audio, source.upload.data)
        audio = ImageUpload("audio", track, ".m4a", 0, 0) if track else None
    # VACE makes no sound: the track (uploaded, else the source's) replaces the silent one.
    soundtrack = Soundtrack(audio) if audio is not None else None
    p = source.probe
    workflow = {"source": {"video_id": video_id, "frames": p.frames, "size": f"{p.width}x{p.height}",
                           "fps": p.fps, "codec": p.codec, "sha256": source.upload.sha256},
                "resampled_frames": spanned, "source_audio_kept": audio is not None and explicit_audio is None}
    if shape is not None:
        workflow["shape"] = shape.as_json()
    digest = request_hash(endpoint, req.model_dump() | {"video_id": video_id},
                          images | ({"audio": audio} if audio else {}))
    seconds = f"{spec['num_frames'] / fps:.2f}".rstrip("0").rstrip(".")
    draft = Draft(Mode.VIDEO_TO_VIDEO, GenerationSpec(**spec), images, req.n, seconds, req.metadata or {}, req.priority,
                  req.webhook_url, post=parse_post(req.post), parent_id=video_id,
                  relation="edit" if video_id else None, workflow=workflow, audio=soundtrack)
    log.info("%s %s: %d source frames at %.3f fps -> %d at %d fps, %dx%d with %s", endpoint, video_id or "upload",
             p.frames, p.fps, spec["num_frames"], fps, spec["width"], spec["height"], entry.id)
    return await _submit(service, draft, key, digest, idem)


def _pick_v2v_model(requested: str | None, request: Request, service: JobService) -> ModelEntry:
    """The requested model, or the first present one that serves video-to-video; 400 listing them."""
    locator = request.app.state.locator
    if requested is None:
        present = [loc.model_id for loc in locator.present()]
        able = [m for m in present if (e := service.catalog.get(m)) and Mode.VIDEO_TO_VIDEO in e.pipelines]
        default = request.app.state.default_model
        requested = default if default in able else (able[0] if able else None)
        if requested is None:
            raise InvalidRequest("model: no model that serves video-to-video has weights on this server; "
                                 f"models that can: {able_models(service, request, Mode.VIDEO_TO_VIDEO)}", "model")
    entry = pick_model(requested, None, service, request.app.state.present_weights)
    if Mode.VIDEO_TO_VIDEO not in entry.pipelines:
        raise InvalidRequest(f"model {entry.id} does not serve video-to-video (it serves "
                             f"{', '.join(m.value for m in entry.modes)}); models that can: "
                             f"{able_models(service, request, Mode.VIDEO_TO_VIDEO)}", "model", "model_cannot_edit")
    return entry


async def _finished_source(request: Request, service: JobService, key: str, video_id: str | None) -> VideoUpload:
    assert video_id is not None
    _, path, _ = await owned_source(request, service, key, video_id)
    data = await run_in_threadpool(path.read_bytes)
    settings: Settings = request.app.state.settings
    return await check_video("video", data, settings)


def _target_size(entry: ModelEntry, req: VideoEditRequest, source: VideoUpload) -> tuple[int, int]:
    if req.size is not None:
        if req.width is not None or req.height is not None:
            raise InvalidRequest("give size or width/height, not both", "size")
        return map_size(entry, req.size)
    d = entry.defaults
    w, h = (d.width, d.height) if (source.probe.width >= source.probe.height) == (d.width >= d.height) \
        else (d.height, d.width)
    return req.width or w, req.height or h


def _frames(entry: ModelEntry, req: VideoEditRequest, source: VideoUpload, fps: int) -> tuple[int, int]:
    """(frames to generate, frames the source spans at ``fps``). Asked-for lengths must fit in the source."""
    spanned = resampled_count(source.probe.frames, source.probe.fps, fps)
    if req.num_frames is not None and req.seconds is not None:
        raise InvalidRequest("give num_frames or seconds, not both", "seconds")
    r = entry.rules
    if req.num_frames is not None:
        frames = req.num_frames
    elif req.seconds is not None:
        frames = map_seconds(entry, req.seconds, fps)
    else:
        # The longest length the model accepts that the source covers.
        frames = min(spanned, r.max_frames)
        frames = max(r.min_frames, (frames - 1) // r.frames_multiple * r.frames_multiple + 1)
        return frames, spanned
    if frames > spanned:
        raise InvalidRequest(f"num_frames={frames}: the source spans {spanned} frames at {fps} fps "
                             f"({source.probe.frames} frames at {source.probe.fps:g} fps); ask for at most that",
                             "num_frames" if req.num_frames is not None else "seconds")
    return frames, spanned
