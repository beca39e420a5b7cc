"""The model catalog: every model vidserve knows, its modes, defaults and shape rules.

Torch-free on purpose: the API validates requests against this without importing diffusers.
"""

from __future__ import annotations

import math
from enum import StrEnum
from itertools import pairwise
from pathlib import PurePosixPath
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pipelines.core.audio_spec import AudioDefaults


class Mode(StrEnum):
    TEXT_TO_VIDEO = "text-to-video"
    IMAGE_TO_VIDEO = "image-to-video"
    FIRST_LAST_FRAME = "first-last-frame"
    VIDEO_TO_VIDEO = "video-to-video"


class SizeShift(BaseModel):
    """The flow shift published for one size class (e.g. Wan 2.1 14B: 3.0 at 480p, 5.0 at 720p).
    A request runs the shift of the class whose pixel count is nearest its own (by ratio)."""

    model_config = ConfigDict(frozen=True)

    name: str
    width: int
    height: int
    flow_shift: float = Field(gt=0)


class Defaults(BaseModel):
    """What a request gets for every field it leaves unset: the settings that decide quality, each
    as published by the model's authors or diffusers (sources in the entry's ``notes``)."""

    model_config = ConfigDict(frozen=True)

    width: int
    height: int
    num_frames: int
    fps: int
    steps: int
    guidance_scale: float
    # Wan 2.2 two-expert models: guidance for the low-noise expert.
    guidance_scale_2: float | None = None
    negative_prompt: str = ""
    # The scheduler's flow shift (``flow_shift`` on UniPC, ``shift`` on FlowMatchEuler), set on the
    # loaded scheduler before every call. None: the scheduler's own (LTX-Video: resolution-dependent
    # dynamic shifting, which a fixed shift would not reach). ``flow_shift_by_size`` overrides it per
    # size class where the published value depends on size.
    flow_shift: float | None = Field(default=None, gt=0)
    flow_shift_by_size: tuple[SizeShift, ...] = ()
    # LTX-Video decode and conditioning noise (``decode_timestep``, ``decode_noise_scale`` on every LTX
    # pipeline; ``image_cond_noise_scale`` on LTXConditionPipeline). None: not an LTX setting.
    decode_timestep: float | None = None
    decode_noise_scale: float | None = None
    image_cond_noise_scale: float | None = None
    # Timestep-distilled checkpoints are trained on a few fixed timesteps (0..1000, noisiest first):
    # this published schedule is passed to the pipeline as ``timesteps=`` when a request runs the
    # default step count. Its length is ``steps``.
    timesteps: tuple[float, ...] | None = None

    @model_validator(mode="after")
    def _schedule_fits(self) -> Defaults:
        ts = self.timesteps
        if ts is not None:
            if len(ts) != self.steps:
                raise ValueError(f"timesteps has {len(ts)} entries but steps={self.steps}")
            if any(not 0.0 < t <= 1000.0 for t in ts) or any(a <= b for a, b in pairwise(ts)):
                raise ValueError(f"timesteps {list(ts)} must decrease strictly within (0, 1000]")
        if self.flow_shift_by_size and self.flow_shift is None:
            raise ValueError("flow_shift_by_size needs flow_shift (the value at the default size)")
        if self.flow_shift_by_size and self.flow_shift != self.flow_shift_at(self.width, self.height):
            raise ValueError(f"flow_shift {self.flow_shift} is not the size-class value at the default size "
                             f"{self.width}x{self.height} ({self.flow_shift_at(self.width, self.height)})")
        return self

    def flow_shift_at(self, width: int, height: int) -> float | None:
        """The published flow shift for a width x height request (None: the scheduler's own)."""
        if not self.flow_shift_by_size:
            return self.flow_shift
        pixels = width * height
        nearest = min(self.flow_shift_by_size,
                      key=lambda c: abs(math.log(pixels / (c.width * c.height))))
        return nearest.flow_shift


class ShapeRules(BaseModel):
    """Frames must be ``frames_multiple * k + 1``; sides a multiple of ``size_multiple``."""

    model_config = ConfigDict(frozen=True)

    frames_multiple: int
    size_multiple: int
    min_frames: int = 1
    max_frames: int = 257
    min_side: int = 32
    max_side: int = 2048


class Architecture(BaseModel):
    """Published sizes, used for VRAM estimates, FLOP counts and synthetic benchmark weights."""

    model_config = ConfigDict(frozen=True)

    transformer_params_b: float
    experts: int = 1
    dim: int | None = None
    ffn_dim: int | None = None
    num_layers: int | None = None
    num_heads: int | None = None
    vae_spatial: int = 8
    vae_temporal: int = 4
    latent_channels: int = 16
    patch: tuple[int, int, int] = (1, 2, 2)
    text_encoder_params_b: float = 5.7
    text_dim: int = 4096
    image_encoder: bool = False
    # Other components resident with the transformer (LTX-2: audio VAE, vocoder, text connectors).
    extra_params_b: float = 0.0
    # Tensors of tokens x dim a forward holds besides its live activations (Wan VACE: one control hint per
    # VACE block, kept until the base block it feeds has run).
    held_activations: int = 0


