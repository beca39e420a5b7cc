"""LTX-2 at its published size with random weights (``benchmarks.synthetic``): diffusers' own
defaults for ``LTX2VideoTransformer3DModel`` are the published LTX-2 19B transformer config (48
blocks, 32x128 video heads, 32x64 audio heads, 4096/2048 cross-attention, 3840 caption channels;
18.9B parameters), the VAEs, connectors and vocoder likewise; Gemma 3 12B from its published text
config. Built in the current default device and dtype (``torch.device("meta")`` for a size check)."""

from __future__ import annotations

from typing import Any

from pipelines.core.catalog import ModelEntry
from pipelines.families.tiny_parts import build_tokenizer

TRANSFORMER_CONFIGS: dict[str, dict[str, Any]] = {"ltx-2-19b": {}}

# Gemma 3 12B (google/gemma-3-12b-pt's published config), the text encoder LTX-2 ships with.
GEMMA3_12B_TEXT: dict[str, Any] = dict(
    vocab_size=262208, hidden_size=3840, intermediate_size=15360, num_hidden_layers=48, num_attention_heads=16,
    num_key_value_heads=8, head_dim=256, max_position_embeddings=131072, sliding_window=1024,
)
SIGLIP_400M: dict[str, Any] = dict(hidden_size=1152, intermediate_size=4304, num_hidden_layers=27,
                                   num_attention_heads=16, image_size=896, patch_size=14)


def build_transformer(model_id: str) -> Any:
    from diffusers import LTX2VideoTransformer3DModel

    return LTX2VideoTransformer3DModel(**TRANSFORMER_CONFIGS[model_id])


def build_text_encoder() -> Any:
    from transformers import Gemma3Config, Gemma3ForConditionalGeneration

    config = Gemma3Config(text_config=GEMMA3_12B_TEXT, vision_config=SIGLIP_400M, mm_tokens_per_image=256)
    return Gemma3ForConditionalGeneration(config).eval()


def build_pipeline(entry: ModelEntry) -> Any:
    from diffusers import AutoencoderKLLTX2Audio, AutoencoderKLLTX2Video, FlowMatchEulerDiscreteScheduler, LTX2Pipeline
    from diffusers.pipelines.ltx2 import LTX2TextConnectors
    from diffusers.pipelines.ltx2.vocoder import LTX2Vocoder

    parts: dict[str, Any] = {"vae": AutoencoderKLLTX2Video(), "audio_vae": AutoencoderKLLTX2Audio(),
                             "connectors": LTX2TextConnectors(), "vocoder": LTX2Vocoder(),
                             "transformer": build_transformer(entry.id)}
    return LTX2Pipeline(scheduler=FlowMatchEulerDiscreteScheduler(), text_encoder=build_text_encoder(),
                        tokenizer=build_tokenizer(), **{name: m.eval() for name, m in parts.items()})
