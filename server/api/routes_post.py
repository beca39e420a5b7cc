"""``POST /v1/videos/{id}/post``: the post stage again on a finished video, with other settings.

A new job (its own id, ``source_video_id`` recorded) through the same queue and engine, with no
denoising: the worker decodes the source's generated frames (``files["generated"]`` when the source
had a post stage, else its plain MP4) and runs only the post stage. The frames and the source's
sidecar are copied (hard-linked where the filesystem allows) into the new job's folder at submit
time, so deleting or expiring the source afterwards does not break the queued job.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import time
import uuid
from pathlib import Path

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse

from server.api.auth import ApiKey
from server.api.body import parse, read_body
from server.api.deps import AppSettings, Service
from server.api.errors import InvalidRequest
from server.api.post_fields import parse_post
from server.api.render import render_video
from server.api.requests import RepostRequest
from server.api.submit import request_hash
from server.jobs.errors import JobNotReady
from server.jobs.models import REPOST_SOURCE, Job, JobState

log = logging.getLogger(__name__)
router = APIRouter(tags=["post"])

POLL_AFTER_MS = "1000"


def _link_or_copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)  # instant and no extra bytes; both jobs may then be deleted independently
    except OSError:
        shutil.copy2(src, dst)


@router.post("/v1/videos/{video_id}/post", status_code=202,
             summary="Run the post stage again on a finished video (a new job; no denoising)")
async def repost(video_id: str, request: Request, service: Service, settings: AppSettings, key: ApiKey,
                 idempotency_key: str | None = Header(default=None, max_length=255)) -> JSONResponse:
    body = await read_body(request, settings.max_upload_bytes)
    if body.files:
        raise InvalidRequest(f"unexpected file field(s): {', '.join(sorted(body.files))}", next(iter(body.files)))
    req = parse(RepostRequest, body.fields)
    post = parse_post(req.post)
    if post is None:
        raise InvalidRequest("post: required (interpolate, upscale and/or export)", "post")
    source = service.get(video_id)
    if source.state is not JobState.COMPLETED:
        raise JobNotReady(f"video {video_id} is {source.state.value}; it can be post-processed once completed",
                          "id")
    frames = service.file_of(source, "generated") or service.file_of(source, "video")
    if frames is None:
        raise JobNotReady(f"video {video_id} has no frames on disk any more", "id")
    digest = request_hash(f"post:{video_id}", req.model_dump(), {})
    idem = (f"{key}:{idempotency_key}", digest) if idempotency_key else None
    if idem is not None:
        replay = service.store.idempotent(*idem)
        if replay:
            return _created(service.view(replay[0]), replayed=True)
    service.check_room(key, 1)

    job_id = f"video_{uuid.uuid4().hex}"
    folder = service.new_dir(job_id)
    try:
        target = folder / REPOST_SOURCE
        await asyncio.to_thread(_link_or_copy, frames, target)
        sidecar = service.file_of(source, "sidecar")
        if sidecar is not None:
            # provenance of the frames (model, prompt, seed) for the new job's own sidecar
            await asyncio.to_thread(_link_or_copy, sidecar, target.with_suffix(".json"))
        job = Job(
            id=job_id, seq=0, state=JobState.QUEUED, model=source.model, spec=source.spec, created_at=time.time(),
            priority=req.priority, seconds=source.seconds, metadata=req.metadata or source.metadata, key_id=key,
            group_id=None, webhook_url=req.webhook_url, post=post, source_video_id=video_id,
        )
        stored, created = await service.submit([job], idem)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    if not created:  # an idempotent replay won the race: this folder belongs to no job
        shutil.rmtree(folder, ignore_errors=True)
    else:
        log.info("job %s: re-post of %s queued", job_id, video_id)
    return _created(stored[0], replayed=not created)


def _created(job: Job, replayed: bool) -> JSONResponse:
    headers = {"openai-poll-after-ms": POLL_AFTER_MS, "Location": f"/v1/videos/{job.id}"}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(render_video(job), status_code=202, headers=headers)

