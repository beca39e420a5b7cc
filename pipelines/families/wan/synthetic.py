"""Wan at its published sizes with random weights (``benchmarks.synthetic``): the transformer
configs of the diffusers folders' transformer/config.json, UMT5-XXL, and the real VAEs. Built in
the current default device and dtype."""

from __future__ import annotations

from typing import Any

from pipelines.core.catalog import ModelEntry
from pipelines.families.tiny_parts import build_tokenizer

UMT5_XXL: dict[str, Any] = dict(vocab_size=256384, d_model=4096, d_kv=64, d_ff=10240, num_layers=24, num_heads=64,
                 relative_attention_num_buckets=32, feed_forward_proj="gated-gelu", dropout_rate=0.0)


def wan_transformer_config(dim_heads: int, ffn_dim: int, num_layers: int, in_channels: int = 16,
                           out_channels: int = 16) -> dict[str, Any]:
    return dict(
        patch_size=(1, 2, 2), num_attention_heads=dim_heads, attention_head_dim=128, in_channels=in_channels,
        out_channels=out_channels, text_dim=4096, freq_dim=256, ffn_dim=ffn_dim, num_layers=num_layers,
        cross_attn_norm=True, qk_norm="rms_norm_across_heads", eps=1e-6, rope_max_seq_len=1024,
    )


TRANSFORMER_CONFIGS: dict[str, dict[str, Any]] = {
    "wan2.1-t2v-1.3b": wan_transformer_config(12, 8960, 30),
    "wan2.1-t2v-14b": wan_transformer_config(40, 13824, 40),
    "wan2.2-t2v-a14b": wan_transformer_config(40, 13824, 40),
    "wan2.2-ti2v-5b": wan_transformer_config(24, 14336, 30, in_channels=48, out_channels=48),
}


def build_transformer(model_id: str) -> Any:
    from diffusers import WanTransformer3DModel

    return WanTransformer3DModel(**TRANSFORMER_CONFIGS[model_id])


def _wan22_vae() -> Any:
    from diffusers import AutoencoderKLWan

    # TI2V-5B's high-compression VAE (16x16 spatial, 48 channels); normalisation stats do not affect speed.
    return AutoencoderKLWan(
        base_dim=160, decoder_base_dim=256, z_dim=48, dim_mult=[1, 2, 4, 4], num_res_blocks=2,
        temperal_downsample=[False, True, True], is_residual=True, in_channels=12, out_channels=12,
        patch_size=2, scale_factor_spatial=16, scale_factor_temporal=4,
        latents_mean=[0.0] * 48, latents_std=[1.0] * 48,
    )


def build_pipeline(entry: ModelEntry) -> Any:
    from diffusers import AutoencoderKLWan, FlowMatchEulerDiscreteScheduler, WanPipeline
    from transformers import UMT5Config, UMT5EncoderModel

    model_id = entry.id
    vae: Any = _wan22_vae() if model_id == "wan2.2-ti2v-5b" else AutoencoderKLWan()
    kwargs: dict[str, Any] = {}
    if model_id == "wan2.2-t2v-a14b":
        kwargs = {"transformer_2": build_transformer(model_id).eval(), "boundary_ratio": 0.875}
    if model_id == "wan2.2-ti2v-5b":
        kwargs["expand_timesteps"] = True
    return WanPipeline(
        tokenizer=build_tokenizer(), text_encoder=UMT5EncoderModel(UMT5Config(**UMT5_XXL)).eval(),
        transformer=build_transformer(model_id).eval(), vae=vae.float().eval(),
        scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0), **kwargs,
    )
