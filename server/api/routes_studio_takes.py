"""Studio takes, reviews, dailies and the handoff.

Takes are ordinary video jobs (the same submission path, limits and idempotency as the create
routes) with the project's shape, the shot's prompt + the project's visual bible, and the shot's
keyframe; the metadata labels ``studio_shot``/``studio_project`` tie them to the shot.
"""

from __future__ import annotations

import time
from pathlib import Path

from fastapi import Header, Query, Request
from fastapi.responses import FileResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from pipelines.core.catalog import Mode
from pipelines.core.spec import GenerationSpec
from server.api.auth import ApiKey, is_admin
from server.api.body import parse, read_body
from server.api.deps import AppSettings, Service
from server.api.errors import InvalidRequest
from server.api.post_fields import parse_post
from server.api.render.studio import render_handoff, render_review, render_shot, render_take
from server.api.requests import ReviewRequest, TakesRequest
from server.api.routes_create import _check_prompt, _submit
from server.api.routes_studio import Studio, router
from server.api.submit import Draft, apply_shape, map_seconds, pick_model, request_hash
from server.api.uploads import ImageUpload, check_image
from server.settings import Settings
from server.studio.errors import StudioConflict, StudioNotFound
from server.studio.models import PROJECT_LABEL, SHOT_LABEL, HandoffState, Project, Shot, Verdict
from server.studio.service import Cost, TakeView

DAILIES_DEFAULT_S = 24 * 3600


def _stored_image(name: str, path: str | None, settings: Settings) -> ImageUpload | None:
    if not path:
        return None
    return check_image(name, Path(path).read_bytes(), settings.max_upload_bytes, settings.max_upload_pixels)


def _prompt(shot: Shot, project: Project) -> str:
    base = shot.prompt or shot.description
    return f"{base}\n\n{project.visual_bible}".strip() if project.visual_bible else base


@router.post("/v1/shots/{shot_id}/takes", status_code=202,
             summary="Generate n takes of a shot (project shape, shot keyframe, prompt + visual bible)")
async def create_takes(shot_id: str, request: Request, studio: Studio, service: Service, settings: AppSettings,
                       key: ApiKey, idempotency_key: str | None = Header(default=None, max_length=255)) -> JSONResponse:
    shot, project = studio.shot(shot_id, key, is_admin(request))
    body = await read_body(request, 1024 * 1024)
    req = parse(TakesRequest, body.fields)
    prompt = _prompt(shot, project)
    if not prompt:
        raise InvalidRequest(f"shot {shot.id} has no prompt or description to generate from; PATCH one first",
                             "prompt")
    _check_prompt(prompt, settings)
    entry = pick_model(req.model or shot.model or project.model, request.app.state.default_model, service,
                       request.app.state.locator)
    images: dict[str, ImageUpload] = {}
    first = await run_in_threadpool(_stored_image, "image", shot.keyframe, settings)
    last = await run_in_threadpool(_stored_image, "last_image", shot.last_image, settings)
    mode = Mode.TEXT_TO_VIDEO
    if first is not None:
        images["image"] = first
        mode = Mode.IMAGE_TO_VIDEO
        if last is not None:
            images["last_image"] = last
            mode = Mode.FIRST_LAST_FRAME
    if mode not in entry.modes:
        served = [e.id for e in service.catalog.entries() if mode in e.modes and
                  request.app.state.locator.find(e.id) is not None]
        raise InvalidRequest(f"model={entry.id!r}: does not serve {mode.value}, which this shot needs (it has "
                             f"{'a keyframe' if first else 'no keyframe'}); models here that do: "
                             f"{', '.join(served) or 'none'}", "model")
    spec = req.generation_fields()
    spec |= {"model": entry.id, "prompt": prompt}
    shape = apply_shape(entry, spec, None, project.aspect_ratio, project.resolution)
    seconds = req.seconds if req.seconds is not None else (shot.duration if req.num_frames is None else None)
    if req.seconds is not None and req.num_frames is not None:
        raise InvalidRequest("give num_frames or seconds, not both", "seconds")
    if seconds is not None:
        spec["num_frames"] = map_seconds(entry, seconds, None)
    metadata = {PROJECT_LABEL: project.id, SHOT_LABEL: shot.id, "project": project.name[:64],
                "shot": str(shot.position)}
    if shot.scene:
        metadata["scene"] = shot.scene[:64]
    if req.seeds is not None and (req.seed is not None or "n" in req.model_fields_set):
        raise InvalidRequest(f"seeds={req.seeds!r}: give seeds, or n and seed, not both", "seeds")
    n = len(req.seeds) if req.seeds else req.n
    digest = request_hash(f"shot-takes:{shot.id}", req.model_dump(), images)
    draft = Draft(mode, GenerationSpec(**spec), images, n, f"{seconds:g}" if seconds is not None else None, metadata,
                  req.priority, None, post=parse_post(req.post),
                  workflow={"shape": shape.as_json()} if shape else {}, seeds=req.seeds)
    response = await _submit(service, draft, key, digest, idempotency_key)
    studio.takes_started(shot)
    return response


