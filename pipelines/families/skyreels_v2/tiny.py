"""The tiny random SkyReels-V2 DF pipelines: the real diffusers classes at toy sizes, Wan's tiny text
encoder and VAE (Wan's real 8x spatial / 4x temporal compression), UniPC as published. One set of
components serves every DF pipeline class (text, image, video-to-video), as the real checkpoints do."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from diffusers import SkyReelsV2DiffusionForcingPipeline, SkyReelsV2Transformer3DModel, UniPCMultistepScheduler

from pipelines.families.tiny_parts import TEXT_DIM, build_tokenizer, seeded, text_encoder
from pipelines.families.wan.tiny import _wan_vae


def build() -> Any:
    tokenizer = build_tokenizer()
    transformer = seeded(3, lambda: SkyReelsV2Transformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=16, out_channels=16,
        text_dim=TEXT_DIM, freq_dim=256, ffn_dim=32, num_layers=2, cross_attn_norm=True,
        qk_norm="rms_norm_across_heads", rope_max_seq_len=1024,
    ))
    scheduler = UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=8.0)
    return SkyReelsV2DiffusionForcingPipeline(
        tokenizer=tokenizer, text_encoder=seeded(1, lambda: text_encoder(True, len(tokenizer))),
        vae=seeded(2, _wan_vae), scheduler=scheduler, transformer=transformer,
    )


BUILDERS: dict[str, Callable[[], Any]] = {"tiny-skyreels-v2-df": build}
