"""Wan 2.1 VACE catalog entries: one ``WanVACEPipeline`` serves text-to-video (with optional reference
images), video-to-video (a source video re-rendered by the prompt; with a mask: inpaint/outpaint of the
white region), and image / first+last frame through VACE's frame conditioning. Torch-free data.

Published settings ([V1] diffusers 0.42 pipelines/wan/pipeline_wan_vace.py example: 30 steps, guidance 5.0,
``flow_shift = 3.0  # 5.0 for 720P, 3.0 for 480P``, 16 fps output, Wan's negative prompt in English;
[V2] the Wan2.1 README: VACE-1.3B is 480p only, VACE-14B 480p and 720p). Checkpoints:
``Wan-AI/Wan2.1-VACE-1.3B-diffusers`` and ``Wan-AI/Wan2.1-VACE-14B-diffusers`` (no commit pinned).
"""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.core.catalog import Architecture, Defaults, Mode, ModelEntry, ShapeRules, SizeShift
from pipelines.families.wan.models import WAN_NEGATIVE_PROMPT

WAN_VACE = "wan-vace"

VACE_RULES = ShapeRules(frames_multiple=4, size_multiple=16)
VACE_MODES = {
    Mode.TEXT_TO_VIDEO: "WanVACEPipeline",
    Mode.IMAGE_TO_VIDEO: "WanVACEPipeline",
    Mode.FIRST_LAST_FRAME: "WanVACEPipeline",
    Mode.VIDEO_TO_VIDEO: "WanVACEPipeline",
}
# Parameters: Wan 2.1's base transformer plus VACE's control blocks, counted on the meta device from the
# published configs (``pipelines.families.wan_vace.synthetic``): 1.42B + 0.73B = 2.15B; 14.29B + 3.05B = 17.34B.


@dataclass(frozen=True)
class VaceBlocks:
    """VACE's control branch on a Wan transformer: the base blocks a VACE block feeds (``vace_layers``) and
    the control input's channels (16 inactive + 16 reactive latents + 64 mask values per latent pixel)."""

    layers: tuple[int, ...]
    in_channels: int = 96


# diffusers scripts/convert_wan_to_diffusers.py (``Wan-VACE-1.3B``, ``Wan-VACE-14B``) [D3]; the tiny model's own.
VACE_BLOCKS: dict[str, VaceBlocks] = {
    "wan2.1-vace-1.3b": VaceBlocks(tuple(range(0, 30, 2))),
    "wan2.1-vace-14b": VaceBlocks(tuple(range(0, 40, 5))),
    "tiny-wan-vace": VaceBlocks((0,)),
}
# How many reference images one request may give (each adds a latent frame of tokens; VACE's examples use 1-3).
MAX_REFERENCE_IMAGES = 3

_SHIFTS = (SizeShift(name="480p", width=832, height=480, flow_shift=3.0),
           SizeShift(name="720p", width=1280, height=720, flow_shift=5.0))
_NOTE = ("Steps 30, guidance 5.0, 16 fps [V1]; flow shift by size class, 3.0 at 480p and 5.0 at 720p [V1]. "
         "Negative prompt: Wan's official default (sample_neg_prompt, [W21]). Reference images are "
         "letterboxed on white by diffusers (its own fit); source videos and masks are fitted by the "
         "request's image_fit.")


MODELS: list[ModelEntry] = [
    ModelEntry(
        id="wan2.1-vace-1.3b", family=WAN_VACE, title="Wan 2.1 VACE 1.3B (video-to-video, references, "
        "inpaint, first/last frame; 480p)", pipelines=VACE_MODES, max_reference_images=MAX_REFERENCE_IMAGES,
        defaults=Defaults(width=832, height=480, num_frames=81, fps=16, steps=30, guidance_scale=5.0,
                          flow_shift=3.0, negative_prompt=WAN_NEGATIVE_PROMPT),
        rules=VACE_RULES.model_copy(update={"max_side": 1280}),
        architecture=Architecture(transformer_params_b=2.15, dim=1536, ffn_dim=8960, num_layers=30, num_heads=12,
                                  held_activations=len(VACE_BLOCKS["wan2.1-vace-1.3b"].layers)),
        hub_repo="Wan-AI/Wan2.1-VACE-1.3B-diffusers", license="apache-2.0",
        notes=_NOTE + " 480p only [V2]; no commit pinned.",
    ),
    ModelEntry(
        id="wan2.1-vace-14b", family=WAN_VACE, title="Wan 2.1 VACE 14B (video-to-video, references, "
        "inpaint, first/last frame; 480p/720p)", pipelines=VACE_MODES, max_reference_images=MAX_REFERENCE_IMAGES,
        defaults=Defaults(width=1280, height=720, num_frames=81, fps=16, steps=30, guidance_scale=5.0,
                          flow_shift=5.0, flow_shift_by_size=_SHIFTS, negative_prompt=WAN_NEGATIVE_PROMPT),
        rules=VACE_RULES,
        architecture=Architecture(transformer_params_b=17.34, dim=5120, ffn_dim=13824, num_layers=40,
                                  num_heads=40, held_activations=len(VACE_BLOCKS["wan2.1-vace-14b"].layers)),
        hub_repo="Wan-AI/Wan2.1-VACE-14B-diffusers", license="apache-2.0",
        notes=_NOTE + " 480p and 720p [V2]; no commit pinned.",
    ),
]


TINY_MODELS: list[ModelEntry] = [ModelEntry(
    id="tiny-wan-vace", family=WAN_VACE,
    title="Tiny random Wan 2.1 VACE: video-to-video, references, mask, first/last frame (demo/test)",
    pipelines=VACE_MODES, max_reference_images=MAX_REFERENCE_IMAGES,
    defaults=Defaults(width=64, height=64, num_frames=9, fps=16, steps=3, guidance_scale=5.0, flow_shift=2.0),
    rules=VACE_RULES,
    architecture=Architecture(transformer_params_b=0.0001, text_encoder_params_b=0.0001, dim=24, ffn_dim=32,
                              num_layers=2, num_heads=2, text_dim=32),
    tiny=True,
)]