@router.get("/v1/shots/{shot_id}/takes", summary="A shot's takes with verdicts, notes and cost")
async def list_takes(shot_id: str, request: Request, studio: Studio, key: ApiKey) -> JSONResponse:
    shot, _ = studio.shot(shot_id, key, is_admin(request))
    takes = studio.takes(shot)
    studio.refresh_status(shot, takes)
    return JSONResponse({"object": "list", "shot_id": shot.id, "data": [render_take(t) for t in takes]})


@router.post("/v1/videos/{video_id}/review", summary="Review a take: verdict select|maybe|reject|null and a note")
async def review(video_id: str, request: Request, studio: Studio, service: Service, key: ApiKey) -> JSONResponse:
    job = service.get(video_id)  # the route's ownership check already ran on the path id
    body = await read_body(request, 1024 * 1024)
    req = parse(ReviewRequest, body.fields)
    verdict_set = "verdict" in req.model_fields_set
    if not verdict_set and not req.note:
        raise InvalidRequest("review: give a verdict (select, maybe, reject or null) and/or a note", "verdict")
    verdict = Verdict(req.verdict) if req.verdict else None
    # On the loop, like POST /select: the job layer's in-memory views are not for other threads.
    saved = studio.review(job, key, verdict, verdict_set, req.note)
    job = service.get(video_id)
    reviews = studio.store.reviews([job.id])[job.id]
    current = TakeView(job, 0, reviews, Cost(0, 0.0, None)).verdict
    return JSONResponse({"object": "review", "video_id": job.id, "review": render_review(saved),
                         "verdict": current.value if current else None, "selected": job.selected,
                         "notes": [render_review(r) for r in reviews if r.note]})


@router.get("/v1/projects/{project_id}/dailies", summary="New takes grouped by shot, with their verdicts")
async def dailies(project_id: str, request: Request, studio: Studio, key: ApiKey,
                  since: float | None = Query(default=None, ge=0,
                                              description="unix seconds; default: the last 24 hours")) -> JSONResponse:
    project = studio.project(project_id, key, is_admin(request))
    start = since if since is not None else time.time() - DAILIES_DEFAULT_S
    groups = studio.dailies(project, start)
    return JSONResponse({"object": "dailies", "project_id": project.id, "since": start, "shots": [
        {"shot": render_shot(shot, studio.shot_cost(shot)), "takes": [render_take(t) for t in takes]}
        for shot, takes in groups]})


@router.post("/v1/projects/{project_id}/handoff", status_code=202,
             summary="Build the handoff zip of the selected takes (409 when none is selected)")
async def start_handoff(project_id: str, request: Request, studio: Studio, key: ApiKey) -> JSONResponse:
    project = studio.project(project_id, key, is_admin(request))
    handoff = studio.start_handoff(project, key)
    return JSONResponse(render_handoff(handoff), status_code=202,
                        headers={"Location": f"/v1/projects/{project.id}/handoff/status"})


@router.get("/v1/projects/{project_id}/handoff/status", summary="The latest handoff of a project")
async def handoff_status(project_id: str, request: Request, studio: Studio, key: ApiKey) -> JSONResponse:
    project = studio.project(project_id, key, is_admin(request))
    handoff = studio.store.latest_handoff(project.id)
    if handoff is None:
        raise StudioNotFound("handoff", project.id)
    return JSONResponse(render_handoff(handoff))


@router.get("/v1/projects/{project_id}/handoff", summary="Download the latest handoff zip", response_model=None)
async def download_handoff(project_id: str, request: Request, studio: Studio, key: ApiKey) -> FileResponse:
    project = studio.project(project_id, key, is_admin(request))
    handoff = studio.store.latest_handoff(project.id)
    if handoff is None:
        raise StudioNotFound("handoff", project.id)
    if handoff.state is not HandoffState.COMPLETED or not handoff.path or not Path(handoff.path).is_file():
        raise StudioConflict(f"handoff {handoff.id} is {handoff.state.value}"
                             + (f" ({handoff.error})" if handoff.error else "")
                             + "; GET …/handoff/status until it is completed", "project_id", "handoff_not_ready")
    name = "".join(c if c.isalnum() or c in "-_" else "_" for c in project.name)[:60] or project.id
    return FileResponse(handoff.path, media_type="application/zip", filename=f"{name}_handoff.zip")
