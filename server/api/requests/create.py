"""The create shapes: the three native endpoints and OpenAI's ``POST /v1/videos``."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from server.api.requests.audio import AudioFields
from server.api.requests.base import PromptFields, PublishedSettingsFields
from server.api.requests.fields import (
    AspectRatio,
    Fps,
    Guidance,
    ImageFit,
    NumFrames,
    Prompt,
    Quality,
    Resolution,
    Seconds,
    Side,
    SizeText,
    Speed,
    Takes,
)


class NativeRequest(PromptFields, AudioFields, PublishedSettingsFields):
    """`POST /v1/text-to-video`, `/v1/image-to-video`, `/v1/first-last-frame-to-video`.

    ``n`` > 1 creates n separate jobs sharing a ``group_id``, with seeds seed, seed+1, …, seed+n−1
    (a random base seed when none is given); the response is then a list of the n video objects.
    Images are multipart file fields or data-URL/base64 strings."""

    width: Side = None
    height: Side = None
    size: SizeText = Field(default=None, description="'WIDTHxHEIGHT', as on POST /v1/videos")
    aspect_ratio: AspectRatio = None
    resolution: Resolution = None
    num_frames: NumFrames = None
    seconds: Seconds = None
    fps: Fps = None
    guidance_scale_2: Guidance = None
    image_fit: ImageFit = "cover"
    speed: Speed = "exact"
    quality: Quality = "draft"
    image: str | None = None
    last_image: str | None = None


class OpenAIVideoRequest(PromptFields, AudioFields, PublishedSettingsFields):
    """`POST /v1/videos`: OpenAI's fields; a few of ours are accepted too (sent via ``extra_body``)."""

    prompt: Prompt
    seconds: str | None = Field(default=None, max_length=16)  # OpenAI sends "4", "8", "12"
    size: SizeText = None
    aspect_ratio: AspectRatio = None
    resolution: Resolution = None
    input_reference: str | dict[str, Any] | None = None
    fps: Fps = None
    n: Takes = Field(default=1, description="takes: seeds seed..seed+n-1, one group_id")
    speed: Speed = "exact"
    quality: Quality = "draft"
