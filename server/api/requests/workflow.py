"""The workflow shapes: extension, remix and the post stage again on a finished video."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from server.api.requests.base import CommonFields, PromptFields
from server.api.requests.fields import Guidance, NumFrames, Prompt, Seconds


class ExtendRequest(PromptFields):
    """`POST /v1/videos/extensions` (OpenAI ``videos.extend``) and `POST /v1/videos/{id}/extend`.
    ``seconds`` / ``num_frames`` give the length of the new segment; the result is the whole clip."""

    seconds: Seconds = None
    num_frames: NumFrames = None
    guidance_scale_2: Guidance = None
    # A pattern rather than the ImageFit literal: the published OpenAPI document and its 422 say so.
    image_fit: str = Field(default="cover", pattern="^(cover|contain)$")
    video: dict[str, Any] | None = None   # {"id": ...}; multipart sends `video[id]` or a file `video`
    last_image: str | None = None         # end image: first+last-frame continuation


class RemixRequest(PromptFields):
    """`POST /v1/videos/{id}/remix` (OpenAI ``videos.remix``): a new prompt over the same spec."""

    prompt: Prompt
    guidance_scale_2: Guidance = None


class RepostRequest(CommonFields):
    """Body: ``post`` (required: interpolate / upscale / export) plus metadata, priority, webhook_url."""
