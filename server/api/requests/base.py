"""The bases every request shape extends: what any creation request carries besides the spec
(``CommonFields``), the prompt and sampling fields of every generating request (``PromptFields``),
the model's overridable published settings, and the one place a request's spec fields are picked."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field, field_validator

from pipelines.core.spec import GenerationSpec
from pipelines.core.validation import NoBoolNumbers
from server.api.requests.fields import (
    DecodeNoise,
    DecodeTimestep,
    FlowShift,
    Guidance,
    ImageCondNoise,
    ModelName,
    NegativePrompt,
    PostField,
    Priority,
    Prompt,
    Seed,
    Steps,
    Takes,
)

MAX_METADATA_KEYS = 16

# GenerationSpec fields a request never passes through as given: the model is picked (and its
# weights found) by the route, a shape becomes width/height there, LoRAs are resolved against the
# model, and file inputs are saved under the job's folder first.
_ROUTED = frozenset({"model", "aspect_ratio", "resolution", "loras", "image", "last_image", "extend_video",
                     "video", "mask", "reference_images"})
SPEC_FIELDS = frozenset(GenerationSpec.model_fields) - _ROUTED


def _check_metadata(value: dict[str, str] | None) -> dict[str, str] | None:
    if value is None:
        return None
    if len(value) > MAX_METADATA_KEYS:
        raise ValueError(f"at most {MAX_METADATA_KEYS} keys")
    for k, v in value.items():
        if not 1 <= len(k) <= 64 or len(str(v)) > 512:
            raise ValueError(f"key {k!r}: keys are 1-64 characters, values at most 512")
    return {k: str(v) for k, v in value.items()}


class RequestModel(NoBoolNumbers):
    """A request body: unknown fields refused; ``generation_fields`` is its part of the spec."""

    model_config = ConfigDict(extra="forbid")

    def generation_fields(self) -> dict[str, Any]:
        """The given fields this shape shares with ``GenerationSpec`` (the route adds the rest)."""
        return self.model_dump(include=set(SPEC_FIELDS & set(type(self).model_fields)), exclude_none=True)


class CommonFields(RequestModel):
    """What every creation request may carry besides the generation spec."""

    metadata: dict[str, str] | None = Field(default=None, description="free-form labels (project, scene, shot)")
    priority: Priority = 0
    webhook_url: str | None = Field(default=None, max_length=2048, pattern=r"^https?://")
    post: PostField = None
    # LoRAs from the server's LoRA folder: [{"name", "strength", "expert"}]; multipart sends a JSON string.
    # Checked against the model by server.api.workflow.add_loras (400 naming loras[i]).
    loras: list[dict[str, Any]] | str | None = Field(default=None, description="[{name, strength, expert}]")

    @field_validator("metadata")
    @classmethod
    def check_metadata(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        return _check_metadata(value)


class PromptFields(CommonFields):
    """The fields of every request that generates: prompt, model, sampling and takes (``n`` > 1 makes
    n jobs with seeds seed..seed+n-1 and one ``group_id``). A shape may make ``prompt`` required."""

    prompt: Prompt = ""
    model: ModelName = None
    negative_prompt: NegativePrompt = None
    steps: Steps = None
    guidance_scale: Guidance = None
    seed: Seed = None
    n: Takes = 1


class PublishedSettingsFields(NoBoolNumbers):
    """The model's published quality settings (GET /v1/models shows them), which a request may override on
    the native and the OpenAI shape alike; checked against the model by pipelines.core.spec.resolve (400
    naming the field)."""

    flow_shift: FlowShift = None
    decode_timestep: DecodeTimestep = None
    decode_noise_scale: DecodeNoise = None
    image_cond_noise_scale: ImageCondNoise = None
