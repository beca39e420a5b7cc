"""The model catalog: every model vidserve knows, its modes, defaults and shape rules.

Torch-free on purpose: the API validates requests against this without importing diffusers.
"""

from __future__ import annotations

from enum import StrEnum
from itertools import pairwise
from pathlib import PurePosixPath
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Mode(StrEnum):
    TEXT_TO_VIDEO = "text-to-video"
    IMAGE_TO_VIDEO = "image-to-video"
    FIRST_LAST_FRAME = "first-last-frame"


class Family(StrEnum):
    WAN21 = "wan2.1"
    WAN22 = "wan2.2"
    LTX = "ltx-video"


class Defaults(BaseModel):
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
        return self


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
# (as diffusers' own LTX 0.9.7/0.9.8 distilled examples do). Wan pipelines take no schedule at all.
TIMESTEP_PIPELINES = frozenset({"LTXConditionPipeline"})


class ModelEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    family: Family
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
    extra_call_kwargs: dict[str, float | int | str | list[float]] = Field(default_factory=dict)
    # Step- and/or guidance-distilled: runs with its own few steps and guidance (see ``defaults``).
    distilled: bool = False
    # A model made of another catalog entry's weights plus ``bundled_loras``: the weights are found
    # (and pulled) as that entry's, the LoRA files at ``weights_dir/<id>/``.
    base_model: str | None = None
    bundled_loras: tuple[BundledLora, ...] = ()
    # The scheduler's flow shift set at load time (``flow_shift`` on UniPC, ``shift`` on FlowMatch
    # Euler); distillations are trained at a fixed shift. None keeps the weights' scheduler config.
    scheduler_shift: float | None = None

    @property
    def modes(self) -> list[Mode]:
        return list(self.pipelines)

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
        for lora in self.bundled_loras:
            if lora.target == "transformer_2" and self.architecture.experts < 2:
                raise ValueError(f"{self.id}: bundled LoRA {lora.file} targets transformer_2 of a one-expert model")
        if self.bundled_loras and self.base_model is None and self.hub_repo is None and not self.tiny:
            raise ValueError(f"{self.id}: bundled LoRAs need base weights (base_model or hub_repo)")
        return self


_WAN_RULES = ShapeRules(frames_multiple=4, size_multiple=16)
_WAN22_5B_RULES = ShapeRules(frames_multiple=4, size_multiple=32)
_LTX_RULES = ShapeRules(frames_multiple=8, size_multiple=32)

_WAN_T2V = {Mode.TEXT_TO_VIDEO: "WanPipeline"}
_WAN_I2V = {Mode.IMAGE_TO_VIDEO: "WanImageToVideoPipeline"}
# Wan 2.1 FLF2V's image embedder is trained on two CLIP embeddings (first and last), so it serves
# first+last frame only; Wan 2.1 I2V takes one. Wan 2.2 has no image encoder and serves both.
_WAN_FLF = {Mode.FIRST_LAST_FRAME: "WanImageToVideoPipeline"}
_WAN_I2V_FLF = {
    Mode.IMAGE_TO_VIDEO: "WanImageToVideoPipeline",
    Mode.FIRST_LAST_FRAME: "WanImageToVideoPipeline",
}
_LTX_ALL = {
    Mode.TEXT_TO_VIDEO: "LTXPipeline",
    Mode.IMAGE_TO_VIDEO: "LTXConditionPipeline",
    Mode.FIRST_LAST_FRAME: "LTXConditionPipeline",
}

_WAN_1_3B = Architecture(transformer_params_b=1.3, dim=1536, ffn_dim=8960, num_layers=30, num_heads=12)
_WAN_14B = Architecture(transformer_params_b=14.0, dim=5120, ffn_dim=13824, num_layers=40, num_heads=40)
_WAN_14B_I2V = _WAN_14B.model_copy(update={"image_encoder": True})
_WAN_A14B = _WAN_14B.model_copy(update={"experts": 2})

