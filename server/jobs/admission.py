"""``VramEstimate``: how much GPU memory a job needs, to refuse at submission what cannot fit.

The estimate, documented (all bf16, 2 bytes per value):
- weights: transformer parameters × experts (Wan 2.2 A14B keeps both experts resident)
  + text encoder parameters (+ 0.6B for a CLIP image encoder);
- activations: latent tokens × hidden dim × 2 bytes × 32, where latent tokens =
  (frames−1)/vae_temporal+1 × (H/vae_spatial/patch_h) × (W/vae_spatial/patch_w) — the transformer's
  live activations with a memory-efficient attention backend (no N² attention matrix);
- VAE decode: frames × H × W × 96 bytes (decoder feature maps at full resolution, untiled);
- 10% headroom over the sum, plus 1 GiB for the CUDA context.
It errs high on purpose: a refused job is a clear 400, an admitted one that OOMs is a wasted run.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.catalog import ModelEntry

GIB = 1024**3
_BYTES = 2
_ACTIVATION_FACTOR = 32
_VAE_BYTES_PER_PIXEL = 96
_CLIP_PARAMS_B = 0.6
_DEFAULT_DIM = 64


@dataclass(frozen=True)
class VramEstimate:
    weights_bytes: int
    activation_bytes: int
    vae_bytes: int

    @property
    def total_bytes(self) -> int:
        return int((self.weights_bytes + self.activation_bytes + self.vae_bytes) * 1.1) + GIB

    @classmethod
    def for_job(cls, entry: ModelEntry, width: int, height: int, num_frames: int) -> VramEstimate:
        a = entry.architecture
        params_b = a.transformer_params_b * a.experts + a.text_encoder_params_b
        if a.image_encoder:
            params_b += _CLIP_PARAMS_B
        weights = int(params_b * 1e9 * _BYTES)
        pt, ph, pw = a.patch
        t = ((num_frames - 1) // a.vae_temporal + 1) // pt
        tokens = t * (height // a.vae_spatial // ph) * (width // a.vae_spatial // pw)
        activations = tokens * (a.dim or _DEFAULT_DIM) * _BYTES * _ACTIVATION_FACTOR
        vae = num_frames * height * width * _VAE_BYTES_PER_PIXEL
        return cls(weights, activations, vae)

    def describe(self) -> str:
        return (
            f"~{self.total_bytes / GIB:.1f} GiB (weights {self.weights_bytes / GIB:.1f}, "
            f"activations {self.activation_bytes / GIB:.1f}, VAE decode {self.vae_bytes / GIB:.1f}, +10% and 1 GiB)"
        )
