"""HunyuanVideo 1.5's transformer FLOPs by formula (2 FLOPs per multiply-add), to cross-check the FLOPs
PyTorch counts (``benchmarks.flops``). Every block is dual-stream: the video tokens and the whole context
(Qwen2.5-VL text, ByT5 glyph and SigLIP image tokens, each padded to its fixed length) get their own
projections and feed-forward and attend jointly over all N = video + context tokens, so per block
``8·N·d² + 4·N²·d + 4·N·d·f`` (Q/K/V/out, attention, FFN), plus the adaLN modulation of the timestep.
The embedders around the blocks (the token refiner over the Qwen tokens, the ByT5 and image projections,
the patch embedding and output head) are counted too; they matter only for small models. Torch-free."""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.core.catalog import Mode, ModelEntry

# What the diffusers 0.42 pipelines feed the transformer, whatever the prompt: the Qwen prompt padded to
# 1000 tokens (after the 108-token template is cropped), ByT5's 256, and 729 image tokens (SigLIP 384/14 =
# 27 x 27; zeros for text-to-video).
TEXT_TOKENS, BYT5_TOKENS, IMAGE_TOKENS = 1000, 256, 729
_BYT5_HIDDEN = 2048  # diffusers' HunyuanVideo15ByT5TextProjection's fixed hidden width
_TIME_FREQ = 256     # sinusoidal timestep features


@dataclass(frozen=True)
class HunyuanShape:
    dim: int = 2048
    ffn_dim: int = 8192
    num_layers: int = 54
    refiner_layers: int = 2
    in_channels: int = 65              # 32 noise + 32 condition latents + 1 mask channel
    out_channels: int = 32
    text_dim: int = 3584               # Qwen2.5-VL 7B hidden size
    byt5_dim: int = 1472
    image_dim: int = 1152
    text_tokens: int = TEXT_TOKENS
    byt5_tokens: int = BYT5_TOKENS
    image_tokens: int = IMAGE_TOKENS
    meanflow: bool = False             # the step-distilled checkpoint's second timestep embedder

    @property
    def context_tokens(self) -> int:
        return self.text_tokens + self.byt5_tokens + self.image_tokens


def hunyuan_tokens(frames: int, height: int, width: int, vae_spatial: int = 16, vae_temporal: int = 4) -> int:
    """Video tokens: latent frames x rows x columns (patch 1)."""
    return ((frames - 1) // vae_temporal + 1) * (height // vae_spatial) * (width // vae_spatial)


def hunyuan_forward_flops(shape: HunyuanShape, tokens: int, with_embedders: bool = True) -> int:
    """One transformer forward over ``tokens`` video tokens (batch 1)."""
    d, f, L = shape.dim, shape.ffn_dim, tokens
    n = L + shape.context_tokens
    block = 8 * n * d * d + 4 * n * n * d + 4 * n * d * f + 2 * 12 * d * d  # + adaLN-Zero for both streams
    total = shape.num_layers * block
    if not with_embedders:
        return total
    t1 = shape.text_tokens
    time_mlp = 2 * (_TIME_FREQ * d + d * d)
    total += time_mlp * (2 if shape.meanflow else 1)
    # Token refiner over the Qwen tokens: its own timestep + pooled-text conditioning, input projection, and
    # self-attention blocks with a 4x SiLU feed-forward and a gate projection each.
    total += time_mlp + 2 * (shape.text_dim * d + d * d) + 2 * t1 * shape.text_dim * d
    total += shape.refiner_layers * (8 * t1 * d * d + 4 * t1 * t1 * d + 16 * t1 * d * d + 2 * 2 * d * d)
    h = _BYT5_HIDDEN
    total += 2 * shape.byt5_tokens * (shape.byt5_dim * h + h * h + h * d)
    total += 2 * shape.image_tokens * (shape.image_dim * shape.image_dim + shape.image_dim * d)
    total += 2 * L * shape.in_channels * d            # patch embedding (a 1x1x1 conv)
    total += 2 * 2 * d * d + 2 * L * d * shape.out_channels  # output norm's modulation, projection
    return total


def shape_for(entry: ModelEntry, mode: Mode) -> HunyuanShape | None:
    """The FLOP shape of an entry's transformer: the published one from its architecture, the tiny model's
    from ``tiny``'s sizes; None where the architecture has no dims."""
    a = entry.architecture
    if not (a.dim and a.ffn_dim and a.num_layers):
        return None
    shape = HunyuanShape(dim=a.dim, ffn_dim=a.ffn_dim, num_layers=a.num_layers, text_dim=a.text_dim,
                         in_channels=2 * a.latent_channels + 1, out_channels=a.latent_channels,
                         meanflow=entry.id.endswith("-step-distilled"))
    if not entry.tiny:
        return shape
    from pipelines.families.hunyuan_video15 import tiny

    image_tokens = tiny.IMAGE_TOKENS if mode is Mode.IMAGE_TO_VIDEO else IMAGE_TOKENS
    return HunyuanShape(dim=shape.dim, ffn_dim=shape.ffn_dim, num_layers=shape.num_layers,
                        refiner_layers=tiny.REFINER_LAYERS, in_channels=shape.in_channels,
                        out_channels=shape.out_channels, text_dim=shape.text_dim, byt5_dim=tiny.BYT5_DIM,
                        image_dim=tiny.IMAGE_DIM, image_tokens=image_tokens)
