"""GPU memory: the estimate a job needs under each strategy, and the planner that picks the fastest
strategy fitting a budget. The scheduler's admission check uses the same code. Torch-free.

The estimate (bf16 weights unless a strategy says otherwise):
- weights: transformer parameters x experts (Wan 2.2 A14B keeps both resident) + text encoder
  (+ 0.6B for a CLIP image encoder);
- activations: latent tokens x hidden dim x 2 bytes x 32, where latent tokens =
  ((frames-1)/vae_temporal+1) x (H/vae_spatial/patch_h) x (W/vae_spatial/patch_w) -- the transformer's
  live activations with a memory-efficient attention kernel (no N^2 attention matrix), plus any the
  architecture holds through the forward (``Architecture.held_activations``: VACE's control hints);
- VAE decode: frames x H x W x 96 bytes at full resolution, untiled (tiling bounds it by the tile);
- 10% headroom over the sum, plus 1 GiB for the CUDA context.
It errs high on purpose: a refused job is a clear 400, an admitted one that OOMs is a wasted run.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pipelines.core.catalog import ModelEntry

GIB = 1024**3
_BYTES = 2
_ACTIVATION_FACTOR = 32
_VAE_BYTES_PER_PIXEL = 96
_VAE_TILE_PIXELS = 256 * 256  # diffusers' default Wan/LTX tile, with overlap
_CLIP_PARAMS_B = 0.6
_DEFAULT_DIM = 64


class MemoryStrategy(StrEnum):
    """Ordered fastest first. Each adds to the previous one's savings."""

    NONE = "none"                      # everything resident
    VAE_TILING = "vae_tiling"          # decode in spatial tiles
    TEXT_OFFLOAD = "text_offload"      # text/image encoders live on the CPU, moved in to encode
    LAYERWISE_FP8 = "layerwise_fp8"    # transformer weights stored fp8, upcast per layer to compute
    GROUP_OFFLOAD = "group_offload"    # transformer blocks streamed from pinned CPU memory, overlapped
    SEQUENTIAL = "sequential"          # leaf-level offload: smallest footprint, slowest


# Expected time relative to NONE, used to rank strategies (measured on GPU by `vidserve bench`;
# these defaults follow published diffusers offload/fp8 figures and are conservative).
SLOWDOWN = {
    MemoryStrategy.NONE: 1.0,
    MemoryStrategy.VAE_TILING: 1.03,
    MemoryStrategy.TEXT_OFFLOAD: 1.05,
    MemoryStrategy.LAYERWISE_FP8: 1.10,
    MemoryStrategy.GROUP_OFFLOAD: 1.35,
    MemoryStrategy.SEQUENTIAL: 4.0,
}


@dataclass(frozen=True)
class VramEstimate:
    weights_bytes: int
    activation_bytes: int
    vae_bytes: int
    strategy: MemoryStrategy = MemoryStrategy.NONE

    @property
    def total_bytes(self) -> int:
        return int((self.weights_bytes + self.activation_bytes + self.vae_bytes) * 1.1) + GIB

    @classmethod
    def for_job(cls, entry: ModelEntry, width: int, height: int, num_frames: int,
                strategy: MemoryStrategy = MemoryStrategy.NONE, ranks: int = 1, final: bool = False,
                tokens: int | None = None) -> VramEstimate:
        """Per GPU. With context parallelism over ``ranks`` GPUs each holds all weights and 1/ranks
        of the transformer's activations (the VAE decode is not split). ``tokens``: the job's sequence
        length when its conditions add to the video's (the family's ``sequence_tokens``: VACE's
        reference images, LTX's last-frame condition); default the video's latent tokens."""
        a = entry.architecture
        order = list(MemoryStrategy)
        at_least = order.index(strategy)
        transformer_b = a.transformer_params_b * a.experts
        encoders_b = a.text_encoder_params_b + (_CLIP_PARAMS_B if a.image_encoder else 0.0) + a.extra_params_b
        if final and entry.final_flow is not None:  # quality final: the latent upsampler is resident too
            encoders_b += entry.final_flow.upsampler_params_b
        transformer_bytes = transformer_b * 1e9 * _BYTES
        encoder_bytes = encoders_b * 1e9 * _BYTES
        if at_least >= order.index(MemoryStrategy.LAYERWISE_FP8):
            transformer_bytes /= 2  # fp8 storage: one byte per weight
        if at_least >= order.index(MemoryStrategy.GROUP_OFFLOAD):
            # Only the groups in flight are resident: with one block per group and a stream
            # prefetching the next, about two blocks of one expert; encoders stream leaf by leaf.
            layers = a.num_layers or 40
            weights = transformer_bytes / a.experts / layers * 2 + 0.5 * GIB
        elif at_least >= order.index(MemoryStrategy.TEXT_OFFLOAD):
            # Model offload keeps one component on the GPU at a time: the larger one sets the peak.
            weights = max(transformer_bytes, encoder_bytes)
        else:
            weights = transformer_bytes + encoder_bytes
        if tokens is None:
            tokens = latent_tokens(entry, width, height, num_frames)
        activations = -(-tokens // max(1, ranks)) * (a.dim or _DEFAULT_DIM) * _BYTES * (
            _ACTIVATION_FACTOR + a.held_activations)
        pixels = height * width
        if at_least >= order.index(MemoryStrategy.VAE_TILING):
            pixels = min(pixels, _VAE_TILE_PIXELS)
        vae = num_frames * pixels * _VAE_BYTES_PER_PIXEL
        return cls(int(weights), activations, vae, strategy)

    def describe(self) -> str:
        return (
            f"~{self.total_bytes / GIB:.1f} GiB with strategy {self.strategy.value} (weights "
            f"{self.weights_bytes / GIB:.1f}, activations {self.activation_bytes / GIB:.1f}, VAE decode "
            f"{self.vae_bytes / GIB:.1f}, +10% and 1 GiB)"
        )


@dataclass(frozen=True)
class MemoryPlan:
    strategy: MemoryStrategy
    estimate: VramEstimate
    fits: bool


def latent_tokens(entry: ModelEntry, width: int, height: int, num_frames: int) -> int:
    """The transformer's video sequence length for a job: latent frames x latent rows x columns, patched."""
    a = entry.architecture
    pt, ph, pw = a.patch
    t = ((num_frames - 1) // a.vae_temporal + 1) // pt
    return t * (height // a.vae_spatial // ph) * (width // a.vae_spatial // pw)


def plan_memory(entry: ModelEntry, width: int, height: int, num_frames: int, budget_bytes: int | None,
                allowed: list[MemoryStrategy] | None = None, ranks: int = 1, final: bool = False,
                tokens: int | None = None) -> MemoryPlan:
    """The fastest strategy whose estimate fits ``budget_bytes`` per GPU (no budget: everything
    resident), for a job split over ``ranks`` GPUs. When none fits, the most frugal one is returned
    with ``fits=False``."""
    candidates = allowed or list(MemoryStrategy)
    last: MemoryPlan | None = None
    for strategy in sorted(candidates, key=lambda s: SLOWDOWN[s]):
        est = VramEstimate.for_job(entry, width, height, num_frames, strategy, ranks, final, tokens)
        last = MemoryPlan(strategy, est, budget_bytes is None or est.total_bytes <= budget_bytes)
        if last.fits:
            return last
    assert last is not None
    return last
