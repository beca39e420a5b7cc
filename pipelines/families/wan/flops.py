"""Wan's transformer FLOPs by formula (shared/reference/anchors.md, 2 FLOPs per multiply-add), to
cross-check the FLOPs PyTorch counts (``benchmarks.flops``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WanShape:
    dim: int
    ffn_dim: int
    num_layers: int
    text_dim: int = 4096
    in_channels: int = 16
    out_channels: int = 16
    patch: tuple[int, int, int] = (1, 2, 2)
    text_tokens: int = 512


def wan_tokens(frames: int, height: int, width: int, vae_spatial: int = 8, patch: tuple[int, int, int] = (1, 2, 2),
               vae_temporal: int = 4) -> int:
    lat_f = (frames - 1) // vae_temporal + 1
    return (lat_f // patch[0]) * (height // vae_spatial // patch[1]) * (width // vae_spatial // patch[2])


def wan_forward_flops(shape: WanShape, tokens: int, with_embedders: bool = True) -> int:
    """One transformer forward. The per-block terms are the anchors.md formula; the embedders
    (text projection, patch embedding, output head) matter only for tiny models."""
    d, L, T = shape.dim, tokens, shape.text_tokens
    total = shape.num_layers * wan_block_flops(shape, tokens)
    if with_embedders:
        p = shape.patch[0] * shape.patch[1] * shape.patch[2]
        total += 2 * T * (shape.text_dim * d + d * d)  # text embedder: two linears
        total += 2 * L * shape.in_channels * p * d  # patch embedding (a strided conv)
        total += 2 * L * d * shape.out_channels * p  # output projection
    return total


def wan_block_flops(shape: WanShape, tokens: int) -> int:
    """One Wan block: self-attention (Q/K/V/out, scores), cross-attention to the text (Q/out on the video,
    K/V on the text, scores) and the FFN."""
    d, f, L, T = shape.dim, shape.ffn_dim, tokens, shape.text_tokens
    return 8 * L * d * d + 4 * L * L * d + 4 * L * d * d + 4 * T * d * d + 4 * L * T * d + 4 * L * d * f


def vace_forward_flops(shape: WanShape, tokens: int, vace_blocks: int, vace_in_channels: int,
                       with_embedders: bool = True) -> int:
    """One Wan VACE forward: Wan's, plus each VACE block (a Wan block over the control tokens with an output
    projection; the first also projects its input) and the control input's patch embedding."""
    d, L = shape.dim, tokens
    total = wan_forward_flops(shape, tokens, with_embedders)
    total += vace_blocks * (wan_block_flops(shape, tokens) + 2 * L * d * d) + 2 * L * d * d
    if with_embedders:
        p = shape.patch[0] * shape.patch[1] * shape.patch[2]
        total += 2 * L * vace_in_channels * p * d
    return total
