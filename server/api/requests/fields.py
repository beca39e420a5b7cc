"""Every request field of the create, edit, extend, remix and studio shapes, declared once: its type,
its limits and its documentation. A shape names the field with one of these types; the limits come
from ``pipelines.core.spec`` where the spec checks the same value again when it resolves.

Pydantic reads the ``Field`` inside ``Annotated``, so ``seed: Seed = None`` is the same field, with
the same OpenAPI schema and the same 422 message, on every shape that carries it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from pipelines.core.spec import MAX_FPS, MAX_GUIDANCE, MAX_PROMPT_CHARS, MAX_SEED, MAX_STEPS

MAX_N = 8             # takes per request (seeds seed..seed+n-1, one group_id)
MAX_MODEL_CHARS = 200
MAX_SIDE = 8192       # the model's own rules (pipelines.core.catalog.SizeRules) check the rest
MAX_FRAMES = 2048
MAX_SECONDS = 600

ModelName = Annotated[str | None, Field(max_length=MAX_MODEL_CHARS)]
Prompt = Annotated[str, Field(max_length=MAX_PROMPT_CHARS)]
NegativePrompt = Annotated[str | None, Field(max_length=MAX_PROMPT_CHARS)]
Side = Annotated[int | None, Field(ge=1, le=MAX_SIDE)]
NumFrames = Annotated[int | None, Field(ge=1, le=MAX_FRAMES)]
Seconds = Annotated[float | None, Field(gt=0, le=MAX_SECONDS)]
Fps = Annotated[int | None, Field(ge=1, le=MAX_FPS)]
Steps = Annotated[int | None, Field(ge=1, le=MAX_STEPS)]
Guidance = Annotated[float | None, Field(ge=0, le=MAX_GUIDANCE)]
Seed = Annotated[int | None, Field(ge=0, le=MAX_SEED)]
SeedValue = Annotated[int, Field(ge=0, le=MAX_SEED)]  # one of a list of seeds (studio takes)
Takes = Annotated[int, Field(ge=1, le=MAX_N)]
SizeText = Annotated[str | None, Field(max_length=16)]  # 'WIDTHxHEIGHT'; map_size's 400 says what fits
AspectRatio = Annotated[str | None, Field(
    max_length=8, description="16:9, 9:16, 1:1, 4:3, 3:4 or 21:9: the server picks the model's nearest valid size "
    "(not with size/width/height)")]
Resolution = Annotated[str | None, Field(
    max_length=8, description="480p, 720p or 1080p where the model has it (GET /v1/models lists its shapes); alone: "
    "the model's default aspect ratio")]
ImageFit = Literal["cover", "contain"]
Speed = Annotated[Literal["exact", "fast", "fastest"], Field(
    description="exact: the same math as diffusers; fast/fastest: step caching (lossy)")]
Quality = Annotated[Literal["draft", "final"], Field(
    description="draft: one pass; final: the model's two-stage flow (LTX-2; GET /v1/models)")]

# The model's published settings a request may override (checked against the model when the spec resolves).
FlowShift = Annotated[float | None, Field(description="scheduler flow shift (Wan)")]
DecodeTimestep = Annotated[float | None, Field(description="LTX-Video decode timestep")]
DecodeNoise = Annotated[float | None, Field(description="LTX-Video decode noise")]
ImageCondNoise = Annotated[float | None, Field(description="LTX-Video image-condition noise")]

Priority = Annotated[int, Field(ge=-10, le=10, description="higher runs first; FIFO within a priority")]
# The post stage (interpolate, upscale, export); multipart sends it as a JSON string. Checked by
# server.api.post_fields.parse_post, which names the bad field (post.upscale.size).
PostField = Annotated[dict[str, Any] | str | None, Field(description="interpolate / upscale / export")]
