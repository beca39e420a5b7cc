"""The soundtrack fields of a creation request, shared by the native and the OpenAI shapes (the SDK's
``extra_body``). The knobs' ranges and "this model makes no audio" are checked when the spec resolves
(``pipelines.core.audio_spec``); an uploaded track is read by ``server.api.audio``."""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, BaseModel, Field


class AudioFields(BaseModel):
    """Request fields for the soundtrack. ``generate_sound`` is vLLM-Omni's name for ``generate_audio``."""

    generate_audio: bool | None = Field(
        default=None, validation_alias=AliasChoices("generate_audio", "generate_sound"),
        description="audio models: generate the soundtrack (default true); false skips it")
    audio_guidance_scale: float | None = Field(default=None, description="audio CFG, 0-30")
    audio_stg_scale: float | None = Field(default=None, description="audio spatio-temporal guidance, 0-10")
    audio_modality_scale: float | None = Field(default=None, description="audio-follows-video guidance, 0-10")
    audio_guidance_rescale: float | None = Field(default=None, description="audio CFG rescale, 0-1")
    audio_mode: Literal["replace", "mix"] = Field(
        default="replace", description="an uploaded `audio` replaces the generated soundtrack, or is mixed under it")
    audio_mix_db: float = Field(default=0.0, description="the uploaded track's level in a mix, dB (-60 to 12)")
