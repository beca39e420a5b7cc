"""LTX-2's catalog entries. Torch-free data.

Verified from diffusers 0.42's own LTX-2 sources (pipeline docstrings and ``pipelines/ltx2/utils.py``):
the repo ids ``Lightricks/LTX-2`` (LTX-2 19B: LTX2Pipeline / LTX2ImageToVideoPipeline /
LTX2ConditionPipeline over the same components, 24 kHz ``LTX2Vocoder``) and
``diffusers/LTX-2.3-Distilled-Diffusers`` (LTX-2.3 distilled, 48 kHz ``LTX2VocoderWithBWE``), the
example settings (768x512, 121 frames at 24 fps, 30 steps, guidance 3.0, its negative prompt) and the distilled sigma
schedule (8 steps, CFG 1). Assumed until measured: the architecture figures of 2.3 equal 2.0's
(published as 19B: a 14B video stream and a 5B audio stream, 48 blocks, Gemma 3 12B), and the
audio VAE + vocoder + text connectors at about 0.5B parameters.
"""

from __future__ import annotations

from pipelines.core.audio_spec import AudioDefaults
from pipelines.core.catalog import Architecture, Defaults, Mode, ModelEntry, ShapeRules, TwoStageFlow
from pipelines.families.ltx2.flops import AudioStream

LTX2_FAMILY = "ltx-2"
# diffusers 0.42.1 pipelines/ltx2/pipeline_ltx2.py example
LTX2_NEGATIVE_PROMPT = "worst quality, inconsistent motion, blurry, jittery, distorted"

_PIPELINES = {
    Mode.TEXT_TO_VIDEO: "LTX2Pipeline",
    Mode.IMAGE_TO_VIDEO: "LTX2ImageToVideoPipeline",
    Mode.FIRST_LAST_FRAME: "LTX2ConditionPipeline",
}
# 8k+1 frames (the VAE's 8x temporal compression), sides multiples of 32 (its 32x spatial one).
_RULES = ShapeRules(frames_multiple=8, size_multiple=32, max_frames=257)

_LTX2_19B = Architecture(
    transformer_params_b=19.0, dim=4096, ffn_dim=16384, num_layers=48, num_heads=32,
    vae_spatial=32, vae_temporal=8, latent_channels=128, patch=(1, 1, 1),
    text_encoder_params_b=12.0, text_dim=3840, extra_params_b=0.5,
)

# diffusers.pipelines.ltx2.utils.DISTILLED_SIGMA_VALUES (0.42.1): the distilled checkpoints' schedule.
_DISTILLED_SIGMAS = (1.0, 0.99375, 0.9875, 0.98125, 0.975, 0.909375, 0.725, 0.421875)

# diffusers.pipelines.ltx2.utils.STAGE_2_DISTILLED_SIGMA_VALUES (0.42.1): stage 2 of the final flow.
STAGE_2_SIGMAS = (0.909375, 0.725, 0.421875)
# diffusers' LTX-2 docs "Two-stages Generation": LTX2LatentUpsamplerModel from the repo's
# latent_upsampler/ folder, stage 2 with the distilled LoRA at 1.0, guidance 1.0, these sigmas. The
# upsampler's size is LTX2LatentUpsamplerModel's default config counted (1024 channels, 4+4 blocks: ~0.5B).
_FINAL_19B = TwoStageFlow(upsampler="latent_upsampler", upsampler_params_b=0.5, stage2_sigmas=STAGE_2_SIGMAS,
                          stage2_guidance_scale=1.0, stage2_lora="ltx-2-19b-distilled-lora-384.safetensors")

