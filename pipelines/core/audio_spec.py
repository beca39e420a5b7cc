"""What a model's soundtrack needs in the catalog and in a request: whether a model generates audio
(``AudioDefaults`` on its catalog entry), the request's ``generate_audio`` and audio guidance knobs,
and the rules that check them at the edge. Torch-free.

The knobs are diffusers' LTX-2 call arguments of the same names: ``audio_guidance_scale`` (CFG on
the audio stream), ``audio_stg_scale`` (spatio-temporal guidance), ``audio_modality_scale`` (how
strongly the audio follows the video) and ``audio_guidance_rescale`` (CFG rescale, 0 = off).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from pipelines.core.errors import InvalidSpec


class AudioDefaults(BaseModel):
    """On a catalog entry: the model generates a soundtrack at ``sample_rate`` Hz with these knobs."""

    model_config = ConfigDict(frozen=True)

    sample_rate: int
    channels: int = 2
    guidance_scale: float = 7.0
    stg_scale: float = 1.0
    modality_scale: float = 3.0
    guidance_rescale: float = 0.7


# request field -> (AudioDefaults field, lowest, highest)
KNOBS: dict[str, tuple[str, float, float]] = {
    "audio_guidance_scale": ("guidance_scale", 0.0, 30.0),
    "audio_stg_scale": ("stg_scale", 0.0, 10.0),
    "audio_modality_scale": ("modality_scale", 0.0, 10.0),
    "audio_guidance_rescale": ("guidance_rescale", 0.0, 1.0),
}


class AudioRequest(BaseModel):
    """The audio fields of a generation spec (``GenerationSpec`` inherits them). Unset: the model's own."""

    generate_audio: bool | None = None
    audio_guidance_scale: float | None = None
    audio_stg_scale: float | None = None
    audio_modality_scale: float | None = None
    audio_guidance_rescale: float | None = None


class ResolvedAudio(BaseModel):
    """The audio fields as they run (``ResolvedSpec`` inherits them): knobs are None without audio."""

    generate_audio: bool = False
    audio_guidance_scale: float | None = None
    audio_stg_scale: float | None = None
    audio_modality_scale: float | None = None
    audio_guidance_rescale: float | None = None


class Entry(Protocol):
    """What the audio rules read of a catalog entry (``ModelEntry`` is one): the catalog imports this
    module for ``AudioDefaults``, so this module names no catalog type."""

    @property
    def id(self) -> str: ...
    @property
    def audio(self) -> AudioDefaults | None: ...
    @property
    def tiny(self) -> bool: ...


class Entries(Protocol):
    def entries(self) -> Iterable[Entry]: ...


def audio_models(catalog: Entries) -> list[str]:
    return [e.id for e in catalog.entries() if e.audio is not None and not e.tiny]


def resolve_audio(entry: Entry, req: AudioRequest, catalog: Entries) -> ResolvedAudio:
    """Fill the model's defaults; InvalidSpec naming the field for audio asked of a video-only model
    or a knob outside its range."""
    audio = entry.audio
    if audio is None:
        fields = req.model_dump(include=set(AudioRequest.model_fields))
        asked = {k: v for k, v in fields.items() if v is not None and v is not False}
        if asked:
            field, value = next(iter(asked.items()))
            can = ", ".join(audio_models(catalog)) or "none in this catalog"
            raise InvalidSpec(field, value, f"{entry.id} generates video only; models that generate audio: {can}")
        return ResolvedAudio()
    values: dict[str, float] = {}
    for field, (default_field, lo, hi) in KNOBS.items():
        value = getattr(req, field)
        if value is None:
            value = getattr(audio, default_field)
        elif not (math.isfinite(value) and lo <= value <= hi):
            raise InvalidSpec(field, value, f"must be a number between {lo:g} and {hi:g}")
        values[field] = float(value)
    if req.generate_audio is False:
        return ResolvedAudio()
    return ResolvedAudio(generate_audio=True, **values)
