"""Tiny random Wan pipelines: the real diffusers classes at toy sizes. The VAE keeps Wan's real
compression (8x spatial, 4x temporal), so a request at a real size has a real-size token count for
a toy transformer and runs in seconds on a CPU."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from diffusers import (
    AutoencoderKLWan,
    FlowMatchEulerDiscreteScheduler,
    WanImageToVideoPipeline,
    WanPipeline,
    WanTransformer3DModel,
)
from transformers import CLIPImageProcessorPil, CLIPVisionConfig, CLIPVisionModel

from pipelines.families.tiny_parts import TEXT_DIM, build_tokenizer, seeded, text_encoder

_CLIP_TOKENS = (32 // 8) ** 2 + 1


def wan_transformer(in_channels: int, image_dim: int | None = None, flf: bool = False) -> WanTransformer3DModel:
    return WanTransformer3DModel(
        # FLF2V: learned positions over both images' CLIP tokens (tiny CLIP: 4x4 patches + CLS = 17).
        pos_embed_seq_len=2 * _CLIP_TOKENS if flf else None,
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=in_channels,
        out_channels=16, text_dim=TEXT_DIM, freq_dim=256, ffn_dim=32, num_layers=2, cross_attn_norm=True,
        qk_norm="rms_norm_across_heads", rope_max_seq_len=1024, image_dim=image_dim,
    )


def _wan_vae() -> AutoencoderKLWan:
    # Three downsampling stages (8x spatial), two of them temporal (4x): Wan 2.1's own ratios.
    return AutoencoderKLWan(
        base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True]
    )


def build_wan(image_mode: bool, image_encoder: bool, experts: int, flf: bool = False) -> Any:
    tokenizer = build_tokenizer()
    in_channels = 36 if image_mode else 16
    image_dim = 4 if image_encoder else None
    components: dict[str, Any] = {
        "tokenizer": tokenizer,
        "text_encoder": seeded(1, lambda: text_encoder(True, len(tokenizer))),
        "vae": seeded(2, _wan_vae),
        "scheduler": FlowMatchEulerDiscreteScheduler(shift=3.0),
        "transformer": seeded(3, lambda: wan_transformer(in_channels, image_dim, flf)),
    }
    if experts == 2:
        components["transformer_2"] = seeded(4, lambda: wan_transformer(in_channels, image_dim))
        # Wan 2.2 published boundaries: 0.875 for T2V-A14B, 0.9 for I2V-A14B.
        components["boundary_ratio"] = 0.9 if image_mode else 0.875
    if not image_mode:
        return WanPipeline(**components)
    if image_encoder:
        components["image_encoder"] = seeded(5, lambda: CLIPVisionModel(CLIPVisionConfig(
            hidden_size=4, num_hidden_layers=2, num_attention_heads=2, image_size=32,
            intermediate_size=16, patch_size=8,
        )).eval())
        # The PIL processor: the default one wants torchvision, which has no CPU build here.
        components["image_processor"] = CLIPImageProcessorPil(crop_size=32, size=32)
    else:
        components["image_encoder"] = None
        components["image_processor"] = None
    return WanImageToVideoPipeline(**components)


BUILDERS: dict[str, Callable[[], Any]] = {
    "tiny-wan2.1-t2v": lambda: build_wan(image_mode=False, image_encoder=False, experts=1),
    "tiny-wan2.1-i2v": lambda: build_wan(image_mode=True, image_encoder=True, experts=1),
    "tiny-wan2.1-flf2v": lambda: build_wan(image_mode=True, image_encoder=True, experts=1, flf=True),
    "tiny-wan2.2-t2v-a14b": lambda: build_wan(image_mode=False, image_encoder=False, experts=2),
    "tiny-wan2.2-i2v-a14b": lambda: build_wan(image_mode=True, image_encoder=False, experts=2),
}
