"""The model catalog: every model vidserve knows, its modes, defaults and shape rules.

Torch-free on purpose: the API validates requests against this without importing diffusers.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


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

    @property
    def modes(self) -> list[Mode]:
        return list(self.pipelines)


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
        pipelines=_LTX_ALL,
        defaults=Defaults(width=1216, height=704, num_frames=121, fps=24, steps=8, guidance_scale=1.0),
        rules=_LTX_RULES,
        architecture=Architecture(
            transformer_params_b=13.0, dim=4096, ffn_dim=16384, num_layers=48, num_heads=32,
            vae_spatial=32, vae_temporal=8, latent_channels=128, patch=(1, 1, 1), text_encoder_params_b=4.8,
        ),
        hub_repo="Lightricks/LTX-Video-0.9.7-distilled",
        license="ltxv-open-weights",
        notes="Distilled: use the published timestep schedule and guidance 1.0.",
        extra_call_kwargs={"decode_timestep": 0.05, "decode_noise_scale": 0.025},
    ),
]

# Tiny random-weight models: the same diffusers classes at toy sizes, built locally by
# `vidserve weights make-tiny`. They serve as demo models and as the CPU test fixtures.
_TINY_ARCH = Architecture(transformer_params_b=0.0001, text_encoder_params_b=0.0001, dim=24, ffn_dim=32,
                          num_layers=2, num_heads=2, text_dim=32)
_TINY_WAN = Defaults(width=64, height=64, num_frames=9, fps=16, steps=4, guidance_scale=5.0)
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
        defaults=Defaults(width=64, height=64, num_frames=9, fps=24, steps=4, guidance_scale=3.0),
        rules=_LTX_RULES,
        architecture=_TINY_ARCH.model_copy(update={
            "vae_spatial": 4, "vae_temporal": 4, "latent_channels": 8, "patch": (1, 1, 1), "dim": 32, "ffn_dim": 128,
            "num_layers": 2, "num_heads": 4,
        }),
        tiny=True,
    ),
]


class Catalog:
    """Lookup over model entries; the only place that knows which models exist."""

    def __init__(self, entries: list[ModelEntry]) -> None:
        self._entries = {e.id: e for e in entries}

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
