"""Reading a creation request body: JSON or multipart/form-data, with limits applied before parsing."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.datastructures import UploadFile

from server.api import strict_json
from server.api.errors import InvalidRequest, PayloadTooLarge, UnsupportedMediaType
from server.api.uploads import ImageUpload, check_image, decode_text

_MAX_FIELDS = 64
M = TypeVar("M", bound=BaseModel)
_MAX_TEXT_FIELD = 256 * 1024


@dataclass
class RequestBody:
    fields: dict[str, Any]
    files: dict[str, UploadFile] = field(default_factory=dict)


async def read_body(request: Request, max_upload_bytes: int) -> RequestBody:
    # A body can carry two images (base64 inflates by 4/3) plus small fields.
    limit = 2 * (max_upload_bytes * 4 // 3 + 4096) + 1024 * 1024
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit:
        raise PayloadTooLarge(f"request body is {length} bytes, over the {limit} byte limit")
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "application/json":
        data = strict_json.loads(await _read_limited(request, limit))
        if not isinstance(data, dict):
            raise InvalidRequest("body must be a JSON object")
        return RequestBody(data)
    if ctype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        # video + mask + reference images, or two images + audio.
        form = await request.form(max_files=8, max_fields=_MAX_FIELDS,
                                  max_part_size=max(_MAX_TEXT_FIELD, max_upload_bytes * 4 // 3 + 4096))
        fields: dict[str, Any] = {}
        files: dict[str, UploadFile] = {}
        metadata: dict[str, str] = {}
        seen: set[str] = set()
        for key, value in form.multi_items():
            if key in seen:
                # Which of two values did the client mean? Refuse rather than guess.
                raise InvalidRequest(f"{key}: the field appears more than once in the form", key, "duplicate_field")
            seen.add(key)
            if isinstance(value, UploadFile):
                files[key] = value
            elif key.startswith("metadata[") and key.endswith("]"):
                metadata[key[9:-1]] = value  # the OpenAI SDK's encoding of nested objects
            else:
                fields[key] = value
        if metadata:
            fields["metadata"] = metadata
        elif isinstance(fields.get("metadata"), str):
            try:
                fields["metadata"] = json.loads(fields["metadata"])
            except ValueError as exc:
                raise InvalidRequest(f"metadata: not a JSON object ({exc})", "metadata") from exc
        # Empty form values mean "not given" (HTML forms and curl -F send them).
        fields = {k: v for k, v in fields.items() if v != ""}
        return RequestBody(fields, files)
    raise UnsupportedMediaType(
        f"Content-Type {ctype or '(none)'!r} is not accepted; send application/json or multipart/form-data"
    )


async def _read_limited(request: Request, limit: int) -> bytes:
    """The body, refused with 413 once past ``limit`` even without a Content-Length (chunked)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"request body is over the {limit} byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_image(body: RequestBody, name: str, max_bytes: int, max_pixels: int) -> ImageUpload | None:
    """The image in field ``name``: a file part, or a data-URL/base64 string (or ``{"image_url": ...}``)."""
    upload = body.files.pop(name, None)
    if upload is not None:
        if upload.size is not None and upload.size > max_bytes:
            raise PayloadTooLarge(f"{name}: file is {upload.size} bytes, over the {max_bytes} byte limit", name)
        data = await upload.read(max_bytes + 1)
        return check_image(name, data, max_bytes, max_pixels)
    value = body.fields.pop(name, None)
    if value is None:
        return None
    if isinstance(value, dict):
        value = value.get("image_url") or value.get("url") or ""
    if not isinstance(value, str):
        raise InvalidRequest(f"{name}: expected a file, a data URL or base64 text", name)
    return check_image(name, decode_text(name, value, max_bytes), max_bytes, max_pixels)


def parse(model: type[M], fields: dict[str, Any]) -> M:
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from exc
