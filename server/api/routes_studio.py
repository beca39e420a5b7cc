"""Studio projects and shots: create, list, read, change, delete; shot keyframes.

Owned by the API key that created them, like jobs (admins see all); another key's record is a 404.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from pipelines.core.shapes import pick_shape
from server.api.auth import ApiKey, is_admin
from server.api.body import RequestBody, parse, read_body, read_image
from server.api.deps import AppSettings, Service
from server.api.errors import InvalidRequest
from server.api.render.studio import render_project, render_shot
from server.api.requests import ProjectCreate, ProjectFields, ShotFields
from server.api.uploads import ImageUpload
from server.settings import Settings
from server.studio.models import Project, Shot, ShotStatus
from server.studio.service import Cost, StudioService

router = APIRouter(tags=["studio"])

MAX_PROJECTS_PER_KEY = 500
MAX_SHOTS_PER_PROJECT = 500
REFERENCE_FIELDS = ("reference_1", "reference_2")
_IMAGE_FIELDS = ("keyframe", "last_image", *REFERENCE_FIELDS)


async def get_studio(request: Request) -> StudioService:
    studio: StudioService = request.app.state.studio
    return studio


Studio = Annotated[StudioService, Depends(get_studio)]


def _check_shape(request: Request, service: Service, model: str | None, aspect_ratio: str | None,
                 resolution: str | None) -> None:
    """A project's model and shape must fit together now, not at its first take."""
    if model is not None and service.catalog.get(model) is None:
        raise InvalidRequest(f"model={model!r}: unknown model; known models: {', '.join(service.catalog.ids())}",
                             "model")
    entry = service.catalog.get(model or request.app.state.default_model or "")
    if entry is not None and (aspect_ratio or resolution):
        pick_shape(entry, aspect_ratio, resolution)


def project_json(studio: StudioService, project: Project) -> dict[str, Any]:
    shots = studio.store.shots(project.id)
    cost = Cost(0, 0.0, None)
    for shot in shots:
        cost = cost.plus(studio.shot_cost(shot))
    return render_project(project, len(shots), cost)


def shot_json(studio: StudioService, shot: Shot) -> dict[str, Any]:
    shot = studio.refresh_status(shot, studio.takes(shot))
    return render_shot(shot, studio.shot_cost(shot))


# --- projects ---


@router.post("/v1/projects", status_code=201, summary="Create a project (shape, default model, visual bible)")
async def create_project(request: Request, studio: Studio, service: Service, key: ApiKey) -> JSONResponse:
    body = await read_body(request, 1024 * 1024)
    req = parse(ProjectCreate, body.fields)
    _check_shape(request, service, req.model, req.aspect_ratio, req.resolution)
    if studio.store.count_projects(key) >= MAX_PROJECTS_PER_KEY:
        raise InvalidRequest(f"this key has {MAX_PROJECTS_PER_KEY} projects, the limit; delete one first", "name",
                             "too_many_projects")
    now = time.time()
    project = Project(f"proj_{uuid.uuid4().hex[:16]}", key, req.name, req.aspect_ratio, req.resolution, req.model,
                      req.visual_bible or "", req.notes or "", now, now)
    await run_in_threadpool(studio.store.add_project, project)
    return JSONResponse(project_json(studio, project), status_code=201,
                        headers={"Location": f"/v1/projects/{project.id}"})


@router.get("/v1/projects", summary="List projects (newest first)")
async def list_projects(request: Request, studio: Studio, key: ApiKey) -> JSONResponse:
    projects = studio.store.projects(None if is_admin(request) else key)
    return JSONResponse({"object": "list", "data": [project_json(studio, p) for p in projects]})


@router.get("/v1/projects/{project_id}", summary="Retrieve a project with its cost totals")
async def get_project(project_id: str, request: Request, studio: Studio, key: ApiKey) -> JSONResponse:
    return JSONResponse(project_json(studio, studio.project(project_id, key, is_admin(request))))