_LTX_13B = Architecture(
    transformer_params_b=13.0, dim=4096, ffn_dim=16384, num_layers=48, num_heads=32,
    vae_spatial=32, vae_temporal=8, latent_channels=128, patch=(1, 1, 1), text_encoder_params_b=4.8,
)
# Timestep-distilled LTX runs every mode on LTXConditionPipeline (see TIMESTEP_PIPELINES).
_LTX_COND_ALL = {m: "LTXConditionPipeline" for m in Mode}
# diffusers' LTX docs, "LTX-Video 0.9.7 distilled" and "0.9.8 distilled" examples (first pass, before the
# optional latent upscale): guidance 1.0 and this 8-step schedule.
LTX_DISTILLED_TIMESTEPS = (1000.0, 993.0, 987.0, 981.0, 975.0, 909.0, 725.0, 0.03)
_LTX_DISTILLED_DEFAULTS = Defaults(width=1216, height=704, num_frames=121, fps=24, steps=8, guidance_scale=1.0,
                                   timesteps=LTX_DISTILLED_TIMESTEPS)
_LTX_DISTILLED_CALL: dict[str, float | int | str | list[float]] = {
    "decode_timestep": 0.05, "decode_noise_scale": 0.025, "image_cond_noise_scale": 0.0,
}
_LTX_DISTILLED_NOTE = (
    "Guidance- and timestep-distilled: guidance 1.0 and the published 8-step schedule (diffusers LTX-Video docs). "
    "Other step counts run LTXConditionPipeline's default schedule (diffusers suggests 4-10 steps); vidserve "
    "runs one pass, without the optional latent upscale + refine pass."
)
_LIGHTX2V_NOTE = (
    "LightX2V step+CFG distillation LoRA (rank 64) from the file LightX2V's docs name: 4 steps, no CFG "
    "(enable_cfg false), denoising_step_list [1000, 750, 500, 250] at sample_shift 5. Assumed, not verified "
    "here: that diffusers' Wan LoRA converter loads the original file, and the quality of diffusers' UniPC "
    "solver at flow_shift 5, whose four timesteps (about [1000, 937, 833, 625]) are our reading of that list "
    "shifted by 5; LightX2V itself samples with an LCM-style scheduler."
)

