"""Real architectures at their published sizes with random weights, built directly on the device.

Throughput and memory do not depend on weight values, so these measure speed and VRAM where the
real weights are not on disk. Results made with them are labelled ``"weights": "synthetic"``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from diffusers import (
    AutoencoderKLLTXVideo,
    AutoencoderKLWan,
    FlowMatchEulerDiscreteScheduler,
    LTXConditionPipeline,
    LTXPipeline,
    LTXVideoTransformer3DModel,
    WanPipeline,
    WanTransformer3DModel,
)
from transformers import T5Config, T5EncoderModel, UMT5Config, UMT5EncoderModel

from pipelines.catalog import Mode, default_catalog
from pipelines.tiny import build_tokenizer

_UMT5_XXL: dict[str, Any] = dict(vocab_size=256384, d_model=4096, d_kv=64, d_ff=10240, num_layers=24, num_heads=64,
                 relative_attention_num_buckets=32, feed_forward_proj="gated-gelu", dropout_rate=0.0)
_T5_XXL: dict[str, Any] = dict(vocab_size=32128, d_model=4096, d_kv=64, d_ff=10240, num_layers=24, num_heads=64,
               relative_attention_num_buckets=32, feed_forward_proj="gated-gelu", dropout_rate=0.0)


def wan_transformer_config(dim_heads: int, ffn_dim: int, num_layers: int, in_channels: int = 16,
                           out_channels: int = 16) -> dict[str, Any]:
    return dict(
        patch_size=(1, 2, 2), num_attention_heads=dim_heads, attention_head_dim=128, in_channels=in_channels,
        out_channels=out_channels, text_dim=4096, freq_dim=256, ffn_dim=ffn_dim, num_layers=num_layers,
        cross_attn_norm=True, qk_norm="rms_norm_across_heads", eps=1e-6, rope_max_seq_len=1024,
    )


_LTX_13B: dict[str, Any] = dict(in_channels=128, out_channels=128, patch_size=1, patch_size_t=1,
                                num_attention_heads=32, attention_head_dim=128, cross_attention_dim=4096,
                                num_layers=48, caption_channels=4096)

# Published transformer configs (diffusers folders' transformer/config.json values).
TRANSFORMER_CONFIGS: dict[str, dict[str, Any]] = {
    "wan2.1-t2v-1.3b": wan_transformer_config(12, 8960, 30),
    "wan2.1-t2v-14b": wan_transformer_config(40, 13824, 40),
    "wan2.2-t2v-a14b": wan_transformer_config(40, 13824, 40),
    "wan2.2-ti2v-5b": wan_transformer_config(24, 14336, 30, in_channels=48, out_channels=48),
    "ltx-video-2b-0.9.5": dict(in_channels=128, out_channels=128, patch_size=1, patch_size_t=1,
                               num_attention_heads=32, attention_head_dim=64, cross_attention_dim=2048,
                               num_layers=28, caption_channels=4096),
    "ltx-video-13b-0.9.7-distilled": _LTX_13B,
    # Assumed the same transformer shape as 0.9.7 13B (see its catalog note).
    "ltx-video-13b-0.9.8-distilled": _LTX_13B,
}


def synthetic_ids() -> list[str]:
    return list(TRANSFORMER_CONFIGS)


def build_transformer(model_id: str) -> Any:
    cfg = TRANSFORMER_CONFIGS[model_id]
    if model_id.startswith("ltx"):
        return LTXVideoTransformer3DModel(**cfg)
    return WanTransformer3DModel(**cfg)


def _wan22_vae() -> AutoencoderKLWan:
    # TI2V-5B's high-compression VAE (16x16 spatial, 48 channels); normalisation stats do not affect speed.
    return AutoencoderKLWan(
        base_dim=160, decoder_base_dim=256, z_dim=48, dim_mult=[1, 2, 4, 4], num_res_blocks=2,
        temperal_downsample=[False, True, True], is_residual=True, in_channels=12, out_channels=12,
        patch_size=2, scale_factor_spatial=16, scale_factor_temporal=4,
        latents_mean=[0.0] * 48, latents_std=[1.0] * 48,
    )


def build_pipeline(model_id: str, device: str | torch.device, dtype: torch.dtype) -> Any:
    """A whole pipeline at published size with random weights, allocated on ``device`` in ``dtype``."""
    if model_id not in TRANSFORMER_CONFIGS:
        raise KeyError(f"no synthetic config for {model_id!r}; available: {', '.join(TRANSFORMER_CONFIGS)}")
    previous = torch.get_default_dtype()
    torch.manual_seed(0)
    try:
        # Construct in the target dtype on the device: a 14B model never exists in fp32 on the host.
        torch.set_default_dtype(dtype)
        with torch.device(device):
            return _BUILD[model_id.split("-")[0]](model_id, dtype)
    finally:
        torch.set_default_dtype(previous)


def _build_wan(model_id: str, dtype: torch.dtype) -> Any:
    tokenizer = build_tokenizer()
    vae: Any = _wan22_vae() if model_id == "wan2.2-ti2v-5b" else AutoencoderKLWan()
    kwargs: dict[str, Any] = {}
    if model_id == "wan2.2-t2v-a14b":
        kwargs = {"transformer_2": build_transformer(model_id).eval(), "boundary_ratio": 0.875}
    if model_id == "wan2.2-ti2v-5b":
        kwargs["expand_timesteps"] = True
    return WanPipeline(
        tokenizer=tokenizer, text_encoder=UMT5EncoderModel(UMT5Config(**_UMT5_XXL)).eval(),
        transformer=build_transformer(model_id).eval(), vae=vae.float().eval(),
        scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0), **kwargs,
    )


def _build_ltx(model_id: str, dtype: torch.dtype) -> Any:
    vae: Any = AutoencoderKLLTXVideo()
    # The catalog's text-to-video class: timestep-distilled entries run LTXConditionPipeline (the only
    # LTX pipeline that takes their published ``timesteps=``), the others LTXPipeline.
    entry = default_catalog().get(model_id)
    conditioned = entry is not None and entry.pipelines[Mode.TEXT_TO_VIDEO] == "LTXConditionPipeline"
    cls = LTXConditionPipeline if conditioned else LTXPipeline
    return cls(
        tokenizer=build_tokenizer(), text_encoder=T5EncoderModel(T5Config(**_T5_XXL)).eval(),
        transformer=build_transformer(model_id).eval(), vae=vae.eval(),
        scheduler=FlowMatchEulerDiscreteScheduler(),
    )


_BUILD: dict[str, Callable[[str, torch.dtype], Any]] = {"wan2.1": _build_wan, "wan2.2": _build_wan, "ltx": _build_ltx}