@router.patch("/v1/projects/{project_id}", summary="Change a project's fields")
async def patch_project(project_id: str, request: Request, studio: Studio, service: Service,
                        key: ApiKey) -> JSONResponse:
    project = studio.project(project_id, key, is_admin(request))
    body = await read_body(request, 1024 * 1024)
    req = parse(ProjectFields, body.fields)
    changes = req.model_dump(exclude_unset=True)
    if "name" in changes and changes["name"] is None:
        raise InvalidRequest("name: a project needs a name (null given)", "name")
    merged = {"model": project.model, "aspect_ratio": project.aspect_ratio, "resolution": project.resolution,
              **{k: v for k, v in changes.items() if k in ("model", "aspect_ratio", "resolution")}}
    _check_shape(request, service, merged["model"], merged["aspect_ratio"], merged["resolution"])
    for text in ("visual_bible", "notes"):
        if text in changes and changes[text] is None:
            changes[text] = ""
    if changes:
        await run_in_threadpool(lambda: studio.store.update_project(project.id, time.time(), **changes))
    return JSONResponse(project_json(studio, studio.project(project_id, key, True)))


@router.delete("/v1/projects/{project_id}", summary="Delete a project, its shots, reviews and handoffs "
               "(the take videos stay until their retention ends)")
async def delete_project(project_id: str, request: Request, studio: Studio, key: ApiKey) -> JSONResponse:
    project = studio.project(project_id, key, is_admin(request))
    await run_in_threadpool(studio.delete_project, project)
    return JSONResponse({"id": project_id, "object": "project.deleted", "deleted": True})


# --- shots ---


async def _shot_body(request: Request, settings: Settings) -> tuple[ShotFields, dict[str, ImageUpload]]:
    body: RequestBody = await read_body(request, settings.max_upload_bytes)
    images: dict[str, ImageUpload] = {}
    for name in _IMAGE_FIELDS:
        img = await read_image(body, name, settings.max_upload_bytes, settings.max_upload_pixels)
        if img is not None:
            images[name] = img
    if body.files:
        raise InvalidRequest(f"unexpected file field(s): {', '.join(sorted(body.files))}; accepted: "
                             f"{', '.join(_IMAGE_FIELDS)}", next(iter(sorted(body.files))))
    return parse(ShotFields, body.fields), images


def _save_images(studio: StudioService, shot_id: str, images: dict[str, ImageUpload]) -> dict[str, str]:
    folder = studio.shot_dir(shot_id)
    out = {}
    for name, img in images.items():
        for old in folder.glob(f"{name}.*"):
            old.unlink(missing_ok=True)
        out[name] = str(img.save(folder))
    return out


def _check_shot_model(service: Service, model: str | None) -> None:
    if model is not None and service.catalog.get(model) is None:
        raise InvalidRequest(f"model={model!r}: unknown model; known models: {', '.join(service.catalog.ids())}",
                             "model")


@router.post("/v1/projects/{project_id}/shots", status_code=201,
             summary="Add a shot (JSON, or multipart with `keyframe` / `last_image` files)")
async def create_shot(project_id: str, request: Request, studio: Studio, service: Service, settings: AppSettings,
                      key: ApiKey) -> JSONResponse:
    project = studio.project(project_id, key, is_admin(request))
    req, images = await _shot_body(request, settings)
    _check_shot_model(service, req.model)
    if len(studio.store.shots(project.id)) >= MAX_SHOTS_PER_PROJECT:
        raise InvalidRequest(f"project {project.id} has {MAX_SHOTS_PER_PROJECT} shots, the limit", "order",
                             "too_many_shots")
    now = time.time()
    shot_id = f"shot_{uuid.uuid4().hex[:16]}"
    paths = await run_in_threadpool(_save_images, studio, shot_id, images)
    shot = Shot(shot_id, project.id, req.order or 0, req.name or "", req.scene or "", req.description or "",
                req.camera_move or "", req.duration, req.acceptance_note or "", req.prompt or "", req.model,
                req.status or ShotStatus.PLANNED, bool(req.multiple_selects), paths.get("keyframe"),
                paths.get("last_image"), now, now, {k: v for k, v in paths.items() if k in REFERENCE_FIELDS})
    try:
        await run_in_threadpool(studio.store.add_shot, shot)
    except BaseException:
        studio.delete_shot(shot)
        raise
    return JSONResponse(shot_json(studio, shot), status_code=201, headers={"Location": f"/v1/shots/{shot.id}"})


