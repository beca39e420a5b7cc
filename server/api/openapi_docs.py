"""The OpenAPI document, completed: request bodies of the routes that parse their own body (JSON and
multipart), the error responses every route can give, the media types of file and SSE routes, and
the Bearer scheme. Clients' generators, ``/docs`` and the schemathesis fuzz run all read this, so a
route that answers something undocumented shows up as a test failure instead of a surprise.
"""

from __future__ import annotations

import copy
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from server.api.requests import (
    ExtendRequest,
    NativeRequest,
    OpenAIVideoRequest,
    ProjectCreate,
    ProjectFields,
    RemixRequest,
    RepostRequest,
    ReviewRequest,
    ShotFields,
    TakesRequest,
)

REF = "#/components/schemas/{model}"
# (method, path) -> (body model, file fields sent as multipart parts)
BODIES: dict[tuple[str, str], tuple[type[BaseModel], tuple[str, ...]]] = {
    ("post", "/v1/text-to-video"): (NativeRequest, ()),
    ("post", "/v1/image-to-video"): (NativeRequest, ("image",)),
    ("post", "/v1/first-last-frame-to-video"): (NativeRequest, ("image", "last_image")),
    ("post", "/v1/videos"): (OpenAIVideoRequest, ("input_reference",)),
    ("post", "/v1/videos/{video_id}/post"): (RepostRequest, ()),
    ("post", "/v1/videos/{video_id}/extend"): (ExtendRequest, ()),
    ("post", "/v1/videos/{video_id}/remix"): (RemixRequest, ()),
    ("post", "/v1/projects"): (ProjectCreate, ()),
    ("patch", "/v1/projects/{project_id}"): (ProjectFields, ()),
    ("post", "/v1/projects/{project_id}/shots"): (ShotFields, ("keyframe", "last_image", "reference_1", "reference_2")),
    ("patch", "/v1/shots/{shot_id}"): (ShotFields, ("keyframe", "last_image", "reference_1", "reference_2")),
    ("post", "/v1/shots/{shot_id}/takes"): (TakesRequest, ()),
    ("post", "/v1/videos/{video_id}/review"): (ReviewRequest, ()),
}
MEDIA: dict[tuple[str, str], list[str]] = {
    ("get", "/v1/videos/{video_id}/content"): ["video/mp4", "video/webm", "video/quicktime", "image/webp",
                                                "image/png", "image/jpeg", "application/json"],
    ("get", "/v1/videos/{video_id}/events"): ["text/event-stream"],
    ("get", "/metrics"): ["text/plain"],
    ("get", "/v1/projects/{project_id}/handoff"): ["application/zip"],
    ("get", "/v1/shots/{shot_id}/keyframe"): ["image/png", "image/jpeg", "image/webp", "image/gif", "image/bmp",
                                              "image/tiff"],
}
PUBLIC = {"/healthz", "/readyz"}
ERRORS = {
    "400": "Invalid request (the message names the field and the value)",
    "401": "Missing or invalid API key",
    "404": "No such video, project or shot (or it belongs to another key)",
    "408": "Request body not received in time",
    "409": "Idempotency conflict, or the video (or handoff) is not ready for this",
    "413": "Body, image or upload over the limits",
    "415": "Content-Type not accepted",
    "422": "A field failed validation",
    "429": "Queue full or rate limited (see Retry-After)",
    "503": "No worker ready",
    "507": "Storage full",
}
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["error"],
    "properties": {"error": {
        "type": "object", "required": ["message", "type", "param", "code"],
        "properties": {"message": {"type": "string"}, "type": {"type": "string"},
                       "param": {"type": ["string", "null"]}, "code": {"type": ["string", "null"]}},
    }},
}
VIDEO_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["id", "object", "status", "state", "progress"],
    "properties": {
        "id": {"type": "string"}, "object": {"const": "video"},
        "status": {"enum": ["queued", "in_progress", "completed", "failed"]},
        "state": {"enum": ["queued", "in_progress", "completed", "failed", "cancelled"]},
        "progress": {"type": "integer", "minimum": 0, "maximum": 100},
    },
}


def _hoist(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template=REF)
    components.update(schema.pop("$defs", {}))
    components[model.__name__] = schema
    return {"$ref": REF.format(model=model.__name__)}


def _multipart(model: type[BaseModel], files: tuple[str, ...], components: dict[str, Any]) -> dict[str, Any]:
    """The same fields as form parts; images as files; objects as JSON strings (as the SDKs send)."""
    base = copy.deepcopy(components[model.__name__])
    props: dict[str, Any] = {}
    for name, prop in base.get("properties", {}).items():
        if name in files:
            props[name] = {"type": "string", "format": "binary"}
        elif name in ("metadata", "post", "loras", "input_reference", "image", "last_image"):
            props[name] = {"type": "string", "description": "JSON text"}
        else:
            props[name] = prop
    return {"type": "object", "properties": props, "required": base.get("required", []),
            "additionalProperties": False}


def build(app: FastAPI) -> dict[str, Any]:
    schema = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Error"] = ERROR_SCHEMA
    components["Video"] = VIDEO_SCHEMA
    schema["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    error_ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, ops in schema.get("paths", {}).items():
        for method, op in ops.items():
            key = (method, path)
            if key in BODIES:
                model, files = BODIES[key]
                ref = _hoist(model, components)
                op["requestBody"] = {"required": True, "content": {
                    "application/json": {"schema": ref},
                    "multipart/form-data": {"schema": _multipart(model, files, components)},
                }}
            if key == ("get", "/v1/videos"):
                op.setdefault("parameters", []).append({
                    "name": "metadata", "in": "query", "style": "deepObject", "explode": True, "required": False,
                    "description": "filters: metadata[key]=value (all must match)",
                    # Values are any text (a query string has no types): only a non-object is invalid.
                    "schema": {"type": "object", "additionalProperties": {}}})
            responses = op.setdefault("responses", {})
            ok = next((c for c in responses if c.startswith("2")), None)
            if ok and key in MEDIA:
                responses[ok]["content"] = {m: {"schema": {}} for m in MEDIA[key]}
            elif ok and method != "delete" and path in ("/v1/videos/{video_id}", "/v1/videos/{video_id}/cancel"):
                responses[ok]["content"] = {"application/json": {"schema": {"$ref": "#/components/schemas/Video"}}}
            if path not in PUBLIC:
                op["security"] = [{"bearer": []}]
            for code, text in ERRORS.items():
                responses.setdefault(code, {"description": text, "content": error_ref})
    return schema


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