ENTRIES: list[ModelEntry] = [
    ModelEntry(
        id="ltx-2-19b",
        family=LTX2_FAMILY,
        title="LTX-2 19B: video with a synchronized soundtrack (text, image, first+last frame)",
        pipelines=_PIPELINES,
        defaults=Defaults(width=768, height=512, num_frames=121, fps=24, steps=30, guidance_scale=3.0,
                          negative_prompt=LTX2_NEGATIVE_PROMPT),
        rules=_RULES,
        architecture=_LTX2_19B,
        hub_repo="Lightricks/LTX-2",
        license="LTX-2 Community License",
        audio=AudioDefaults(sample_rate=24000),
        final_flow=_FINAL_19B,
        notes="Settings from diffusers' LTX2Pipeline example (768x512, 121 frames @ 24 fps, 30 steps, guidance 3.0, "
              "its negative prompt) [X1]; "
              "audio knobs are LTX2Pipeline's defaults (audio guidance 7, STG 1, modality 3, rescale 0.7). "
              "Describe the soundtrack inside the prompt (speech in quotes, ambience, music), as LTX-2 expects. "
              "quality final: diffusers' two-stage example (half size with CFG, latent_upsampler x2, stage 2 on "
              "STAGE_2_DISTILLED_SIGMA_VALUES with ltx-2-19b-distilled-lora-384, guidance 1.0).",
    ),
    ModelEntry(
        id="ltx-2.3-distilled",
        family=LTX2_FAMILY,
        title="LTX-2.3 distilled: 8 steps, no CFG, 48 kHz soundtrack (text, image, first+last frame)",
        pipelines=_PIPELINES,
        defaults=Defaults(width=768, height=512, num_frames=121, fps=24, steps=8, guidance_scale=1.0),
        rules=_RULES,
        architecture=_LTX2_19B,
        hub_repo="diffusers/LTX-2.3-Distilled-Diffusers",
        license="LTX-2 Community License",
        distilled=True,
        audio=AudioDefaults(sample_rate=48000, guidance_scale=1.0),
        notes="Repo id from diffusers 0.42's LTX-2 HDR docstring [X1]; the 8-step sigma schedule is diffusers' "
              "DISTILLED_SIGMA_VALUES; guidance 1.0 (one pass per step). Architecture figures assumed equal to "
              "LTX-2 19B's.",
    ),
]

TINY_ENTRIES: list[ModelEntry] = [
    ModelEntry(
        id="tiny-ltx-2",
        family=LTX2_FAMILY,
        title="Tiny random LTX-2 with a soundtrack, all three modes (demo/test)",
        pipelines=_PIPELINES,
        defaults=Defaults(width=64, height=64, num_frames=9, fps=24, steps=3, guidance_scale=3.0),
        rules=_RULES.model_copy(update={"max_frames": 65}),
        architecture=_LTX2_19B.model_copy(update={
            "transformer_params_b": 0.0001, "dim": 16, "ffn_dim": 64, "num_layers": 2, "num_heads": 2,
            "latent_channels": 4, "text_encoder_params_b": 0.0001, "text_dim": 32, "extra_params_b": 0.0}),
        tiny=True,
        audio=AudioDefaults(sample_rate=16000),
        final_flow=TwoStageFlow(stage2_sigmas=STAGE_2_SIGMAS),  # no LoRA: stage 2 runs the tiny weights
    ),
]

# The video's STG and modality-isolation guidance: LTX2Pipeline's own defaults (diffusers 0.42.1), passed
# explicitly so the FLOP formula and the audio-off knobs (pipelines.audio_skip) know which passes run.
VIDEO_STG_SCALE = 1.0
VIDEO_MODALITY_SCALE = 3.0

DISTILLED_SIGMAS: dict[str, tuple[float, ...]] = {"ltx-2.3-distilled": _DISTILLED_SIGMAS}
# Gemma tokens the prompt is padded to: diffusers' 1024 for real checkpoints; the tiny one takes less.
MAX_SEQUENCE_LENGTH = 1024
SEQUENCE_LENGTHS: dict[str, int] = {"tiny-ltx-2": 16}

# The transformer's audio half per entry, for the FLOP formula (pipelines.families.ltx2.flops): LTX-2 19B's
# is diffusers' LTX2VideoTransformer3DModel default (32 heads x 64 = 2048 wide, 4x feed-forward, 128 input
# channels) over its audio VAE's 16 kHz mel at hop 160 and 4x compression (25 audio tokens a second);
# 2.3 assumed equal. The tiny one matches pipelines.families.ltx2.tiny.
_AUDIO_19B = AudioStream(dim=2048, ffn_dim=8192, in_channels=128)
AUDIO_STREAMS: dict[str, AudioStream] = {
    "ltx-2-19b": _AUDIO_19B, "ltx-2.3-distilled": _AUDIO_19B,
    "tiny-ltx-2": AudioStream(dim=8, ffn_dim=32, in_channels=4, sample_rate=16000, hop_length=16),
}
