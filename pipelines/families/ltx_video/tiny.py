"""Tiny random LTX-Video pipelines: the real diffusers classes at toy sizes. The VAE keeps LTX's
real compression (32x spatial: a 4x4 patch and three 2x stages; 8x temporal), so a request at a
real size (say 1024x576) has a real-size token count for a toy transformer and runs in seconds on
a CPU."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from diffusers import AutoencoderKLLTXVideo, FlowMatchEulerDiscreteScheduler, LTXPipeline, LTXVideoTransformer3DModel

from pipelines.families.tiny_parts import TEXT_DIM, build_tokenizer, seeded, text_encoder

LATENT_CHANNELS = 8


def ltx_vae() -> AutoencoderKLLTXVideo:
    scaling = (True, True, True, False)  # LTX-Video 0.9's own: three spatio-temporal 2x stages
    return AutoencoderKLLTXVideo(
        in_channels=3, out_channels=3, latent_channels=LATENT_CHANNELS, block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8, 8), layers_per_block=(1, 1, 1, 1, 1),
        decoder_layers_per_block=(1, 1, 1, 1, 1), spatio_temporal_scaling=scaling,
        decoder_spatio_temporal_scaling=scaling, decoder_inject_noise=(False,) * 5,
        upsample_residual=(False,) * 4, upsample_factor=(1,) * 4, timestep_conditioning=False,
        patch_size=4, patch_size_t=1, encoder_causal=True, decoder_causal=False,
    )


def build_ltx() -> Any:
    tokenizer = build_tokenizer()
    transformer = seeded(3, lambda: LTXVideoTransformer3DModel(
        in_channels=LATENT_CHANNELS, out_channels=LATENT_CHANNELS, patch_size=1, patch_size_t=1,
        num_attention_heads=4, attention_head_dim=8, cross_attention_dim=32, num_layers=2, caption_channels=TEXT_DIM,
    ))
    # The pipeline derives its compression ratios from the VAE (32x spatial, 8x temporal).
    return LTXPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(),
        vae=seeded(2, ltx_vae),
        text_encoder=seeded(1, lambda: text_encoder(False, len(tokenizer))),
        tokenizer=tokenizer,
        transformer=transformer,
    )


BUILDERS: dict[str, Callable[[], Any]] = {"tiny-ltx-video": build_ltx}