@router.get("/v1/projects/{project_id}/shots", summary="The shot list, in order")
async def list_shots(project_id: str, request: Request, studio: Studio, key: ApiKey) -> JSONResponse:
    project = studio.project(project_id, key, is_admin(request))
    return JSONResponse({"object": "list", "data": [shot_json(studio, s) for s in studio.store.shots(project.id)]})


@router.get("/v1/shots/{shot_id}", summary="Retrieve a shot with its take count and cost")
async def get_shot(shot_id: str, request: Request, studio: Studio, key: ApiKey) -> JSONResponse:
    shot, _ = studio.shot(shot_id, key, is_admin(request))
    return JSONResponse(shot_json(studio, shot))


@router.patch("/v1/shots/{shot_id}", summary="Change a shot (JSON, or multipart with a new keyframe)")
async def patch_shot(shot_id: str, request: Request, studio: Studio, service: Service, settings: AppSettings,
                     key: ApiKey) -> JSONResponse:
    shot, _ = studio.shot(shot_id, key, is_admin(request))
    req, images = await _shot_body(request, settings)
    _check_shot_model(service, req.model)
    changes = req.model_dump(exclude_unset=True, exclude=set(_IMAGE_FIELDS))
    if "order" in changes:
        order = changes.pop("order")
        if order is None:
            raise InvalidRequest("order: null is not a place in the shot list", "order")
        changes["position"] = order
    for text in ("name", "scene", "description", "camera_move", "acceptance_note", "prompt"):
        if text in changes and changes[text] is None:
            changes[text] = ""
    if "status" in changes and changes["status"] is None:
        raise InvalidRequest("status: null is not a status; accepted: planned, generating, in_review, approved",
                             "status")
    if "multiple_selects" in changes:
        changes["multiple_selects"] = bool(changes["multiple_selects"])
    saved = await run_in_threadpool(_save_images, studio, shot.id, images)
    refs = {k: v for k, v in saved.items() if k in REFERENCE_FIELDS}
    changes |= {k: v for k, v in saved.items() if k not in REFERENCE_FIELDS}
    if refs:
        changes["references"] = shot.references | refs
    if changes:
        await run_in_threadpool(lambda: studio.store.update_shot(shot.id, time.time(), **changes))
    shot, _ = studio.shot(shot_id, key, True)
    return JSONResponse(shot_json(studio, shot))


@router.delete("/v1/shots/{shot_id}", summary="Delete a shot and its reviews (take videos stay until retention)")
async def delete_shot(shot_id: str, request: Request, studio: Studio, key: ApiKey) -> JSONResponse:
    shot, _ = studio.shot(shot_id, key, is_admin(request))
    await run_in_threadpool(studio.delete_shot, shot)
    return JSONResponse({"id": shot_id, "object": "shot.deleted", "deleted": True})


_IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".webp": "image/webp", ".gif": "image/gif",
                ".bmp": "image/bmp", ".tiff": "image/tiff"}


@router.get("/v1/shots/{shot_id}/keyframe", summary="The shot's keyframe (or last image, or a reference) as uploaded",
            response_model=None)
async def keyframe(shot_id: str, request: Request, studio: Studio, key: ApiKey,
                   which: str = Query(default="keyframe",
                                      description="keyframe | last_image | reference_1 | reference_2")) -> FileResponse:
    if which not in _IMAGE_FIELDS:
        raise InvalidRequest(f"which={which!r}: accepted values: {', '.join(_IMAGE_FIELDS)}", "which")
    shot, _ = studio.shot(shot_id, key, is_admin(request))
    stored = {"keyframe": shot.keyframe, "last_image": shot.last_image}.get(which) or shot.references.get(which)
    if not stored or not Path(stored).is_file():
        from server.studio.errors import StudioNotFound

        raise StudioNotFound(which, shot_id)
    path = Path(stored)
    return FileResponse(path, media_type=_IMAGE_TYPES.get(path.suffix, "application/octet-stream"))
