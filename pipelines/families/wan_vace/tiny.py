"""The tiny random Wan VACE pipeline: the real diffusers classes at toy sizes, Wan's tiny text encoder
and VAE (Wan's real 8x spatial / 4x temporal compression)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from diffusers import FlowMatchEulerDiscreteScheduler, WanVACEPipeline, WanVACETransformer3DModel

from pipelines.families.tiny_parts import TEXT_DIM, build_tokenizer, seeded, text_encoder
from pipelines.families.wan.tiny import _wan_vae
from pipelines.families.wan_vace.models import VACE_BLOCKS

_BLOCKS = VACE_BLOCKS["tiny-wan-vace"]


def build() -> Any:
    """A 2-layer VACE transformer whose control input takes 96 channels: 16 inactive + 16 reactive
    latents + 64 mask values (one per pixel of a latent pixel's 8x8 patch)."""
    tokenizer = build_tokenizer()
    transformer = seeded(3, lambda: WanVACETransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=16, out_channels=16,
        text_dim=TEXT_DIM, freq_dim=256, ffn_dim=32, num_layers=2, cross_attn_norm=True,
        qk_norm="rms_norm_across_heads", rope_max_seq_len=1024, vace_layers=list(_BLOCKS.layers),
        vace_in_channels=_BLOCKS.in_channels,
    ))
    return WanVACEPipeline(
        tokenizer=tokenizer, text_encoder=seeded(1, lambda: text_encoder(True, len(tokenizer))),
        vae=seeded(2, _wan_vae), scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0), transformer=transformer,
    )


BUILDERS: dict[str, Callable[[], Any]] = {"tiny-wan-vace": build}
