"""Wan 2.1 and Wan 2.2 catalog entries: the published checkpoints, their LoRA step-distillations, and
the tiny random-weight models. Torch-free data; the types and their rules are in ``pipelines.core.catalog``."""

from __future__ import annotations

from pipelines.core.catalog import Architecture, BundledLora, Defaults, Mode, ModelEntry, ShapeRules, SizeShift

# The family's names (``ModelEntry.family``); the adapter serves these.
WAN21 = "wan2.1"
WAN22 = "wan2.2"

_WAN_RULES = ShapeRules(frames_multiple=4, size_multiple=16)

_WAN22_5B_RULES = ShapeRules(frames_multiple=4, size_multiple=32)

_WAN_T2V = {Mode.TEXT_TO_VIDEO: "WanPipeline"}

_WAN_I2V = {Mode.IMAGE_TO_VIDEO: "WanImageToVideoPipeline"}

# Wan 2.1 FLF2V's image embedder is trained on two CLIP embeddings (first and last), so it serves
# first+last frame only; Wan 2.1 I2V takes one. Wan 2.2 has no image encoder and serves both.
_WAN_FLF = {Mode.FIRST_LAST_FRAME: "WanImageToVideoPipeline"}

_WAN_I2V_FLF = {
    Mode.IMAGE_TO_VIDEO: "WanImageToVideoPipeline",
    Mode.FIRST_LAST_FRAME: "WanImageToVideoPipeline",
}

# Sources of the published settings (cited in each entry's notes and in tests/pipelines/test_published_settings.py):
# [D1] diffusers docs/source/en/api/pipelines/wan.md; [D2] diffusers 0.42 pipeline_wan.py / pipeline_wan_i2v.py
# examples (``flow_shift = 5.0  # 5.0 for 720P, 3.0 for 480P``; guidance 5.0); [D3] diffusers
# scripts/convert_wan_to_diffusers.py (flow_shift 16.0 FLF2V, 5.0 TI2V-5B, 3.0 otherwise); [D4] diffusers
# docs/source/en/api/pipelines/ltx_video.md and the pipeline_ltx*.py examples; [W21] Wan2.1
# wan/configs/shared_config.py and __init__.py (``sample_neg_prompt``; I2V 14B prepends "镜头晃动，");
# [W22] Wan2.2 wan/configs/wan_t2v_A14B.py, wan_i2v_A14B.py (sample_shift, sample_guide_scale
# = (low noise, high noise), boundary).
WAN_NEGATIVE_PROMPT = (
    "色调艳丽，过曝，静态，细节模糊不清，字幕，风格，作品，画作，画面，静止，整体发灰，最差质量，低质量，JPEG压缩残留，"
    "丑陋的，残缺的，多余的手指，画得不好的手部，画得不好的脸部，畸形的，毁容的，形态畸形的肢体，手指融合，静止不动的画面，"
    "杂乱的背景，三条腿，背景人很多，倒着走"
)

WAN_I2V_NEGATIVE_PROMPT = "镜头晃动，" + WAN_NEGATIVE_PROMPT

_WAN_NEG_NOTE = ("Negative prompt: Wan's official default (sample_neg_prompt, [W21]; diffusers' examples use its "
                 "English translation).")

# Wan 2.1: the shift is published per size class [D2], not per checkpoint: 3.0 at 480p, 5.0 at 720p.
_WAN21_SHIFTS = (SizeShift(name="480p", width=832, height=480, flow_shift=3.0),
                 SizeShift(name="720p", width=1280, height=720, flow_shift=5.0))

_WAN21_SHIFT_NOTE = ("Flow shift by size class, nearest pixel count: 3.0 at 480p, 5.0 at 720p ([D2] "
                     "`flow_shift = 5.0  # 5.0 for 720P, 3.0 for 480P`).")

_WAN_1_3B = Architecture(transformer_params_b=1.3, dim=1536, ffn_dim=8960, num_layers=30, num_heads=12)

_WAN_14B = Architecture(transformer_params_b=14.0, dim=5120, ffn_dim=13824, num_layers=40, num_heads=40)

_WAN_14B_I2V = _WAN_14B.model_copy(update={"image_encoder": True})

_WAN_A14B = _WAN_14B.model_copy(update={"experts": 2})

