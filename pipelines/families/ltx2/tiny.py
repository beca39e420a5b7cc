"""A tiny random LTX-2: the real diffusers classes (LTX-2 transformer with its audio stream, video
and audio VAEs, text connectors, vocoder, a Gemma 3 text encoder) at toy sizes, with a tokenizer
built locally with ``tokenizers``. The video VAE compresses like the real one (32x, 8x). The audio
VAE's mel hop (16 samples at 16 kHz) equals the tiny vocoder's upsampling (4 x 4), so the waveform
lasts as long as the video, as a real one does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pipelines.families.tiny_parts import build_tokenizer, seeded

TEXT_DIM = 32       # Gemma hidden size = the connectors' width (4 heads x 8)
LATENT_CHANNELS = 4
AUDIO_RATE = 16000


def gemma() -> Any:
    from transformers import Gemma3Config, Gemma3ForConditionalGeneration

    config = Gemma3Config(
        text_config={"vocab_size": 256, "hidden_size": TEXT_DIM, "intermediate_size": 64, "num_hidden_layers": 2,
                     "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 16,
                     "max_position_embeddings": 256, "sliding_window": 64},
        vision_config={"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
                       "image_size": 16, "patch_size": 8},
        mm_tokens_per_image=4,
    )
    return Gemma3ForConditionalGeneration(config).eval()


def build_ltx2() -> Any:
    from diffusers import (
        AutoencoderKLLTX2Audio,
        AutoencoderKLLTX2Video,
        FlowMatchEulerDiscreteScheduler,
        LTX2Pipeline,
        LTX2VideoTransformer3DModel,
    )
    from diffusers.pipelines.ltx2 import LTX2TextConnectors
    from diffusers.pipelines.ltx2.vocoder import LTX2Vocoder

    text_encoder = seeded(1, gemma)
    layers = text_encoder.config.text_config.num_hidden_layers
    transformer = seeded(3, lambda: LTX2VideoTransformer3DModel(
        in_channels=LATENT_CHANNELS, out_channels=LATENT_CHANNELS, patch_size=1, patch_size_t=1,
        num_attention_heads=2, attention_head_dim=8, cross_attention_dim=16, audio_in_channels=4,
        audio_out_channels=4, audio_num_attention_heads=2, audio_attention_head_dim=4, audio_cross_attention_dim=8,
        num_layers=2, qk_norm="rms_norm_across_heads", caption_channels=TEXT_DIM, rope_double_precision=False,
        rope_type="split",
    ))
    connectors = seeded(4, lambda: LTX2TextConnectors(
        caption_channels=TEXT_DIM, text_proj_in_factor=layers + 1, video_connector_num_attention_heads=4,
        video_connector_attention_head_dim=8, video_connector_num_layers=1,
        video_connector_num_learnable_registers=None,
        audio_connector_num_attention_heads=4, audio_connector_attention_head_dim=8, audio_connector_num_layers=1,
        audio_connector_num_learnable_registers=None, connector_rope_base_seq_len=32, rope_theta=10000.0,
        rope_double_precision=False, causal_temporal_positioning=False, rope_type="split",
    ))
    # LTX-2's real compression (32x spatial: a 4x4 patch and three 2x stages; 8x temporal), so a
    # real-size request is a real-size token count for the toy transformer.
    vae = seeded(2, lambda: AutoencoderKLLTX2Video(
        in_channels=3, out_channels=3, latent_channels=LATENT_CHANNELS, block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8), layers_per_block=(1,) * 5, decoder_layers_per_block=(1,) * 4,
        spatio_temporal_scaling=(True,) * 4, decoder_spatio_temporal_scaling=(True,) * 3,
        decoder_inject_noise=(False,) * 4, downsample_type=("spatial", "temporal", "spatiotemporal", "spatiotemporal"),
        upsample_residual=(False,) * 3, upsample_factor=(1, 1, 1), timestep_conditioning=False, patch_size=4,
        patch_size_t=1, encoder_causal=True, decoder_causal=False, spatial_compression_ratio=32,
        temporal_compression_ratio=8,
    ))
    audio_vae = seeded(5, lambda: AutoencoderKLLTX2Audio(
        base_channels=4, output_channels=2, ch_mult=(1,), num_res_blocks=1, attn_resolutions=None, in_channels=2,
        resolution=32, latent_channels=2, norm_type="pixel", causality_axis="height", dropout=0.0,
        mid_block_add_attention=False, sample_rate=AUDIO_RATE, mel_hop_length=16, is_causal=True, mel_bins=8,
    ))
    vocoder = seeded(6, lambda: LTX2Vocoder(
        in_channels=2 * 8, hidden_channels=32, out_channels=2, upsample_kernel_sizes=[8, 8], upsample_factors=[4, 4],
        resnet_kernel_sizes=[3], resnet_dilations=[[1, 3, 5]], leaky_relu_negative_slope=0.1,
        output_sampling_rate=AUDIO_RATE,
    ))
    return LTX2Pipeline(scheduler=FlowMatchEulerDiscreteScheduler(), vae=vae, audio_vae=audio_vae,
                        text_encoder=text_encoder, tokenizer=build_tokenizer(), connectors=connectors,
                        transformer=transformer, vocoder=vocoder)


BUILDERS: dict[str, Callable[[], Any]] = {"tiny-ltx-2": build_ltx2}


def build_upsampler() -> Any:
    """The x2 latent upsampler of the final flow, from diffusers' ``LTX2LatentUpsamplerModel`` at toy
    width (GroupNorm needs 32 channels), over the tiny VAE's latent channels."""
    from diffusers.pipelines.ltx2.latent_upsampler import LTX2LatentUpsamplerModel

    return seeded(7, lambda: LTX2LatentUpsamplerModel(
        in_channels=LATENT_CHANNELS, mid_channels=32, num_blocks_per_stage=1, dims=3, spatial_upsample=True,
        temporal_upsample=False, use_rational_resampler=False,
    )).eval()


COMPONENTS: dict[str, dict[str, Callable[[], Any]]] = {"tiny-ltx-2": {"latent_upsampler": build_upsampler}}
