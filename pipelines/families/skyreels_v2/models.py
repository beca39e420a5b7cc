"""SkyReels-V2 diffusion-forcing (DF) catalog entries and their long-video settings. Torch-free data.

Diffusion forcing denoises a video in overlapping windows of ``base_num_frames``, each conditioned on the
last ``overlap_history`` frames of the one before (lightly re-noised by ``addnoise_condition``), so one call
makes a shot longer than one window, and the video-to-video pipeline continues an existing video the same way.

Published settings:
[S1] diffusers 0.42 pipelines/skyreels_v2/pipeline_skyreels_v2_diffusion_forcing*.py examples and docstrings:
     ``flow_shift = 8.0  # 8.0 for T2V, 5.0 for I2V`` on UniPCMultistepScheduler, guidance 6.0 T2V / 5.0 I2V,
     ``ar_step=0`` (synchronous; 5 with ``causal_block_size=5`` for asynchronous), ``addnoise_condition=20``,
     ``overlap_history`` 17 or 37 recommended, ``base_num_frames`` 97 for 540P / 121 for 720P; repo ids
     ``Skywork/SkyReels-V2-DF-1.3B-540P-Diffusers``, ``-DF-14B-540P-Diffusers``, ``-DF-14B-720P-Diffusers``.
[S2] SkyReels-V2 README (SkyworkAI/SkyReels-V2): DF 1.3B-540P and 14B-540P at 544x960x97f, 14B-720P at
     720x1280x121f; its diffusion-forcing examples run 30 steps, guidance 6.0, shift 8.0, 24 fps,
     ``overlap_history 17``, ``addnoise_condition 20``.
No commit is pinned for any of these repos.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.core.catalog import Architecture, Defaults, Mode, ModelEntry, ShapeRules
from pipelines.families.wan.models import WAN_NEGATIVE_PROMPT

SKYREELS_V2_DF = "skyreels-v2-df"


@dataclass(frozen=True)
class DiffusionForcing:
    """The long-video settings of one checkpoint (diffusers' DF call arguments of the same names)."""

    base_num_frames: int       # frames per window
    overlap_history: int       # frames each window (and an extension) is conditioned on
    addnoise_condition: float  # noise added to the conditioning frames (0-50; 20 published)
    ar_step: int = 0           # 0: synchronous windows; >0 asynchronous (slower)
    causal_block_size: int | None = None  # only with ar_step > 0


DF_MODES = {
    Mode.TEXT_TO_VIDEO: "SkyReelsV2DiffusionForcingPipeline",
    Mode.IMAGE_TO_VIDEO: "SkyReelsV2DiffusionForcingImageToVideoPipeline",
    Mode.FIRST_LAST_FRAME: "SkyReelsV2DiffusionForcingImageToVideoPipeline",
    # Video-to-video here is continuation (the source + new frames), what the extend endpoint runs.
    Mode.VIDEO_TO_VIDEO: "SkyReelsV2DiffusionForcingVideoToVideoPipeline",
}
RULES = ShapeRules(frames_multiple=4, size_multiple=16)

_NOTE = ("Steps 30, guidance 6.0, flow shift 8.0 (text-to-video) on UniPC, 24 fps [S1][S2]; diffusion forcing: "
         "ar_step 0 (synchronous), overlap_history 17, addnoise_condition 20 [S1][S2]. Image modes run the "
         "text-to-video shift and guidance (diffusers suggests 5.0/5.0 for I2V [S1]; a request may override). "
         "Negative prompt: Wan's official default (sample_neg_prompt, [W21]; SkyReels-V2 is built on Wan 2.1). "
         "No commit pinned.")
# Parameters: Wan 2.1's architectures (1.3B: dim 1536, 30 layers; 14B: dim 5120, 40 layers), from [S2].
_SMALL = Architecture(transformer_params_b=1.3, dim=1536, ffn_dim=8960, num_layers=30, num_heads=12)
_LARGE = Architecture(transformer_params_b=14.0, dim=5120, ffn_dim=13824, num_layers=40, num_heads=40)


def _defaults(width: int, height: int, frames: int) -> Defaults:
    return Defaults(width=width, height=height, num_frames=frames, fps=24, steps=30, guidance_scale=6.0,
                    flow_shift=8.0, negative_prompt=WAN_NEGATIVE_PROMPT)


MODELS: list[ModelEntry] = [
    ModelEntry(id="skyreels-v2-df-1.3b-540p", family=SKYREELS_V2_DF,
               title="SkyReels-V2 DF 1.3B 540p (diffusion forcing: long shots, native extend)",
               pipelines=DF_MODES, takes_mask=False,
               defaults=_defaults(960, 544, 97), rules=RULES, architecture=_SMALL,
               hub_repo="Skywork/SkyReels-V2-DF-1.3B-540P-Diffusers", license="other",
               notes=_NOTE + " 544x960x97 [S2]; base_num_frames 97 [S1]."),
    ModelEntry(id="skyreels-v2-df-14b-540p", family=SKYREELS_V2_DF,
               title="SkyReels-V2 DF 14B 540p (diffusion forcing: long shots, native extend)",
               pipelines=DF_MODES, takes_mask=False,
               defaults=_defaults(960, 544, 97), rules=RULES, architecture=_LARGE,
               hub_repo="Skywork/SkyReels-V2-DF-14B-540P-Diffusers", license="other",
               notes=_NOTE + " 544x960x97 [S2]; base_num_frames 97 [S1]."),
    ModelEntry(id="skyreels-v2-df-14b-720p", family=SKYREELS_V2_DF,
               title="SkyReels-V2 DF 14B 720p (diffusion forcing: long shots, native extend)",
               pipelines=DF_MODES, takes_mask=False,
               defaults=_defaults(1280, 720, 121), rules=RULES, architecture=_LARGE,
               hub_repo="Skywork/SkyReels-V2-DF-14B-720P-Diffusers", license="other",
               notes=_NOTE + " 720x1280x121 [S2]; base_num_frames 121 [S1]."),
]

TINY_MODELS: list[ModelEntry] = [ModelEntry(
    id="tiny-skyreels-v2-df", family=SKYREELS_V2_DF,
    title="Tiny random SkyReels-V2 DF: text, image, first+last, native extend (demo/test)",
    pipelines=DF_MODES, takes_mask=False,
    defaults=Defaults(width=64, height=64, num_frames=9, fps=24, steps=2, guidance_scale=6.0, flow_shift=8.0),
    rules=RULES,
    architecture=Architecture(transformer_params_b=0.0001, text_encoder_params_b=0.0001, dim=24, ffn_dim=32,
                              num_layers=2, num_heads=2, text_dim=32),
    tiny=True,
)]

_PUBLISHED_540P = DiffusionForcing(base_num_frames=97, overlap_history=17, addnoise_condition=20.0)
DF_SETTINGS: dict[str, DiffusionForcing] = {
    "skyreels-v2-df-1.3b-540p": _PUBLISHED_540P,
    "skyreels-v2-df-14b-540p": _PUBLISHED_540P,
    "skyreels-v2-df-14b-720p": DiffusionForcing(base_num_frames=121, overlap_history=17, addnoise_condition=20.0),
    # Windows of 9 frames overlapping by 5, so a tiny extension still runs two windows.
    "tiny-skyreels-v2-df": DiffusionForcing(base_num_frames=9, overlap_history=5, addnoise_condition=20.0),
}
