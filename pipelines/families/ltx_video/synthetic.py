"""LTX-Video at its published sizes with random weights (``benchmarks.synthetic``): the diffusers
folders' transformer/config.json values, T5-XXL, the real VAE. Built in the current default device
and dtype."""

from __future__ import annotations

from typing import Any

from pipelines.core.catalog import Mode, ModelEntry
from pipelines.families.tiny_parts import build_tokenizer

_T5_XXL: dict[str, Any] = dict(vocab_size=32128, d_model=4096, d_kv=64, d_ff=10240, num_layers=24, num_heads=64,
               relative_attention_num_buckets=32, feed_forward_proj="gated-gelu", dropout_rate=0.0)

_LTX_13B: dict[str, Any] = dict(in_channels=128, out_channels=128, patch_size=1, patch_size_t=1,
                                num_attention_heads=32, attention_head_dim=128, cross_attention_dim=4096,
                                num_layers=48, caption_channels=4096)

TRANSFORMER_CONFIGS: dict[str, dict[str, Any]] = {
    "ltx-video-2b-0.9.5": dict(in_channels=128, out_channels=128, patch_size=1, patch_size_t=1,
                               num_attention_heads=32, attention_head_dim=64, cross_attention_dim=2048,
                               num_layers=28, caption_channels=4096),
    "ltx-video-13b-0.9.7-distilled": _LTX_13B,
    # Assumed the same transformer shape as 0.9.7 13B (see its catalog note).
    "ltx-video-13b-0.9.8-distilled": _LTX_13B,
}


def build_transformer(model_id: str) -> Any:
    from diffusers import LTXVideoTransformer3DModel

    return LTXVideoTransformer3DModel(**TRANSFORMER_CONFIGS[model_id])


def build_pipeline(entry: ModelEntry) -> Any:
    from diffusers import AutoencoderKLLTXVideo, FlowMatchEulerDiscreteScheduler, LTXConditionPipeline, LTXPipeline
    from transformers import T5Config, T5EncoderModel

    # The catalog's text-to-video class: timestep-distilled entries run LTXConditionPipeline (the only
    # LTX pipeline that takes their published ``timesteps=``), the others LTXPipeline.
    conditioned = entry.pipelines[Mode.TEXT_TO_VIDEO] == "LTXConditionPipeline"
    cls = LTXConditionPipeline if conditioned else LTXPipeline
    vae: Any = AutoencoderKLLTXVideo()
    return cls(
        tokenizer=build_tokenizer(), text_encoder=T5EncoderModel(T5Config(**_T5_XXL)).eval(),
        transformer=build_transformer(entry.id).eval(), vae=vae.eval(),
        scheduler=FlowMatchEulerDiscreteScheduler(),
    )
