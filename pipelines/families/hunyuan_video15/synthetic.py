"""HunyuanVideo 1.5 at its published size with random weights (``benchmarks.synthetic``), every catalog
checkpoint's whole pipeline:
- the transformer: diffusers' own defaults for ``HunyuanVideo15Transformer3DModel`` are the published 8.3B config
  (54 blocks, 16 x 128 heads, Qwen2.5-VL 3584 / ByT5 1472 / SigLIP 1152 inputs), with each checkpoint's
  ``task_type``, ``target_size`` and ``use_meanflow`` as diffusers' conversion script sets them [H4];
- the text encoders: Qwen2.5-VL 7B's language model (Qwen/Qwen2.5-VL-7B-Instruct's published text config) and
  the ByT5 glyph encoder (google/byt5-small's published encoder config, which Glyph-ByT5 fine-tunes);
- image-to-video's SigLIP vision tower (google/siglip-so400m-patch14-384: 27 x 27 = 729 image tokens, the count
  the pipeline reserves);
- the VAE: diffusers' ``AutoencoderKLHunyuanVideo15`` defaults (32 latent channels, 16x spatial, 4x temporal);
- the scheduler and guider at the entry's published shift and guidance.
Built in the current default device and dtype (``torch.device("meta")`` for a size check)."""

from __future__ import annotations

from typing import Any

from pipelines.core.catalog import ModelEntry
from pipelines.families.hunyuan_video15.models import CHECKPOINTS, Checkpoint

# [H4]: the resolution bucket base the pipeline sizes its default output from.
_TARGET_SIZE = {"480p": 640, "720p": 960}


def _transformer_config(c: Checkpoint) -> dict[str, Any]:
    return {"task_type": c.mode, "target_size": _TARGET_SIZE[c.res], "use_meanflow": c.distill == "step"}


TRANSFORMER_CONFIGS: dict[str, dict[str, Any]] = {c.model_id: _transformer_config(c) for c in CHECKPOINTS}

QWEN25_VL_7B_TEXT: dict[str, Any] = dict(
    vocab_size=152064, hidden_size=3584, intermediate_size=18944, num_hidden_layers=28, num_attention_heads=28,
    num_key_value_heads=4, max_position_embeddings=128000, rms_norm_eps=1e-6,
    rope_parameters={"mrope_section": [16, 24, 24], "rope_type": "default", "rope_theta": 1000000.0},
)
BYT5_SMALL_ENCODER: dict[str, Any] = dict(
    vocab_size=384, d_model=1472, d_kv=64, d_ff=3584, num_layers=12, num_heads=6, relative_attention_num_buckets=32,
    feed_forward_proj="gated-gelu", dropout_rate=0.0,
)
SIGLIP_SO400M_384: dict[str, Any] = dict(hidden_size=1152, intermediate_size=4304, num_hidden_layers=27,
                                         num_attention_heads=16, image_size=384, patch_size=14)


def build_transformer(model_id: str) -> Any:
    from diffusers import HunyuanVideo15Transformer3DModel

    return HunyuanVideo15Transformer3DModel(**TRANSFORMER_CONFIGS[model_id])


def build_text_encoders() -> dict[str, Any]:
    """Qwen2.5-VL 7B's language model and the ByT5 glyph encoder, with their tokenizers (built locally)."""
    from transformers import ByT5Tokenizer, Qwen2_5_VLTextConfig, Qwen2_5_VLTextModel, T5Config, T5EncoderModel

    from pipelines.families.hunyuan_video15.tiny import qwen_tokenizer

    return {"text_encoder": Qwen2_5_VLTextModel(Qwen2_5_VLTextConfig(**QWEN25_VL_7B_TEXT)).eval(),
            "tokenizer": qwen_tokenizer(),
            "text_encoder_2": T5EncoderModel(T5Config(**BYT5_SMALL_ENCODER)).eval(), "tokenizer_2": ByT5Tokenizer()}


def build_pipeline(entry: ModelEntry) -> Any:
    from diffusers import (
        AutoencoderKLHunyuanVideo15,
        FlowMatchEulerDiscreteScheduler,
        HunyuanVideo15ImageToVideoPipeline,
        HunyuanVideo15Pipeline,
    )
    from diffusers.guiders import ClassifierFreeGuidance

    d = entry.defaults
    vae: Any = AutoencoderKLHunyuanVideo15()
    parts: dict[str, Any] = build_text_encoders() | {
        "transformer": build_transformer(entry.id).eval(), "vae": vae.eval(),
        "scheduler": FlowMatchEulerDiscreteScheduler(shift=d.flow_shift or 1.0),
        "guider": ClassifierFreeGuidance(guidance_scale=d.guidance_scale),
    }
    if TRANSFORMER_CONFIGS[entry.id]["task_type"] == "t2v":
        return HunyuanVideo15Pipeline(**parts)
    from transformers import SiglipImageProcessor, SiglipVisionConfig, SiglipVisionModel

    image_encoder = SiglipVisionModel(SiglipVisionConfig(**SIGLIP_SO400M_384)).eval()
    extractor = SiglipImageProcessor(size={"height": 384, "width": 384})
    return HunyuanVideo15ImageToVideoPipeline(**parts, image_encoder=image_encoder, feature_extractor=extractor)