# What the bundled-LoRA entries' files look like to diffusers 0.42 (read from its source,
# loaders/lora_conversion_utils.py `_convert_non_diffusers_wan_lora_to_diffusers`, reached from
# WanLoraLoaderMixin.lora_state_dict for any key starting `diffusion_model.`): it maps
# `blocks.N.{self_attn,cross_attn}.{q,k,v,o}`, `cross_attn.{k_img,v_img}`, `ffn.{0,2}` (`lora_down`/`lora_up` or
# `lora_A`/`lora_B`, `.alpha`, `.diff_b`), `time_projection`, `head.head` (PR #12541 added `head.head.diff`), and
# `text_embedding`/`time_embedding`/`img_emb`; norm `.diff` keys and any other leftover `*.diff*` key (e.g. the
# `blocks.N.diff_m` modulation deltas reported in lightx2v's rank-64 I2V file, kijai/ComfyUI-WanVideoWrapper
# issue #807) are dropped with only an info log, and anything else raises. PEFT then only warns about converted
# keys the model lacks. vidserve runs that converter over probe tensors before loading the base weights
# (pipelines.distill.check_bundled_loras) and refuses a file any of whose keys would be lost, naming them.
_LORA_KEYS_NOTE = (
    " Key mapping: checked at load against diffusers' own converter and the base weights' parameter names; a file "
    "with keys diffusers would drop (e.g. `blocks.N.diff_m`) or that name no module is refused, naming the keys. "
    "Unverified here (no file at hand): which keys the published file carries (diffusers issue #12147, PR #12541)."
)

_LIGHTX2V_NOTE = (
    "LightX2V step+CFG distillation LoRA (rank 64) from the file LightX2V's docs name [L1]: 4 steps, no CFG "
    "(enable_cfg false), denoising_step_list [1000, 750, 500, 250] at sample_shift 5, so flow_shift 5.0 and "
    "guidance 1.0 (no negative prompt: there is no CFG pass). Assumed, not verified here: the quality of "
    "diffusers' UniPC solver at flow_shift 5, whose four timesteps (about [1000, 937, 833, 625]) are our reading "
    "of that list shifted by 5; LightX2V itself samples with an LCM-style scheduler." + _LORA_KEYS_NOTE
)

# Tiny random-weight models: the same diffusers classes at toy sizes, built locally by
# `vidserve weights make-tiny`. They serve as demo models and as the CPU test fixtures.
_TINY_ARCH = Architecture(transformer_params_b=0.0001, text_encoder_params_b=0.0001, dim=24, ffn_dim=32,
                          num_layers=2, num_heads=2, text_dim=32)

# The tiny Wan weights' scheduler has shift 3.0; the catalog's tiny shifts differ from it on purpose, so a test
# sees whether the catalog's value (not the weights') reaches the scheduler. tiny-wan2.1-t2v has two size
# classes like Wan 2.1 14B.
_TINY_WAN = Defaults(width=64, height=64, num_frames=9, fps=16, steps=4, guidance_scale=5.0, flow_shift=2.0)

_TINY_WAN_SIZED = _TINY_WAN.model_copy(update={"flow_shift_by_size": (
    SizeShift(name="64px", width=64, height=64, flow_shift=2.0),
    SizeShift(name="128px", width=128, height=128, flow_shift=4.0),
)})


