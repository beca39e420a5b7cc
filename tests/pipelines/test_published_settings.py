"""The catalog against the settings the model authors and diffusers publish, so an edit cannot drift
silently (issue 14: five entries once ran worse than diffusers' documented usage with no error).

Sources (each entry's ``notes`` cites the same labels):
- [D1] diffusers docs/source/en/api/pipelines/wan.md (guidance 5.0; FLF2V 5.5)
- [D2] diffusers 0.42 pipelines/wan/pipeline_wan.py and pipeline_wan_i2v.py examples:
       ``flow_shift = 5.0  # 5.0 for 720P, 3.0 for 480P``
- [D3] diffusers scripts/convert_wan_to_diffusers.py (flow_shift 16.0 FLF2V, 5.0 TI2V-5B, 3.0 otherwise)
- [D4] diffusers docs/source/en/api/pipelines/ltx_video.md and the pipeline_ltx*.py examples
       (decode_timestep 0.05, decode_noise_scale 0.025, image_cond_noise_scale 0.025 for 0.9.1+; distilled
       0.9.7/0.9.8: guidance 1.0, the 8-step schedule, image_cond_noise_scale 0.0; negative prompt)
- [W21] Wan2.1 wan/configs/shared_config.py ``sample_neg_prompt``; wan/configs/__init__.py: the I2V 14B
       config prepends "镜头晃动，"
- [W22] Wan2.2 wan/configs/wan_t2v_A14B.py (sample_shift 12.0, 40 steps, sample_guide_scale (3.0, 4.0)
       = (low noise, high noise)) and wan_i2v_A14B.py (5.0, 40 steps, (3.5, 3.5))
- [X1] diffusers 0.42.1 pipelines/ltx2: the LTX2Pipeline example (768x512, 121 frames @ 24, 30 steps, guidance
       3.0, its negative prompt), repo ids in the docstrings, utils.DISTILLED_SIGMA_VALUES (8 steps, CFG 1)
- [V1] diffusers 0.42 pipelines/wan/pipeline_wan_vace.py example: 30 steps, guidance 5.0, 16 fps,
       ``flow_shift = 3.0  # 5.0 for 720P, 3.0 for 480P``; [V2] Wan2.1 README: VACE-1.3B 480p, VACE-14B 480p/720p
- [S1] diffusers 0.42 pipelines/skyreels_v2/pipeline_skyreels_v2_diffusion_forcing*.py examples and docstrings
       (``flow_shift = 8.0  # 8.0 for T2V``, guidance 6.0 T2V, ar_step 0, addnoise_condition 20, overlap_history
       17 or 37, base_num_frames 97 for 540P / 121 for 720P, the three ``-Diffusers`` repo ids);
       [S2] SkyReels-V2 README: DF 540P 544x960x97f, 720P 720x1280x121f; 30 steps, guidance 6, shift 8, 24 fps
- [L1] LightX2V: 4 steps, no CFG, sample_shift 5 (the lightx2v model cards and configs);
       Wan2.2-Lightning V1.1: 4 steps, no CFG, shift 5
- [H1] diffusers 0.42 pipelines/hunyuan_video1_5 (50 steps and 121 frames as the call defaults) and
       docs/source/en/api/pipelines/hunyuan_video15.md (the guider's guidance_scale 6.0); [H2] the HunyuanVideo 1.5
       model card (480p/720p T2V and I2V, 24 fps); [H3] the HunyuanVideo 1.5 README's "Optimal Inference
       Configurations" (CFG scale / flow shift / steps per checkpoint, CFG- and step-distilled included) and its
       Diffusers usage (``hunyuanvideo-community/HunyuanVideo-1.5-Diffusers-720p_t2v``); [H4] diffusers
       scripts/convert_hunyuan_video1_5_to_diffusers.py (the shift and guidance each converted repo ships)
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from pipelines.families import default_catalog
from pipelines.families.ltx2.models import LTX2_NEGATIVE_PROMPT
from pipelines.families.ltx_video import LTX_VIDEO
from pipelines.families.ltx_video.models import LTX_DISTILLED_TIMESTEPS, LTX_NEGATIVE_PROMPT
from pipelines.families.skyreels_v2.models import DF_SETTINGS, DiffusionForcing
from pipelines.families.wan.models import WAN_I2V_NEGATIVE_PROMPT, WAN_NEGATIVE_PROMPT

CATALOG = default_catalog()


@dataclass(frozen=True)
class Published:
    model: str
    size: tuple[int, int]
    frames: int
    fps: int
    steps: int
    guidance: float
    guidance_2: float | None
    flow_shift: float | None          # at the default size; None: the scheduler's own (LTX)
    shift_by_size: dict[tuple[int, int], float]
    decode: tuple[float, float, float] | None  # decode_timestep, decode_noise_scale, image_cond_noise_scale
    negative_prompt: str
    sources: str


_480, _720 = (832, 480), (1280, 720)
_WAN21 = {_480: 3.0, _720: 5.0}
_HV480 = (848, 480)
PUBLISHED = [
    Published("wan2.1-t2v-1.3b", _480, 81, 16, 50, 5.0, None, 3.0, {}, None, WAN_NEGATIVE_PROMPT, "D1 D2 D3 W21"),
    Published("wan2.1-t2v-14b", _720, 81, 16, 50, 5.0, None, 5.0, _WAN21, None, WAN_NEGATIVE_PROMPT, "D1 D2 W21"),
    Published("wan2.1-i2v-14b-480p", _480, 81, 16, 40, 5.0, None, 3.0, _WAN21, None, WAN_I2V_NEGATIVE_PROMPT,
              "D1 D2 W21"),
    Published("wan2.1-i2v-14b-720p", _720, 81, 16, 40, 5.0, None, 5.0, _WAN21, None, WAN_I2V_NEGATIVE_PROMPT,
              "D1 D2 W21"),
    Published("wan2.1-flf2v-14b-720p", _720, 81, 16, 50, 5.5, None, 16.0, {}, None, WAN_NEGATIVE_PROMPT,
              "D1 D3 W21"),
    Published("wan2.2-ti2v-5b", (1280, 704), 121, 24, 50, 5.0, None, 5.0, {}, None, WAN_NEGATIVE_PROMPT, "D3 W21"),
    Published("wan2.2-t2v-a14b", _720, 81, 16, 40, 4.0, 3.0, 12.0, {}, None, WAN_NEGATIVE_PROMPT, "W22 W21"),
    Published("wan2.2-i2v-a14b", _720, 81, 16, 40, 3.5, 3.5, 5.0, {}, None, WAN_NEGATIVE_PROMPT, "W22 W21"),
    Published("ltx-video-2b-0.9.5", (768, 512), 121, 24, 40, 3.0, None, None, {}, (0.05, 0.025, 0.025),
              LTX_NEGATIVE_PROMPT, "D4"),
    Published("ltx-video-13b-0.9.7-distilled", (1216, 704), 121, 24, 8, 1.0, None, None, {}, (0.05, 0.025, 0.0),
              "", "D4"),
    Published("ltx-video-13b-0.9.8-distilled", (1216, 704), 121, 24, 8, 1.0, None, None, {}, (0.05, 0.025, 0.0),
              "", "D4"),
    # No CFG pass, so no negative prompt is encoded.
    Published("wan2.1-t2v-14b-lightx2v-4step", _480, 81, 16, 4, 1.0, None, 5.0, {}, None, "", "L1"),
    Published("wan2.1-i2v-14b-480p-lightx2v-4step", _480, 81, 16, 4, 1.0, None, 5.0, {}, None, "", "L1"),
    Published("wan2.2-t2v-a14b-lightning-4step", _720, 81, 16, 4, 1.0, 1.0, 5.0, {}, None, "", "L1"),
    Published("ltx-2-19b", (768, 512), 121, 24, 30, 3.0, None, None, {}, None, LTX2_NEGATIVE_PROMPT, "X1"),
    Published("ltx-2.3-distilled", (768, 512), 121, 24, 8, 1.0, None, None, {}, None, "", "X1"),
    Published("wan2.1-vace-1.3b", _480, 81, 16, 30, 5.0, None, 3.0, {}, None, WAN_NEGATIVE_PROMPT, "V1 V2 W21"),
    Published("wan2.1-vace-14b", _720, 81, 16, 30, 5.0, None, 5.0, _WAN21, None, WAN_NEGATIVE_PROMPT, "V1 V2 W21"),
    Published("skyreels-v2-df-1.3b-540p", (960, 544), 97, 24, 30, 6.0, None, 8.0, {}, None, WAN_NEGATIVE_PROMPT,
              "S1 S2 W21"),
    Published("skyreels-v2-df-14b-540p", (960, 544), 97, 24, 30, 6.0, None, 8.0, {}, None, WAN_NEGATIVE_PROMPT,
              "S1 S2 W21"),
    Published("skyreels-v2-df-14b-720p", _720, 121, 24, 30, 6.0, None, 8.0, {}, None, WAN_NEGATIVE_PROMPT,
              "S1 S2 W21"),
    # [H3]: 480p 6 / shift 5 / 50; 720p T2V shift 9, I2V 7; CFG-distilled guidance 1 at 50 steps; the 480p I2V
    # step-distilled guidance 1, shift 7, "8 or 12 (recommended)" steps.
    *(Published(model, size, 121, 24, steps, guidance, None, shift, {}, None, "", "H1 H2 H3 H4")
      for model, size, steps, guidance, shift in (
          ("hunyuanvideo1.5-480p-t2v", _HV480, 50, 6.0, 5.0),
          ("hunyuanvideo1.5-480p-i2v", _HV480, 50, 6.0, 5.0),
          ("hunyuanvideo1.5-720p-t2v", _720, 50, 6.0, 9.0),
          ("hunyuanvideo1.5-720p-i2v", _720, 50, 6.0, 7.0),
          ("hunyuanvideo1.5-480p-t2v-cfg-distilled", _HV480, 50, 1.0, 5.0),
          ("hunyuanvideo1.5-480p-i2v-cfg-distilled", _HV480, 50, 1.0, 5.0),
          ("hunyuanvideo1.5-720p-i2v-cfg-distilled", _720, 50, 1.0, 7.0),
          ("hunyuanvideo1.5-480p-i2v-step-distilled", _HV480, 12, 1.0, 7.0),
      )),
]

# HunyuanVideo 1.5's Diffusers-format repos: hunyuanvideo-community's ``HunyuanVideo-1.5-Diffusers-<checkpoint>``
# [H1] [H3]; two pinned to the commits public code pins them to, the others resolved at pull time.
PUBLISHED_HV_REPOS = {
    "hunyuanvideo1.5-480p-t2v": ("480p_t2v", "main"),
    "hunyuanvideo1.5-480p-i2v": ("480p_i2v", "main"),
    "hunyuanvideo1.5-720p-t2v": ("720p_t2v", "main"),
    "hunyuanvideo1.5-720p-i2v": ("720p_i2v", "dcf088ef4e420dd54bc25930ee810bb6613dfcb5"),
    "hunyuanvideo1.5-480p-t2v-cfg-distilled": ("480p_t2v_distilled", "main"),
    "hunyuanvideo1.5-480p-i2v-cfg-distilled": ("480p_i2v_distilled", "main"),
    "hunyuanvideo1.5-720p-i2v-cfg-distilled": ("720p_i2v_distilled", "main"),
    "hunyuanvideo1.5-480p-i2v-step-distilled": ("480p_i2v_step_distilled", "854c04a4c8a53d990b418c7478f0802c0fc8c726"),
}

# SkyReels-V2 diffusion forcing's window settings [S1][S2]: base_num_frames, overlap_history, addnoise_condition,
# ar_step (synchronous).
PUBLISHED_DF = {
    "skyreels-v2-df-1.3b-540p": DiffusionForcing(base_num_frames=97, overlap_history=17, addnoise_condition=20.0),
    "skyreels-v2-df-14b-540p": DiffusionForcing(base_num_frames=97, overlap_history=17, addnoise_condition=20.0),
    "skyreels-v2-df-14b-720p": DiffusionForcing(base_num_frames=121, overlap_history=17, addnoise_condition=20.0),
}


def test_every_published_model_is_in_the_table() -> None:
    assert sorted(p.model for p in PUBLISHED) == sorted(e.id for e in CATALOG.entries() if not e.tiny)


@pytest.mark.parametrize("pub", PUBLISHED, ids=lambda p: p.model)
def test_catalog_matches_published(pub: Published) -> None:
    entry = CATALOG.get(pub.model)
    assert entry is not None
    d = entry.defaults
    assert ((d.width, d.height), d.num_frames, d.fps, d.steps) == (pub.size, pub.frames, pub.fps, pub.steps)
    assert (d.guidance_scale, d.guidance_scale_2) == (pub.guidance, pub.guidance_2)
    assert d.flow_shift == pub.flow_shift
    assert entry.flow_shift_for(*pub.size) == pub.flow_shift
    for (w, h), shift in pub.shift_by_size.items():
        assert entry.flow_shift_for(w, h) == shift, f"{pub.model} at {w}x{h}"
    got_decode = (d.decode_timestep, d.decode_noise_scale, d.image_cond_noise_scale)
    assert got_decode == (pub.decode or (None, None, None))
    assert d.negative_prompt == pub.negative_prompt
    if entry.family == LTX_VIDEO and entry.distilled:
        assert d.timesteps == LTX_DISTILLED_TIMESTEPS
    for label in pub.sources.split():
        assert f"[{label}]" in entry.notes, f"{pub.model}: notes do not cite [{label}]"


@pytest.mark.parametrize("model", sorted(PUBLISHED_DF))
def test_diffusion_forcing_settings_match_published(model: str) -> None:
    assert DF_SETTINGS[model] == PUBLISHED_DF[model]
    assert DF_SETTINGS[model].ar_step == 0 and DF_SETTINGS[model].causal_block_size is None
    entry = CATALOG.get(model)
    assert entry is not None and entry.hub_repo is not None and entry.hub_repo.endswith("-Diffusers")
    # One window holds the default shot; the overlap is a whole number of latent frames (4k+1).
    assert DF_SETTINGS[model].base_num_frames == entry.defaults.num_frames
    assert DF_SETTINGS[model].overlap_history % 4 == 1


@pytest.mark.parametrize("model", sorted(PUBLISHED_HV_REPOS))
def test_hunyuan_repos_and_pins(model: str) -> None:
    entry = CATALOG.get(model)
    assert entry is not None
    checkpoint, revision = PUBLISHED_HV_REPOS[model]
    assert (entry.hub_repo, entry.revision) == (f"hunyuanvideo-community/HunyuanVideo-1.5-Diffusers-{checkpoint}",
                                                revision)
    assert entry.distilled == ("distilled" in checkpoint)
    # the step-distilled checkpoint is image-to-video only, on the I2V pipeline (its MeanFlow timestep_r)
    assert set(entry.pipelines.values()) == {"HunyuanVideo15ImageToVideoPipeline" if "i2v" in checkpoint
                                             else "HunyuanVideo15Pipeline"}


def test_wan21_size_classes_pick_the_nearest_pixel_count() -> None:
    entry = CATALOG.get("wan2.1-t2v-14b")
    assert entry is not None
    assert entry.flow_shift_for(480, 832) == 3.0       # portrait 480p
    assert entry.flow_shift_for(720, 1280) == 5.0      # portrait 720p
    assert entry.flow_shift_for(960, 544) == 3.0       # nearer 480p's pixel count than 720p's
    assert entry.flow_shift_for(1104, 624) == 5.0
