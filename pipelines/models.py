"""The models vidserve knows: published Wan 2.1/2.2 and LTX-Video checkpoints, their step-distilled
variants, and the tiny random-weight models used as demos and test fixtures. Torch-free data;
the types and their rules are in ``pipelines.catalog``."""

from __future__ import annotations

from pipelines.catalog import Architecture, BundledLora, Defaults, Family, Mode, ModelEntry, ShapeRules

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

MODELS: list[ModelEntry] = [
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
TINY_MODELS: list[ModelEntry] = [
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
