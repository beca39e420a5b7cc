"""LTX-2's transformer FLOPs by formula (2 FLOPs per multiply-add, as ``pipelines.families.wan.flops``),
to cross-check what PyTorch counts (``benchmarks.flops``) and for MFU on a GPU run.

One forward of ``LTX2VideoTransformer3DModel`` per sample, block by block (diffusers 0.42): video
self-attention, video-text cross-attention (the prompt projected to the video width first), audio
self-attention, audio-text cross-attention, audio-to-video attention (video queries, audio keys, at the
audio width), video-to-audio attention (audio queries, video keys), and the two feed-forwards; outside
the blocks the patch projections in and out, the two caption projections and the timestep embedders
(one timestep per sample, as text-to-video runs; image conditioning's per-token timesteps add ~1% not
counted here). Norms, RoPE, gates and the modulation arithmetic are elementwise and left out.
"""

from __future__ import annotations

from dataclasses import dataclass

# Sinusoidal timestep features fed to every timestep embedder (diffusers' Timesteps(256)).
TIMESTEP_FEATURES = 256


@dataclass(frozen=True)
class AudioStream:
    """The audio half of an LTX-2 transformer, and how many audio tokens a second of video makes:
    ``sample_rate / hop_length / temporal_compression`` latent frames per second (the audio VAE's)."""

    dim: int
    ffn_dim: int
    in_channels: int
    sample_rate: int = 16000
    hop_length: int = 160
    temporal_compression: int = 4

    def tokens(self, num_frames: int, fps: float) -> int:
        """Audio latent frames for ``num_frames`` at ``fps`` (LTX2Pipeline's ``audio_num_frames``)."""
        return round(num_frames / fps * self.sample_rate / self.hop_length / self.temporal_compression)


@dataclass(frozen=True)
class Ltx2Shape:
    dim: int
    ffn_dim: int
    num_layers: int
    audio: AudioStream
    caption_channels: int = 3840
    in_channels: int = 128
    text_tokens: int = 1024


def ltx2_video_tokens(frames: int, height: int, width: int, vae_spatial: int = 32, vae_temporal: int = 8) -> int:
    """Video tokens of one sample (LTX-2's transformer patch is 1x1x1)."""
    return ((frames - 1) // vae_temporal + 1) * (height // vae_spatial) * (width // vae_spatial)


def _attention(queries: int, keys: int, q_dim: int, kv_dim: int, inner: int) -> int:
    """Q from ``q_dim``, K and V from ``kv_dim``, out back to ``q_dim``, and the attention itself."""
    return 2 * queries * q_dim * inner + 4 * keys * kv_dim * inner + 2 * queries * inner * q_dim \
        + 4 * queries * keys * inner


def ltx2_block_flops(shape: Ltx2Shape, video_tokens: int, audio_tokens: int) -> int:
    d, a, T = shape.dim, shape.audio.dim, shape.text_tokens
    Lv, La = video_tokens, audio_tokens
    video = _attention(Lv, Lv, d, d, d) + _attention(Lv, T, d, d, d) + 4 * Lv * d * shape.ffn_dim
    audio = _attention(La, La, a, a, a) + _attention(La, T, a, a, a) + 4 * La * a * shape.audio.ffn_dim
    a2v = _attention(Lv, La, d, a, a)  # video queries attend to the audio, at the audio width
    v2a = _attention(La, Lv, a, d, a)  # audio queries attend to the video
    return video + audio + a2v + v2a


@dataclass(frozen=True)
class Ltx2Passes:
    """The transformer calls of one LTX2Pipeline step: the main call (batch 2 with CFG), an STG call and a
    modality-isolation call (audio-to-video and video-to-audio attention off), each when its guidance runs."""

    cfg: bool
    stg: bool
    modality: bool

    @property
    def calls(self) -> int:
        return 1 + self.stg + self.modality


def _timestep_embedder(dim: int, mod_params: int) -> int:
    return 2 * (TIMESTEP_FEATURES * dim + dim * dim + dim * mod_params * dim)


def ltx2_forward_flops(shape: Ltx2Shape, video_tokens: int, audio_tokens: int, with_embedders: bool = True,
                       isolated: bool = False) -> int:
    """One transformer forward of one sample (a CFG-batched call of batch 2 is two); ``isolated``: the
    modality-isolation pass, without the audio-to-video and video-to-audio attention."""
    total = shape.num_layers * ltx2_block_flops(shape, video_tokens, audio_tokens)
    if isolated:
        d, a, Lv, La = shape.dim, shape.audio.dim, video_tokens, audio_tokens
        total -= shape.num_layers * (_attention(Lv, La, d, a, a) + _attention(La, Lv, a, d, a))
    if with_embedders:
        d, a, T, c = shape.dim, shape.audio.dim, shape.text_tokens, shape.caption_channels
        total += 2 * video_tokens * shape.in_channels * d * 2  # proj_in and proj_out
        total += 2 * audio_tokens * shape.audio.in_channels * a * 2
        total += 2 * T * (c * d + d * d) + 2 * T * (c * a + a * a)  # the two caption projections
        # time embeddings (6 modulations each), cross-attention scale/shift (4) and gates (1), per modality
        total += sum(_timestep_embedder(d, k) + _timestep_embedder(a, k) for k in (6, 4, 1))
    return total


def ltx2_step_flops(shape: Ltx2Shape, passes: Ltx2Passes, video_tokens: int, audio_tokens: int) -> int:
    """Every transformer call of one denoising step."""
    full = ltx2_forward_flops(shape, video_tokens, audio_tokens)
    total = (2 if passes.cfg else 1) * full + (full if passes.stg else 0)
    if passes.modality:
        total += ltx2_forward_flops(shape, video_tokens, audio_tokens, isolated=True)
    return total