_MODELS: list[ModelEntry] = [
    ModelEntry(
        id="wan2.1-t2v-1.3b",
        family=Family.WAN21,
        title="Wan 2.1 text-to-video 1.3B (480p)",
        pipelines=_WAN_T2V,
        defaults=Defaults(width=832, height=480, num_frames=81, fps=16, steps=50, guidance_scale=5.0),
        rules=_WAN_RULES,
        architecture=_WAN_1_3B,
        hub_repo="Wan-AI/Wan2.1-T2V-1.3B-Diffusers",
        license="apache-2.0",
    ),
    ModelEntry(
        id="wan2.1-t2v-14b",
        family=Family.WAN21,
        title="Wan 2.1 text-to-video 14B (480p/720p)",
        pipelines=_WAN_T2V,
        defaults=Defaults(width=1280, height=720, num_frames=81, fps=16, steps=50, guidance_scale=5.0),
        rules=_WAN_RULES,
        architecture=_WAN_14B,
        hub_repo="Wan-AI/Wan2.1-T2V-14B-Diffusers",
        license="apache-2.0",
    ),
    ModelEntry(
        id="wan2.1-i2v-14b-480p",
        family=Family.WAN21,
        title="Wan 2.1 image-to-video 14B, 480p",
        pipelines=_WAN_I2V,
        defaults=Defaults(width=832, height=480, num_frames=81, fps=16, steps=40, guidance_scale=5.0),
        rules=_WAN_RULES,
        architecture=_WAN_14B_I2V,
        hub_repo="Wan-AI/Wan2.1-I2V-14B-480P-Diffusers",
        license="apache-2.0",
    ),
    ModelEntry(
        id="wan2.1-i2v-14b-720p",
        family=Family.WAN21,
        title="Wan 2.1 image-to-video 14B, 720p",
        pipelines=_WAN_I2V,
        defaults=Defaults(width=1280, height=720, num_frames=81, fps=16, steps=40, guidance_scale=5.0),
        rules=_WAN_RULES,
        architecture=_WAN_14B_I2V,
        hub_repo="Wan-AI/Wan2.1-I2V-14B-720P-Diffusers",
        license="apache-2.0",
    ),
    ModelEntry(
        id="wan2.1-flf2v-14b-720p",
        family=Family.WAN21,
        title="Wan 2.1 first+last-frame-to-video 14B, 720p",
        pipelines=_WAN_FLF,
        defaults=Defaults(width=1280, height=720, num_frames=81, fps=16, steps=50, guidance_scale=5.5),
        rules=_WAN_RULES,
        architecture=_WAN_14B_I2V,
        hub_repo="Wan-AI/Wan2.1-FLF2V-14B-720P-diffusers",
        license="apache-2.0",
    ),
    ModelEntry(
        id="wan2.2-ti2v-5b",
        family=Family.WAN22,
        title="Wan 2.2 text+image-to-video 5B (720p, 24 fps)",
        pipelines={Mode.TEXT_TO_VIDEO: "WanPipeline", Mode.IMAGE_TO_VIDEO: "WanImageToVideoPipeline"},
        defaults=Defaults(width=1280, height=704, num_frames=121, fps=24, steps=50, guidance_scale=5.0),
        rules=_WAN22_5B_RULES,
        architecture=Architecture(
            transformer_params_b=5.0, dim=3072, ffn_dim=14336, num_layers=30, num_heads=24,
            vae_spatial=16, latent_channels=48,
        ),
        hub_repo="Wan-AI/Wan2.2-TI2V-5B-Diffusers",
        license="apache-2.0",
    ),
    ModelEntry(
        id="wan2.2-t2v-a14b",
        family=Family.WAN22,
        title="Wan 2.2 text-to-video A14B (two experts)",
        pipelines=_WAN_T2V,
        defaults=Defaults(
            width=1280, height=720, num_frames=81, fps=16, steps=40, guidance_scale=4.0, guidance_scale_2=3.0
        ),
        rules=_WAN_RULES,
        architecture=_WAN_A14B,
        hub_repo="Wan-AI/Wan2.2-T2V-A14B-Diffusers",
        license="apache-2.0",
    ),
    ModelEntry(
        id="wan2.2-i2v-a14b",
        family=Family.WAN22,
        title="Wan 2.2 image-to-video A14B (two experts; first+last frame too)",
        pipelines=_WAN_I2V_FLF,
        defaults=Defaults(
            width=1280, height=720, num_frames=81, fps=16, steps=40, guidance_scale=3.5, guidance_scale_2=3.5
        ),
        rules=_WAN_RULES,
        architecture=_WAN_A14B,
        hub_repo="Wan-AI/Wan2.2-I2V-A14B-Diffusers",
        license="apache-2.0",
    ),
    ModelEntry(
        id="ltx-video-2b-0.9.5",
        family=Family.LTX,
        title="LTX-Video 2B 0.9.5",
        pipelines=_LTX_ALL,
        defaults=Defaults(width=768, height=512, num_frames=121, fps=24, steps=40, guidance_scale=3.0),
        rules=_LTX_RULES,
        architecture=Architecture(
            transformer_params_b=1.9, dim=2048, ffn_dim=8192, num_layers=28, num_heads=32,
            vae_spatial=32, vae_temporal=8, latent_channels=128, patch=(1, 1, 1), text_encoder_params_b=4.8,
        ),
        hub_repo="Lightricks/LTX-Video-0.9.5",
        license="ltxv-open-weights",
    ),
    ModelEntry(
        id="ltx-video-13b-0.9.7-distilled",
        family=Family.LTX,
        title="LTX-Video 13B 0.9.7 distilled (8 steps, no CFG)",
        pipelines=_LTX_COND_ALL,
        defaults=_LTX_DISTILLED_DEFAULTS,
        rules=_LTX_RULES,
        architecture=_LTX_13B,
        hub_repo="Lightricks/LTX-Video-0.9.7-distilled",
        license="ltxv-open-weights",
        distilled=True,
        notes=_LTX_DISTILLED_NOTE,
        extra_call_kwargs=_LTX_DISTILLED_CALL,
    ),
    ModelEntry(
        id="ltx-video-13b-0.9.8-distilled",
        family=Family.LTX,
        title="LTX-Video 13B 0.9.8 distilled (8 steps, no CFG)",
        pipelines=_LTX_COND_ALL,
        defaults=_LTX_DISTILLED_DEFAULTS,
        rules=_LTX_RULES,
        architecture=_LTX_13B,
        hub_repo="Lightricks/LTX-Video-0.9.8-13B-distilled",
        license="ltxv-open-weights",
        distilled=True,
        notes=_LTX_DISTILLED_NOTE + " 0.9.8's tone mapping belongs to the latent upsampler pass, which vidserve "
        "does not run. Assumed, not checked against the repo's config: the transformer has 0.9.7 13B's shape.",
        extra_call_kwargs=_LTX_DISTILLED_CALL,
    ),
    # LoRA distillations: a base entry's weights with a published distillation LoRA fused in at load.
    ModelEntry(
        id="wan2.1-t2v-14b-lightx2v-4step",
        family=Family.WAN21,
        title="Wan 2.1 text-to-video 14B + LightX2V step/CFG-distill LoRA (4 steps, no CFG)",
        pipelines=_WAN_T2V,
        defaults=Defaults(width=832, height=480, num_frames=81, fps=16, steps=4, guidance_scale=1.0),
        rules=_WAN_RULES,
        architecture=_WAN_14B,
        base_model="wan2.1-t2v-14b",
        bundled_loras=(BundledLora(
            repo="lightx2v/Wan2.1-T2V-14B-StepDistill-CfgDistill-Lightx2v",
            file="loras/Wan21_T2V_14B_lightx2v_cfg_step_distill_lora_rank64.safetensors",
        ),),
        scheduler_shift=5.0,
        license="apache-2.0",
        distilled=True,
        notes=_LIGHTX2V_NOTE + " The 832x480 default is our choice, not a published one.",
    ),
    ModelEntry(
        id="wan2.1-i2v-14b-480p-lightx2v-4step",
        family=Family.WAN21,
        title="Wan 2.1 image-to-video 14B 480p + LightX2V step/CFG-distill LoRA (4 steps, no CFG)",
        pipelines=_WAN_I2V,
        defaults=Defaults(width=832, height=480, num_frames=81, fps=16, steps=4, guidance_scale=1.0),
        rules=_WAN_RULES,
        architecture=_WAN_14B_I2V,
        base_model="wan2.1-i2v-14b-480p",
        bundled_loras=(BundledLora(
            repo="lightx2v/Wan2.1-I2V-14B-480P-StepDistill-CfgDistill-Lightx2v",
            file="loras/Wan21_I2V_14B_lightx2v_cfg_step_distill_lora_rank64.safetensors",
        ),),
        scheduler_shift=5.0,
        license="apache-2.0",
        distilled=True,
        notes=_LIGHTX2V_NOTE + " diffusers PR #12040 ran this base with Kijai/WanVideo_comfy's repackaging of "
        "this LoRA (Lightx2v/lightx2v_I2V_14B_480p_cfg_step_distill_rank128_bf16.safetensors) at 4 steps, "
        "guidance 1.0.",
    ),
    ModelEntry(
        id="wan2.2-t2v-a14b-lightning-4step",
        family=Family.WAN22,
        title="Wan 2.2 text-to-video A14B + Wan2.2-Lightning LoRAs, one per expert (4 steps, no CFG)",
        pipelines=_WAN_T2V,
        defaults=Defaults(
            width=1280, height=720, num_frames=81, fps=16, steps=4, guidance_scale=1.0, guidance_scale_2=1.0
        ),
        rules=_WAN_RULES,
        architecture=_WAN_A14B,
        base_model="wan2.2-t2v-a14b",
        bundled_loras=(
            BundledLora(repo="lightx2v/Wan2.2-Lightning",
                        file="Wan2.2-T2V-A14B-4steps-lora-rank64-Seko-V1.1/high_noise_model.safetensors",
                        target="transformer"),
            BundledLora(repo="lightx2v/Wan2.2-Lightning",
                        file="Wan2.2-T2V-A14B-4steps-lora-rank64-Seko-V1.1/low_noise_model.safetensors",
                        target="transformer_2"),
        ),
        scheduler_shift=5.0,
        license="apache-2.0",
        distilled=True,
        notes="Wan2.2-Lightning (ModelTC/lightx2v), T2V V1.1: trained at 4 steps on timesteps "
        "[1000, 937.5, 833.3, 625] = shift 5, no CFG; the high-noise LoRA goes into transformer, the low-noise one "
        "into transformer_2 (diffusers `load_lora_weights(..., load_into_transformer_2=True)`, PR #12074, shown "
        "there with Kijai/WanVideo_comfy's repackaging of these files). Unverified here: that the original "
        "lightx2v files load through diffusers' converter unchanged, and output quality with diffusers' UniPC "
        "solver (Lightning's own sampler is Euler).",
    ),
]

