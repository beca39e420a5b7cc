"""Reading and managing video jobs: retrieve, list, content, events (SSE), cancel, delete."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse

from server.api.audio import NoSoundtrack
from server.api.auth import ApiKey, is_admin
from server.api.deps import Service
from server.api.errors import InvalidRequest
from server.api.naming import download_name
from server.api.render import render_video
from server.jobs.errors import JobNotReady
from server.jobs.events import TERMINAL_EVENTS
from server.jobs.models import JobState
from server.jobs.service import JobService

router = APIRouter(tags=["videos"])

POLL_AFTER_MS = "1000"
KEEPALIVE_S = 15.0
_VARIANTS = {
    "video": ("video", "video/mp4", "mp4"),
    "thumbnail": ("thumbnail", "image/webp", "webp"),
    "last_frame": ("last_frame", "image/png", "png"),
    "spritesheet": ("spritesheet", "image/jpeg", "jpg"),
    "sidecar": ("sidecar", "application/json", "json"),
    "audio": ("audio", "audio/wav", "wav"),  # the soundtrack alone, 16-bit PCM (models that make audio)
}
# A post stage can deliver webm or mov; the file's extension says which (the container decides it).
_VIDEO_TYPES = {".mp4": ("video/mp4", "mp4"), ".webm": ("video/webm", "webm"), ".mov": ("video/quicktime", "mov")}
_STATUSES = {"queued", "in_progress", "completed", "failed", "cancelled"}


def _video_response(service: JobService, job_id: str, status_code: int = 200) -> JSONResponse:
    job = service.get(job_id)
    headers = {} if job.state.terminal else {"openai-poll-after-ms": POLL_AFTER_MS}
    return JSONResponse(render_video(job), status_code=status_code, headers=headers)


@router.get("/v1/videos/{video_id}", summary="Retrieve a video job")
async def retrieve(video_id: str, service: Service, key: ApiKey) -> JSONResponse:
    return _video_response(service, video_id)


@router.get("/v1/videos", summary="List video jobs (cursor pagination; status and metadata filters)")
async def list_videos(
    request: Request,
    service: Service,
    key: ApiKey,
    after: str | None = Query(default=None, max_length=100),
    limit: int = Query(default=20, ge=1, le=100),
    order: Literal["asc", "desc"] = "desc",
    status: str | None = Query(default=None, description="comma-separated: queued,in_progress,completed,failed,"
                               "cancelled; `failed` includes cancelled as OpenAI clients see it"),
    group_id: str | None = Query(default=None, max_length=100, description="the takes of one request"),
    selected: bool | None = Query(default=None, description="only takes marked (or not) as selected"),
    parent_id: str | None = Query(default=None, max_length=100, description="extensions/remixes of a video"),
) -> JSONResponse:
    states: list[str] | None = None
    if status:
        states = [s.strip() for s in status.split(",") if s.strip()]
        bad = [s for s in states if s not in _STATUSES]
        if bad:
            raise InvalidRequest(f"status={bad[0]!r}: accepted values: {', '.join(sorted(_STATUSES))}", "status")
        if "failed" in states:
            states.append("cancelled")
    metadata = {k[9:-1]: v for k, v in request.query_params.items() if k.startswith("metadata[") and k.endswith("]")}
    jobs, more = service.list(after=after, limit=limit, order=order, states=states, metadata=metadata,
                              group_id=group_id, selected=selected, parent_id=parent_id,
                              key_id=None if is_admin(request) else key)
    data = [render_video(j) for j in jobs]
    return JSONResponse({
        "object": "list", "data": data, "has_more": more,
        "first_id": data[0]["id"] if data else None, "last_id": data[-1]["id"] if data else None,
    })


@router.get("/v1/videos/{video_id}/content", summary="Download the video (Range requests work) or a companion",
            response_model=None)
async def content(
    video_id: str,
    service: Service,
    key: ApiKey,
    variant: str = Query(default="video",
                         description="video | thumbnail | last_frame | spritesheet | sidecar | audio"),
) -> FileResponse:
    if variant not in _VARIANTS:
        raise InvalidRequest(f"variant={variant!r}: accepted values: {', '.join(_VARIANTS)}", "variant")
    job = service.get(video_id)
    if job.state is not JobState.COMPLETED:
        raise JobNotReady(f"video {video_id} is {job.state.value}; content exists once it is completed", "id")
    name, media, ext = _VARIANTS[variant]
    path = service.file_of(job, name)
    if path is None:
        if variant == "audio":
            raise NoSoundtrack(f"video {video_id} has no soundtrack (its model made none and no `audio` was "
                               "uploaded)", "variant")
        raise JobNotReady(f"video {video_id} has no {variant} file", "variant")
    if variant == "video":
        media, ext = _VIDEO_TYPES.get(path.suffix.lower(), (media, ext))
    return FileResponse(path, media_type=media, filename=download_name(job, ext), content_disposition_type="inline")


@router.get("/v1/videos/{video_id}/events", summary="Server-Sent Events: queued, started, stage, progress, end")
async def events(video_id: str, request: Request, service: Service, key: ApiKey) -> StreamingResponse:
    service.get(video_id)  # 404 before the stream starts
    queue = service.events.subscribe(video_id)

    async def stream() -> AsyncIterator[str]:
        n = 0

        def frame(name: str, data: dict[str, Any]) -> str:
            nonlocal n
            n += 1
            return f"id: {n}\nevent: {name}\ndata: {json.dumps(data)}\n\n"

        try:
            job = service.get(video_id)
            if job.state.terminal:
                yield frame(job.state.value, render_video(job))
                return
            if job.state is JobState.QUEUED:
                yield frame("queued", {"id": job.id, "state": "queued", "queue_position": job.queue_position})
            else:
                yield frame("progress", {"id": job.id, "state": "in_progress", "stage": job.stage,
                                         "progress": job.progress, "eta_seconds": job.eta_seconds})
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), timeout=KEEPALIVE_S)
                except TimeoutError:
                    if await request.is_disconnected():
                        return
                    yield ": keepalive\n\n"
                    continue
                yield frame(event.name, event.data)
                if event.name in TERMINAL_EVENTS:
                    return
        finally:
            service.events.unsubscribe(video_id, queue)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@router.post("/v1/videos/{video_id}/cancel", summary="Cancel a job (queued: dropped; running: stops at next step)")
async def cancel(video_id: str, service: Service, key: ApiKey) -> JSONResponse:
    await service.cancel(video_id)
    return _video_response(service, video_id)


@router.delete("/v1/videos/{video_id}", summary="Delete a job and its files (cancels it first)")
async def delete(video_id: str, service: Service, key: ApiKey) -> JSONResponse:
    await service.delete(video_id)
    return JSONResponse({"id": video_id, "object": "video.deleted", "deleted": True})
