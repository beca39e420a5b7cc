"""LTX-Video 0.9.x catalog entries: the published checkpoints, the timestep-distilled ones, and the
tiny random-weight models. Torch-free data; the types and their rules are in ``pipelines.core.catalog``."""

from __future__ import annotations

from pipelines.core.catalog import Architecture, Defaults, Mode, ModelEntry, ShapeRules

# The family's names (``ModelEntry.family``); the adapter serves these.
LTX_VIDEO = "ltx-video"

_LTX_RULES = ShapeRules(frames_multiple=8, size_multiple=32)

_LTX_ALL = {
    Mode.TEXT_TO_VIDEO: "LTXPipeline",
    Mode.IMAGE_TO_VIDEO: "LTXConditionPipeline",
    Mode.FIRST_LAST_FRAME: "LTXConditionPipeline",
}

LTX_NEGATIVE_PROMPT = "worst quality, inconsistent motion, blurry, jittery, distorted"

_LTX_13B = Architecture(
    transformer_params_b=13.0, dim=4096, ffn_dim=16384, num_layers=48, num_heads=32,
    vae_spatial=32, vae_temporal=8, latent_channels=128, patch=(1, 1, 1), text_encoder_params_b=4.8,
)

# Timestep-distilled LTX runs every mode on LTXConditionPipeline (see TIMESTEP_PIPELINES).
_LTX_COND_ALL = {m: "LTXConditionPipeline" for m in (Mode.TEXT_TO_VIDEO, Mode.IMAGE_TO_VIDEO, Mode.FIRST_LAST_FRAME)}

# diffusers' LTX docs, "LTX-Video 0.9.7 distilled" and "0.9.8 distilled" examples (first pass, before the
# optional latent upscale): guidance 1.0 and this 8-step schedule.
LTX_DISTILLED_TIMESTEPS = (1000.0, 993.0, 987.0, 981.0, 975.0, 909.0, 725.0, 0.03)

_LTX_DISTILLED_DEFAULTS = Defaults(width=1216, height=704, num_frames=121, fps=24, steps=8, guidance_scale=1.0,
                                   timesteps=LTX_DISTILLED_TIMESTEPS, decode_timestep=0.05,
                                   decode_noise_scale=0.025, image_cond_noise_scale=0.0)

_LTX_DISTILLED_NOTE = (
    "Guidance- and timestep-distilled: guidance 1.0 and the published 8-step schedule; decode_timestep 0.05, "
    "decode_noise_scale 0.025, image_cond_noise_scale 0.0 [D4]. No negative prompt (no CFG pass). Flow shift: "
    "the scheduler's own resolution-dependent shift. "
    "Other step counts run LTXConditionPipeline's default schedule (diffusers suggests 4-10 steps); vidserve "
    "runs one pass, without the optional latent upscale + refine pass."
)

# Tiny random-weight models: the same diffusers classes at toy sizes, built locally by
# `vidserve weights make-tiny`. They serve as demo models and as the CPU test fixtures.
_TINY_ARCH = Architecture(transformer_params_b=0.0001, text_encoder_params_b=0.0001, dim=24, ffn_dim=32,
                          num_layers=2, num_heads=2, text_dim=32)

_TINY_LTX = Defaults(width=64, height=64, num_frames=9, fps=24, steps=4, guidance_scale=3.0, decode_timestep=0.05,
                     decode_noise_scale=0.025, image_cond_noise_scale=0.025)

_TINY_LTX_ARCH = _TINY_ARCH.model_copy(update={
    "vae_spatial": 32, "vae_temporal": 8, "latent_channels": 8, "patch": (1, 1, 1), "dim": 32, "ffn_dim": 128,
    "num_layers": 2, "num_heads": 4,
})


MODELS: list[ModelEntry] = [
    ModelEntry(
        id="ltx-video-2b-0.9.5",
        family=LTX_VIDEO,
        title="LTX-Video 2B 0.9.5",
        pipelines=_LTX_ALL,
        defaults=Defaults(width=768, height=512, num_frames=121, fps=24, steps=40, guidance_scale=3.0,
                          negative_prompt=LTX_NEGATIVE_PROMPT, decode_timestep=0.05, decode_noise_scale=0.025,
                          image_cond_noise_scale=0.025),
        rules=_LTX_RULES,
        architecture=Architecture(
            transformer_params_b=1.9, dim=2048, ffn_dim=8192, num_layers=28, num_heads=32,
            vae_spatial=32, vae_temporal=8, latent_channels=128, patch=(1, 1, 1), text_encoder_params_b=4.8,
        ),
        hub_repo="Lightricks/LTX-Video-0.9.5",
        license="ltxv-open-weights",
        notes="decode_timestep 0.05 (docs' examples also use 0.03), decode_noise_scale 0.025 for 0.9.1+ VAEs, "
        "image_cond_noise_scale 0.025 for image conditioning (LTXConditionPipeline's own default is 0.15), guidance "
        "3.0 (examples go up to 5.0), negative prompt from the pipeline examples [D4]. Flow shift: the scheduler's "
        "own resolution-dependent shift.",
    ),
    ModelEntry(
        id="ltx-video-13b-0.9.7-distilled",
        family=LTX_VIDEO,
        title="LTX-Video 13B 0.9.7 distilled (8 steps, no CFG)",
        pipelines=_LTX_COND_ALL,
        defaults=_LTX_DISTILLED_DEFAULTS,
        rules=_LTX_RULES,
        architecture=_LTX_13B,
        hub_repo="Lightricks/LTX-Video-0.9.7-distilled",
        license="ltxv-open-weights",
        distilled=True,
        notes=_LTX_DISTILLED_NOTE,
    ),
    ModelEntry(
        id="ltx-video-13b-0.9.8-distilled",
        family=LTX_VIDEO,
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
    ),
]

TINY_MODELS: list[ModelEntry] = [
    ModelEntry(
        id="tiny-ltx-video",
        family=LTX_VIDEO,
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
        family=LTX_VIDEO,
        title="Tiny random LTX-Video run like a timestep-distilled one: 4-step schedule, no CFG (demo/test)",
        pipelines=_LTX_COND_ALL,
        defaults=_TINY_LTX.model_copy(update={"guidance_scale": 1.0, "timesteps": (1000.0, 909.0, 725.0, 0.03),
                                              "image_cond_noise_scale": 0.0}),
        rules=_LTX_RULES,
        architecture=_TINY_LTX_ARCH,
        base_model="tiny-ltx-video",
        tiny=True,
        distilled=True,
    ),
]
