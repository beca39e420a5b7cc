"""Wan 2.1 VACE at its published sizes with random weights (``benchmarks.synthetic``): Wan 2.1's
1.3B / 14B transformer configs plus VACE's control blocks, as diffusers'
``scripts/convert_wan_to_diffusers.py`` writes them for ``Wan-VACE-1.3B`` / ``Wan-VACE-14B`` (VACE blocks at
every second of the 30 base blocks / every fifth of the 40; control input of 96 channels: 16 inactive + 16
reactive latents + 64 mask values), UMT5-XXL and Wan 2.1's VAE. Built in the current default device and
dtype (``torch.device("meta")`` for a size check)."""

from __future__ import annotations

from typing import Any

from pipelines.core.catalog import ModelEntry
from pipelines.families.tiny_parts import build_tokenizer
from pipelines.families.wan.synthetic import UMT5_XXL, wan_transformer_config
from pipelines.families.wan_vace.models import VACE_BLOCKS


def _vace(model_id: str, heads: int, ffn_dim: int, num_layers: int) -> dict[str, Any]:
    blocks = VACE_BLOCKS[model_id]
    return wan_transformer_config(heads, ffn_dim, num_layers) | {"vace_layers": list(blocks.layers),
                                                                 "vace_in_channels": blocks.in_channels}


TRANSFORMER_CONFIGS: dict[str, dict[str, Any]] = {
    "wan2.1-vace-1.3b": _vace("wan2.1-vace-1.3b", 12, 8960, 30),
    "wan2.1-vace-14b": _vace("wan2.1-vace-14b", 40, 13824, 40),
}


def build_transformer(model_id: str) -> Any:
    from diffusers import WanVACETransformer3DModel

    return WanVACETransformer3DModel(**TRANSFORMER_CONFIGS[model_id])


def build_pipeline(entry: ModelEntry) -> Any:
    from diffusers import AutoencoderKLWan, FlowMatchEulerDiscreteScheduler, WanVACEPipeline
    from transformers import UMT5Config, UMT5EncoderModel

    vae: Any = AutoencoderKLWan()
    return WanVACEPipeline(
        tokenizer=build_tokenizer(), text_encoder=UMT5EncoderModel(UMT5Config(**UMT5_XXL)).eval(),
        transformer=build_transformer(entry.id).eval(), vae=vae.float().eval(),
        scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0),
    )