class BundledLora(BaseModel):
    """A LoRA that is part of a catalog model (e.g. a step-distillation LoRA): fused into the base
    weights once, when the model loads, so every request runs with it and none can remove it."""

    model_config = ConfigDict(frozen=True)

    # The hub repo that publishes the file (what `weights pull` fetches); None for files built locally
    # (the tiny models' LoRAs come from `weights make-tiny`).
    repo: str | None
    # Path of the file inside the repo; locally it lives at ``weights_dir/<model id>/<file>``.
    file: str
    revision: str = "main"
    # Wan 2.2 A14B: ``transformer`` is the high-noise expert, ``transformer_2`` the low-noise one.
    target: Literal["transformer", "transformer_2"] = "transformer"
    strength: float = 1.0

    @model_validator(mode="after")
    def _relative_file(self) -> BundledLora:
        path = PurePosixPath(self.file)
        if path.is_absolute() or ".." in path.parts or path.suffix != ".safetensors":
            raise ValueError(f"file {self.file!r} must be a relative .safetensors path inside the repo")
        return self


# Pipelines whose ``__call__`` takes a custom ``timesteps=`` list in diffusers 0.42.1. LTXPipeline
# does not: it always passes its own sigmas too, and diffusers raises "Only one of `timesteps` or
# `sigmas`", which is why timestep-distilled LTX entries run text-to-video on LTXConditionPipeline
class TwoStageFlow(BaseModel):
    """``quality: "final"``: stage 1 at half the requested size (the request's steps and guidance),
    a x2 latent upsample, stage 2 refining at the full size on the distilled sigmas (LTX-2's
    production flow, diffusers' LTX-2 docs "Two-stages Generation")."""

    model_config = ConfigDict(frozen=True)

    # The weights folder's subfolder holding the latent upsampler (loaded from local files).
    upsampler: str = "latent_upsampler"
    upsampler_params_b: float = 0.0
    stage2_sigmas: tuple[float, ...]
    stage2_guidance_scale: float = 1.0
    # The distilled LoRA stage 2 runs with (a file at the hub repo's root, fetched by `weights pull`);
    # None: stage 2 runs the weights as they are (a distilled checkpoint, a tiny model).
    stage2_lora: str | None = None


# (as diffusers' own LTX 0.9.7/0.9.8 distilled examples do). Wan pipelines take no schedule at all.
TIMESTEP_PIPELINES = frozenset({"LTXConditionPipeline"})


class ModelEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    # The family's name, e.g. "wan2.1" or "ltx-video": a family package registered in
    # ``pipelines.families`` serves it (``adapter_for``), and owns this entry.
    family: str
    title: str
    # Mode -> diffusers pipeline class name. Each mode's class is built over the same components.
    pipelines: dict[Mode, str]
    defaults: Defaults
    rules: ShapeRules
    architecture: Architecture
    hub_repo: str | None = None
    # The hub revision `weights pull` fetches. "main" until a commit is pinned here; the resolved
    # commit is recorded in the pulled folder and in every sidecar either way.
    revision: str = "main"
    license: str = ""
    tiny: bool = False
    notes: str = ""
    # Step- and/or guidance-distilled: runs with its own few steps and guidance (see ``defaults``).
    distilled: bool = False
    # A model made of another catalog entry's weights plus ``bundled_loras``: the weights are found
    # (and pulled) as that entry's, the LoRA files at ``weights_dir/<id>/``.
    base_model: str | None = None
    bundled_loras: tuple[BundledLora, ...] = ()
    # Whether its video-to-video mode takes a ``mask`` (VACE inpainting does; SkyReels-V2 DF continuation
    # does not, and refuses one rather than ignore it).
    takes_mask: bool = True
    # Set for models that generate a soundtrack with the video (LTX-2); None: video only.
    audio: AudioDefaults | None = None
    # How many reference images (subjects/characters to keep) a request may give; 0: none (Wan VACE: 3).
    max_reference_images: int = Field(default=0, ge=0)
    # Set for models with a two-stage production flow (``quality: "final"``); None: draft only.
    final_flow: TwoStageFlow | None = None

    @property
    def modes(self) -> list[Mode]:
        return list(self.pipelines)

    @property
    def inputs(self) -> list[str]:
        """The request inputs this model takes besides the prompt, for a client to build its form from.
        ``audio`` is a soundtrack muxed onto the output (every model)."""
        modes = set(self.pipelines)
        out = [name for name, needs in (("image", Mode.IMAGE_TO_VIDEO), ("last_image", Mode.FIRST_LAST_FRAME),
                                        ("video", Mode.VIDEO_TO_VIDEO), ("mask", Mode.VIDEO_TO_VIDEO))
               if needs in modes and (name != "mask" or self.takes_mask)]
        if self.max_reference_images:
            out.append("reference_images")
        return [*out, "audio"]

    def flow_shift_for(self, width: int, height: int) -> float | None:
        """The catalog's flow shift for a request of this size (None: the scheduler's own)."""
        return self.defaults.flow_shift_at(width, height)

    def schedule_for(self, steps: int) -> tuple[float, ...] | None:
        """The published timestep schedule when ``steps`` is its length, else None (the pipeline's
        own schedule for that many steps; see README "Step-distilled models")."""
        ts = self.defaults.timesteps
        return ts if ts is not None and len(ts) == steps else None

    @model_validator(mode="after")
    def _distillation_fits(self) -> ModelEntry:
        if self.defaults.timesteps is not None:
            cannot = sorted({c for c in self.pipelines.values() if c not in TIMESTEP_PIPELINES})
            if cannot:
                raise ValueError(f"{self.id}: a timestep schedule needs {sorted(TIMESTEP_PIPELINES)} for every "
                                 f"mode; {cannot} cannot take one")
        # Which of the settings a family requires or refuses is that family's rule (its adapter's
        # ``check_entry``, run over the default catalog).
        d = self.defaults
        if d.guidance_scale_2 is not None and self.architecture.experts < 2:
            raise ValueError(f"{self.id}: guidance_scale_2 is for two-expert models")
        for lora in self.bundled_loras:
            if lora.target == "transformer_2" and self.architecture.experts < 2:
                raise ValueError(f"{self.id}: bundled LoRA {lora.file} targets transformer_2 of a one-expert model")
        if self.bundled_loras and self.base_model is None and self.hub_repo is None and not self.tiny:
            raise ValueError(f"{self.id}: bundled LoRAs need base weights (base_model or hub_repo)")
        return self


class ModelInfo(BaseModel):
    """A catalog entry as `vidserve weights list --json` and `GET /v1/models` show it: every default a
    request gets (the settings that decide quality included), and where the weights come from."""

    id: str
    family: str
    title: str
    modes: list[Mode]
    inputs: list[str]
    max_reference_images: int
    defaults: Defaults
    rules: ShapeRules
    distilled: bool
    base_model: str | None
    bundled_loras: list[BundledLora]
    hub_repo: str | None
    revision: str
    license: str
    tiny: bool
    notes: str
    # models that generate a soundtrack: its rate and the audio knobs' defaults (None: video only)
    audio: AudioDefaults | None = None
    # quality "final": the two-stage flow (None: draft only)
    final_flow: TwoStageFlow | None = None

    @classmethod
    def of(cls, entry: ModelEntry) -> ModelInfo:
        return cls(id=entry.id, family=entry.family, title=entry.title, modes=entry.modes, inputs=entry.inputs,
                   max_reference_images=entry.max_reference_images, defaults=entry.defaults,
                   rules=entry.rules, distilled=entry.distilled, base_model=entry.base_model,
                   bundled_loras=list(entry.bundled_loras), hub_repo=entry.hub_repo, revision=entry.revision,
                   license=entry.license, tiny=entry.tiny, notes=entry.notes, audio=entry.audio,
                   final_flow=entry.final_flow)


class Catalog:
    """Lookup over model entries; the only place that knows which models exist."""

    def __init__(self, entries: list[ModelEntry]) -> None:
        self._entries = {e.id: e for e in entries}
        for e in entries:
            base = self._entries.get(e.base_model) if e.base_model else None
            if e.base_model and (base is None or base.base_model or base.family != e.family
                                  or base.architecture != e.architecture):
                raise ValueError(f"{e.id}: base_model {e.base_model!r} must be a catalog entry of the same "
                                 "family and architecture that has weights of its own")

    def base_of(self, entry: ModelEntry) -> ModelEntry:
        """The entry whose weights ``entry`` loads (itself unless it has a ``base_model``)."""
        return self._entries[entry.base_model] if entry.base_model else entry

    def get(self, model_id: str) -> ModelEntry | None:
        return self._entries.get(model_id)

    def ids(self) -> list[str]:
        return list(self._entries)

    def entries(self) -> list[ModelEntry]:
        return list(self._entries.values())

    def tiny(self) -> list[ModelEntry]:
        return [e for e in self._entries.values() if e.tiny]