# Tiny random-weight models: the same diffusers classes at toy sizes, built locally by
# `vidserve weights make-tiny`. They serve as demo models and as the CPU test fixtures.
_TINY_ARCH = Architecture(transformer_params_b=0.0001, text_encoder_params_b=0.0001, dim=24, ffn_dim=32,
                          num_layers=2, num_heads=2, text_dim=32)
_TINY_WAN = Defaults(width=64, height=64, num_frames=9, fps=16, steps=4, guidance_scale=5.0)
_TINY_LTX = Defaults(width=64, height=64, num_frames=9, fps=24, steps=4, guidance_scale=3.0)
_TINY_LTX_ARCH = _TINY_ARCH.model_copy(update={
    "vae_spatial": 4, "vae_temporal": 4, "latent_channels": 8, "patch": (1, 1, 1), "dim": 32, "ffn_dim": 128,
    "num_layers": 2, "num_heads": 4,
})
_TINY_MODELS: list[ModelEntry] = [
    ModelEntry(
        id="tiny-wan2.1-t2v",
        family=Family.WAN21,
        title="Tiny random Wan 2.1 text-to-video (demo/test)",
        pipelines=_WAN_T2V,
        defaults=_TINY_WAN,
        rules=_WAN_RULES,
        architecture=_TINY_ARCH,
        tiny=True,
    ),
    ModelEntry(
        id="tiny-wan2.1-i2v",
        family=Family.WAN21,
        title="Tiny random Wan 2.1 image-to-video with CLIP image encoder (demo/test)",
        pipelines=_WAN_I2V,
        defaults=_TINY_WAN,
        rules=_WAN_RULES,
        architecture=_TINY_ARCH.model_copy(update={"image_encoder": True}),
        tiny=True,
    ),
    ModelEntry(
        id="tiny-wan2.1-flf2v",
        family=Family.WAN21,
        title="Tiny random Wan 2.1 first+last-frame-to-video with CLIP image encoder (demo/test)",
        pipelines=_WAN_FLF,
        defaults=_TINY_WAN,
        rules=_WAN_RULES,
        architecture=_TINY_ARCH.model_copy(update={"image_encoder": True}),
        tiny=True,
    ),
    ModelEntry(
        id="tiny-wan2.2-t2v-a14b",
        family=Family.WAN22,
        title="Tiny random Wan 2.2 two-expert text-to-video (demo/test)",
        pipelines=_WAN_T2V,
        defaults=_TINY_WAN.model_copy(update={"guidance_scale_2": 3.0}),
        rules=_WAN_RULES,
        architecture=_TINY_ARCH.model_copy(update={"experts": 2}),
        tiny=True,
    ),
    ModelEntry(
        id="tiny-wan2.2-i2v-a14b",
        family=Family.WAN22,
        title="Tiny random Wan 2.2 two-expert image/first+last-frame-to-video, no image encoder (demo/test)",
        pipelines=_WAN_I2V_FLF,
        defaults=_TINY_WAN.model_copy(update={"guidance_scale_2": 3.0}),
        rules=_WAN_RULES,
        architecture=_TINY_ARCH.model_copy(update={"experts": 2}),
        tiny=True,
    ),
    ModelEntry(
        id="tiny-ltx-video",
        family=Family.LTX,
        title="Tiny random LTX-Video, all three modes (demo/test)",
        pipelines=_LTX_ALL,
        defaults=_TINY_LTX,
        rules=_LTX_RULES,
        architecture=_TINY_LTX_ARCH,
        tiny=True,
    ),
    # Tiny step-distilled counterparts: the same mechanisms (published schedule, bundled LoRAs fused at
    # load, scheduler shift) on the tiny weights. The schedule and LoRAs are made up; nothing is distilled.
    ModelEntry(
        id="tiny-ltx-video-distilled",
        family=Family.LTX,
        title="Tiny random LTX-Video run like a timestep-distilled one: 4-step schedule, no CFG (demo/test)",
        pipelines=_LTX_COND_ALL,
        defaults=_TINY_LTX.model_copy(update={"guidance_scale": 1.0, "timesteps": (1000.0, 909.0, 725.0, 0.03)}),
        rules=_LTX_RULES,
        architecture=_TINY_LTX_ARCH,
        base_model="tiny-ltx-video",
        tiny=True,
        distilled=True,
        extra_call_kwargs={"image_cond_noise_scale": 0.0},
    ),
    ModelEntry(
        id="tiny-wan2.1-t2v-distill-lora",
        family=Family.WAN21,
        title="Tiny random Wan 2.1 text-to-video + a bundled random 'distill' LoRA, no CFG (demo/test)",
        pipelines=_WAN_T2V,
        defaults=_TINY_WAN.model_copy(update={"steps": 3, "guidance_scale": 1.0}),
        rules=_WAN_RULES,
        architecture=_TINY_ARCH,
        base_model="tiny-wan2.1-t2v",
        bundled_loras=(BundledLora(repo=None, file="tiny-distill-lora.safetensors"),),
        scheduler_shift=5.0,
        tiny=True,
        distilled=True,
    ),
    ModelEntry(
        id="tiny-wan2.2-t2v-a14b-lightning",
        family=Family.WAN22,
        title="Tiny random Wan 2.2 two-expert text-to-video + one bundled random LoRA per expert (demo/test)",
        pipelines=_WAN_T2V,
        defaults=_TINY_WAN.model_copy(update={"guidance_scale": 1.0, "guidance_scale_2": 1.0}),
        rules=_WAN_RULES,
        architecture=_TINY_ARCH.model_copy(update={"experts": 2}),
        base_model="tiny-wan2.2-t2v-a14b",
        bundled_loras=(
            BundledLora(repo=None, file="high/tiny-lightning-lora.safetensors", target="transformer"),
            BundledLora(repo=None, file="low/tiny-lightning-lora.safetensors", target="transformer_2",
                        strength=0.5),
        ),
        scheduler_shift=5.0,
        tiny=True,
        distilled=True,
    ),
]


class Catalog:
    """Lookup over model entries; the only place that knows which models exist."""

    def __init__(self, entries: list[ModelEntry]) -> None:
        self._entries = {e.id: e for e in entries}
        for e in entries:
            base = self._entries.get(e.base_model) if e.base_model else None
            if e.base_model and (base is None or base.base_model or base.family is not e.family
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


def default_catalog() -> Catalog:
    return Catalog(_MODELS + _TINY_MODELS)