MODELS: list[ModelEntry] = [
    ModelEntry(
        id="wan2.1-t2v-1.3b",
        family=WAN21,
        title="Wan 2.1 text-to-video 1.3B (480p)",
        pipelines=_WAN_T2V,
        defaults=Defaults(width=832, height=480, num_frames=81, fps=16, steps=50, guidance_scale=5.0,
                          negative_prompt=WAN_NEGATIVE_PROMPT, flow_shift=3.0),
        rules=_WAN_RULES,
        architecture=_WAN_1_3B,
        hub_repo="Wan-AI/Wan2.1-T2V-1.3B-Diffusers",
        revision="0fad780a534b6463e45facd96134c9f345acfa5b",
        license="apache-2.0",
        notes="480p model: flow shift 3.0 ([D2], [D3]), guidance 5.0 [D1], 50 steps. " + _WAN_NEG_NOTE,
    ),
    ModelEntry(
        id="wan2.1-t2v-14b",
        family=WAN21,
        title="Wan 2.1 text-to-video 14B (480p/720p)",
        pipelines=_WAN_T2V,
        defaults=Defaults(width=1280, height=720, num_frames=81, fps=16, steps=50, guidance_scale=5.0,
                          negative_prompt=WAN_NEGATIVE_PROMPT, flow_shift=5.0, flow_shift_by_size=_WAN21_SHIFTS),
        rules=_WAN_RULES,
        architecture=_WAN_14B,
        hub_repo="Wan-AI/Wan2.1-T2V-14B-Diffusers",
        license="apache-2.0",
        notes=_WAN21_SHIFT_NOTE + " Guidance 5.0 [D1], 50 steps. " + _WAN_NEG_NOTE,
    ),
    ModelEntry(
        id="wan2.1-i2v-14b-480p",
        family=WAN21,
        title="Wan 2.1 image-to-video 14B, 480p",
        pipelines=_WAN_I2V,
        defaults=Defaults(width=832, height=480, num_frames=81, fps=16, steps=40, guidance_scale=5.0,
                          negative_prompt=WAN_I2V_NEGATIVE_PROMPT, flow_shift=3.0, flow_shift_by_size=_WAN21_SHIFTS),
        rules=_WAN_RULES,
        architecture=_WAN_14B_I2V,
        hub_repo="Wan-AI/Wan2.1-I2V-14B-480P-Diffusers",
        license="apache-2.0",
        notes=_WAN21_SHIFT_NOTE + " Guidance 5.0 [D1], 40 steps (our choice; Wan2.1's I2V config samples 40). "
        "VAE and image encoder run in float32. Negative prompt: Wan's official I2V default (\"镜头晃动，\" + "
        "sample_neg_prompt, [W21]).",
    ),
    ModelEntry(
        id="wan2.1-i2v-14b-720p",
        family=WAN21,
        title="Wan 2.1 image-to-video 14B, 720p",
        pipelines=_WAN_I2V,
        defaults=Defaults(width=1280, height=720, num_frames=81, fps=16, steps=40, guidance_scale=5.0,
                          negative_prompt=WAN_I2V_NEGATIVE_PROMPT, flow_shift=5.0, flow_shift_by_size=_WAN21_SHIFTS),
        rules=_WAN_RULES,
        architecture=_WAN_14B_I2V,
        hub_repo="Wan-AI/Wan2.1-I2V-14B-720P-Diffusers",
        license="apache-2.0",
        notes=_WAN21_SHIFT_NOTE + " Guidance 5.0 [D1], 40 steps. VAE and image encoder run in float32. Negative "
        "prompt: Wan's official I2V default (\"镜头晃动，\" + sample_neg_prompt, [W21]).",
    ),
    ModelEntry(
        id="wan2.1-flf2v-14b-720p",
        family=WAN21,
        title="Wan 2.1 first+last-frame-to-video 14B, 720p",
        pipelines=_WAN_FLF,
        defaults=Defaults(width=1280, height=720, num_frames=81, fps=16, steps=50, guidance_scale=5.5,
                          negative_prompt=WAN_NEGATIVE_PROMPT, flow_shift=16.0),
        rules=_WAN_RULES,
        architecture=_WAN_14B_I2V,
        hub_repo="Wan-AI/Wan2.1-FLF2V-14B-720P-diffusers",
        revision="17c30769b1e0b5dcaa1799b117bf20a9c31f59d7",
        license="apache-2.0",
        notes="Flow shift 16.0 (the scheduler config [D3] writes for FLF2V), guidance 5.5 [D1], 50 steps. The hub "
        "repo id ends in lower-case `-diffusers`. " + _WAN_NEG_NOTE,
    ),
    ModelEntry(
        id="wan2.2-ti2v-5b",
        family=WAN22,
        title="Wan 2.2 text+image-to-video 5B (720p, 24 fps)",
        pipelines={Mode.TEXT_TO_VIDEO: "WanPipeline", Mode.IMAGE_TO_VIDEO: "WanImageToVideoPipeline"},
        defaults=Defaults(width=1280, height=704, num_frames=121, fps=24, steps=50, guidance_scale=5.0,
                          negative_prompt=WAN_NEGATIVE_PROMPT, flow_shift=5.0),
        rules=_WAN22_5B_RULES,
        architecture=Architecture(
            transformer_params_b=5.0, dim=3072, ffn_dim=14336, num_layers=30, num_heads=24,
            vae_spatial=16, latent_channels=48,
        ),
        hub_repo="Wan-AI/Wan2.2-TI2V-5B-Diffusers",
        license="apache-2.0",
        notes="Flow shift 5.0 [D3], guidance 5.0, 50 steps, 1280x704, 121 frames at 24 fps. " + _WAN_NEG_NOTE,
    ),
    ModelEntry(
        id="wan2.2-t2v-a14b",
        family=WAN22,
        title="Wan 2.2 text-to-video A14B (two experts)",
        pipelines=_WAN_T2V,
        defaults=Defaults(
            width=1280, height=720, num_frames=81, fps=16, steps=40, guidance_scale=4.0, guidance_scale_2=3.0,
            negative_prompt=WAN_NEGATIVE_PROMPT, flow_shift=12.0,
        ),
        rules=_WAN_RULES,
        architecture=_WAN_A14B,
        hub_repo="Wan-AI/Wan2.2-T2V-A14B-Diffusers",
        revision="5be7df9619b54f4e2667b2755bc6a756675b5cd7",
        license="apache-2.0",
        notes="Wan2.2's official T2V-A14B config [W22]: sample_shift 12.0, 40 steps, sample_guide_scale (3.0, 4.0) "
        "= (low noise, high noise), so guidance_scale 4.0 (high-noise expert, `transformer`) and guidance_scale_2 3.0 "
        "(low-noise, `transformer_2`); boundary 0.875 comes from the weights' model_index.json. " + _WAN_NEG_NOTE,
    ),
    ModelEntry(
        id="wan2.2-i2v-a14b",
        family=WAN22,
        title="Wan 2.2 image-to-video A14B (two experts; first+last frame too)",
        pipelines=_WAN_I2V_FLF,
        defaults=Defaults(
            width=1280, height=720, num_frames=81, fps=16, steps=40, guidance_scale=3.5, guidance_scale_2=3.5,
            negative_prompt=WAN_NEGATIVE_PROMPT, flow_shift=5.0,
        ),
        rules=_WAN_RULES,
        architecture=_WAN_A14B,
        hub_repo="Wan-AI/Wan2.2-I2V-A14B-Diffusers",
        revision="596658fd9ca6b7b71d5057529bbf319ecbc61d74",
        license="apache-2.0",
        notes="Wan2.2's official I2V-A14B config [W22]: sample_shift 5.0, 40 steps, sample_guide_scale (3.5, 3.5); "
        "boundary 0.9 comes from the weights' model_index.json. " + _WAN_NEG_NOTE,
    ),
    # LoRA distillations: a base entry's weights with a published distillation LoRA fused in at load.
    ModelEntry(
        id="wan2.1-t2v-14b-lightx2v-4step",
        family=WAN21,
        title="Wan 2.1 text-to-video 14B + LightX2V step/CFG-distill LoRA (4 steps, no CFG)",
        pipelines=_WAN_T2V,
        defaults=Defaults(width=832, height=480, num_frames=81, fps=16, steps=4, guidance_scale=1.0, flow_shift=5.0),
        rules=_WAN_RULES,
        architecture=_WAN_14B,
        base_model="wan2.1-t2v-14b",
        bundled_loras=(BundledLora(
            repo="lightx2v/Wan2.1-T2V-14B-StepDistill-CfgDistill-Lightx2v",
            file="loras/Wan21_T2V_14B_lightx2v_cfg_step_distill_lora_rank64.safetensors",
        ),),
        license="apache-2.0",
        distilled=True,
        notes=_LIGHTX2V_NOTE + " The 832x480 default is our choice, not a published one.",
    ),
    ModelEntry(
        id="wan2.1-i2v-14b-480p-lightx2v-4step",
        family=WAN21,
        title="Wan 2.1 image-to-video 14B 480p + LightX2V step/CFG-distill LoRA (4 steps, no CFG)",
        pipelines=_WAN_I2V,
        defaults=Defaults(width=832, height=480, num_frames=81, fps=16, steps=4, guidance_scale=1.0, flow_shift=5.0),
        rules=_WAN_RULES,
        architecture=_WAN_14B_I2V,
        base_model="wan2.1-i2v-14b-480p",
        bundled_loras=(BundledLora(
            repo="lightx2v/Wan2.1-I2V-14B-480P-StepDistill-CfgDistill-Lightx2v",
            file="loras/Wan21_I2V_14B_lightx2v_cfg_step_distill_lora_rank64.safetensors",
        ),),
        license="apache-2.0",
        distilled=True,
        notes=_LIGHTX2V_NOTE + " diffusers PR #12040 ran this base with Kijai/WanVideo_comfy's repackaging of "
        "this LoRA (Lightx2v/lightx2v_I2V_14B_480p_cfg_step_distill_rank128_bf16.safetensors) at 4 steps, "
        "guidance 1.0.",
    ),
    ModelEntry(
        id="wan2.2-t2v-a14b-lightning-4step",
        family=WAN22,
        title="Wan 2.2 text-to-video A14B + Wan2.2-Lightning LoRAs, one per expert (4 steps, no CFG)",
        pipelines=_WAN_T2V,
        defaults=Defaults(
            width=1280, height=720, num_frames=81, fps=16, steps=4, guidance_scale=1.0, guidance_scale_2=1.0,
            flow_shift=5.0,
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
        license="apache-2.0",
        distilled=True,
        notes="Wan2.2-Lightning (ModelTC/lightx2v) [L1], T2V V1.1: trained at 4 steps on timesteps "
        "[1000, 937.5, 833.3, 625] = shift 5, no CFG; the high-noise LoRA goes into transformer, the low-noise one "
        "into transformer_2 (diffusers `load_lora_weights(..., load_into_transformer_2=True)`, PR #12074, shown "
        "there with Kijai/WanVideo_comfy's repackaging of these files). Unverified here: that the original "
        "lightx2v files load through diffusers' converter unchanged, and output quality with diffusers' UniPC "
        "solver (Lightning's own sampler is Euler)." + _LORA_KEYS_NOTE,
    ),
]

TINY_MODELS: list[ModelEntry] = [
    ModelEntry(
        id="tiny-wan2.1-t2v",
        family=WAN21,
        title="Tiny random Wan 2.1 text-to-video (demo/test)",
        pipelines=_WAN_T2V,
        defaults=_TINY_WAN_SIZED,
        rules=_WAN_RULES,
        architecture=_TINY_ARCH,
        tiny=True,
    ),
    ModelEntry(
        id="tiny-wan2.1-i2v",
        family=WAN21,
        title="Tiny random Wan 2.1 image-to-video with CLIP image encoder (demo/test)",
        pipelines=_WAN_I2V,
        defaults=_TINY_WAN,
        rules=_WAN_RULES,
        architecture=_TINY_ARCH.model_copy(update={"image_encoder": True}),
        tiny=True,
    ),
    ModelEntry(
        id="tiny-wan2.1-flf2v",
        family=WAN21,
        title="Tiny random Wan 2.1 first+last-frame-to-video with CLIP image encoder (demo/test)",
        pipelines=_WAN_FLF,
        defaults=_TINY_WAN,
        rules=_WAN_RULES,
        architecture=_TINY_ARCH.model_copy(update={"image_encoder": True}),
        tiny=True,
    ),
    ModelEntry(
        id="tiny-wan2.2-t2v-a14b",
        family=WAN22,
        title="Tiny random Wan 2.2 two-expert text-to-video (demo/test)",
        pipelines=_WAN_T2V,
        defaults=_TINY_WAN.model_copy(update={"guidance_scale_2": 3.0}),
        rules=_WAN_RULES,
        architecture=_TINY_ARCH.model_copy(update={"experts": 2}),
        tiny=True,
    ),
    ModelEntry(
        id="tiny-wan2.2-i2v-a14b",
        family=WAN22,
        title="Tiny random Wan 2.2 two-expert image/first+last-frame-to-video, no image encoder (demo/test)",
        pipelines=_WAN_I2V_FLF,
        defaults=_TINY_WAN.model_copy(update={"guidance_scale_2": 3.0}),
        rules=_WAN_RULES,
        architecture=_TINY_ARCH.model_copy(update={"experts": 2}),
        tiny=True,
    ),
    ModelEntry(
        id="tiny-wan2.1-t2v-distill-lora",
        family=WAN21,
        title="Tiny random Wan 2.1 text-to-video + a bundled random 'distill' LoRA, no CFG (demo/test)",
        pipelines=_WAN_T2V,
        defaults=_TINY_WAN.model_copy(update={"steps": 3, "guidance_scale": 1.0, "flow_shift": 5.0}),
        rules=_WAN_RULES,
        architecture=_TINY_ARCH,
        base_model="tiny-wan2.1-t2v",
        bundled_loras=(BundledLora(repo=None, file="tiny-distill-lora.safetensors"),),
        tiny=True,
        distilled=True,
    ),
    ModelEntry(
        id="tiny-wan2.2-t2v-a14b-lightning",
        family=WAN22,
        title="Tiny random Wan 2.2 two-expert text-to-video + one bundled random LoRA per expert (demo/test)",
        pipelines=_WAN_T2V,
        defaults=_TINY_WAN.model_copy(update={"guidance_scale": 1.0, "guidance_scale_2": 1.0, "flow_shift": 5.0}),
        rules=_WAN_RULES,
        architecture=_TINY_ARCH.model_copy(update={"experts": 2}),
        base_model="tiny-wan2.2-t2v-a14b",
        bundled_loras=(
            BundledLora(repo=None, file="high/tiny-lightning-lora.safetensors", target="transformer"),
            BundledLora(repo=None, file="low/tiny-lightning-lora.safetensors", target="transformer_2",
                        strength=0.5),
        ),
        tiny=True,
        distilled=True,
    ),
]
