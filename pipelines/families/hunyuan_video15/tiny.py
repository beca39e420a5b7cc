"""Tiny random HunyuanVideo 1.5 pipelines: the real diffusers classes (HunyuanVideo 1.5
transformer, its VAE, a Qwen2.5-VL text model, a ByT5/T5 glyph encoder, a SigLIP image encoder for
image-to-video) at toy sizes. The Qwen tokenizer is built locally with ``tokenizers`` and given a
chat template (the pipeline formats the prompt as a chat); ByT5's tokenizer needs no vocabulary.
The VAE compresses like the real one (16x spatial, 4x temporal; the transformer's patch is 1), so
a real-size request is a real-size token count on the toy transformer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pipelines.families.tiny_parts import build_tokenizer, seeded

LATENT_CHANNELS = 4
QWEN_DIM = 16
BYT5_DIM = 32
IMAGE_DIM = 12
REFINER_LAYERS = 1
_IMAGE_SIZE, _IMAGE_PATCH = 32, 8
IMAGE_TOKENS = (_IMAGE_SIZE // _IMAGE_PATCH) ** 2  # the tiny SigLIP's tokens per image
# The template the pipeline's ``apply_chat_template`` call formats (system message, then the prompt).
CHAT_TEMPLATE = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
                 "<|im_start|>assistant\n")


def qwen_tokenizer() -> Any:
    tok = build_tokenizer()
    tok.chat_template = CHAT_TEMPLATE
    return tok


def _parts(task: str) -> dict[str, Any]:
    from diffusers import AutoencoderKLHunyuanVideo15, FlowMatchEulerDiscreteScheduler, HunyuanVideo15Transformer3DModel
    from diffusers.guiders import ClassifierFreeGuidance
    from transformers import ByT5Tokenizer, Qwen2_5_VLTextConfig, Qwen2_5_VLTextModel, T5Config, T5EncoderModel

    transformer = seeded(3, lambda: HunyuanVideo15Transformer3DModel(
        in_channels=2 * LATENT_CHANNELS + 1, out_channels=LATENT_CHANNELS, num_attention_heads=2,
        attention_head_dim=8, num_layers=2, num_refiner_layers=REFINER_LAYERS, mlp_ratio=2.0, patch_size=1,
        patch_size_t=1,
        text_embed_dim=QWEN_DIM, text_embed_2_dim=BYT5_DIM, image_embed_dim=IMAGE_DIM, rope_axes_dim=(2, 2, 4),
        target_size=64, task_type=task,
    ))
    # HunyuanVideo 1.5's real compression: four 2x spatial stages (16x), two temporal ones (4x).
    vae = seeded(2, lambda: AutoencoderKLHunyuanVideo15(
        in_channels=3, out_channels=3, latent_channels=LATENT_CHANNELS, block_out_channels=(8, 8, 8, 8, 8),
        layers_per_block=1, spatial_compression_ratio=16, temporal_compression_ratio=4,
        downsample_match_channel=False, upsample_match_channel=False,
    ))
    qwen = seeded(1, lambda: Qwen2_5_VLTextModel(Qwen2_5_VLTextConfig(
        vocab_size=256, hidden_size=QWEN_DIM, intermediate_size=16, num_hidden_layers=2, num_attention_heads=2,
        num_key_value_heads=2, bos_token_id=None, eos_token_id=None,
        rope_parameters={"mrope_section": [1, 1, 2], "rope_type": "default", "rope_theta": 1000000.0},
    )).eval())
    byt5 = seeded(4, lambda: T5EncoderModel(T5Config(
        vocab_size=384, d_model=BYT5_DIM, d_kv=8, d_ff=64, num_layers=1, num_heads=4,
        relative_attention_num_buckets=8, dropout_rate=0.0,
    )).eval())
    return {"transformer": transformer, "vae": vae, "text_encoder": qwen, "tokenizer": qwen_tokenizer(),
            "text_encoder_2": byt5, "tokenizer_2": ByT5Tokenizer(),
            "scheduler": FlowMatchEulerDiscreteScheduler(shift=5.0),
            "guider": ClassifierFreeGuidance(guidance_scale=6.0)}


def build_t2v() -> Any:
    from diffusers import HunyuanVideo15Pipeline

    return HunyuanVideo15Pipeline(**_parts("t2v"))


def build_i2v() -> Any:
    from diffusers import HunyuanVideo15ImageToVideoPipeline
    from transformers import SiglipImageProcessor, SiglipVisionConfig, SiglipVisionModel

    image_encoder = seeded(5, lambda: SiglipVisionModel(SiglipVisionConfig(
        hidden_size=IMAGE_DIM, intermediate_size=24, num_hidden_layers=1, num_attention_heads=2, image_size=_IMAGE_SIZE,
        patch_size=_IMAGE_PATCH,
    )).eval())
    extractor = SiglipImageProcessor(size={"height": _IMAGE_SIZE, "width": _IMAGE_SIZE})
    return HunyuanVideo15ImageToVideoPipeline(**_parts("i2v"), image_encoder=image_encoder,
                                              feature_extractor=extractor)


BUILDERS: dict[str, Callable[[], Any]] = {"tiny-hunyuanvideo1.5-t2v": build_t2v,
                                          "tiny-hunyuanvideo1.5-i2v": build_i2v}
