"""The Wan adapter: UMT5 text encoding at 512 tokens, image/last_image conditioning, the low-noise
expert's guidance, float32 VAE, the analytic FLOP formula. Torch-free at import."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from pipelines.core.catalog import ModelEntry
from pipelines.core.spec import ResolvedSpec
from pipelines.families.base import FamilyAdapter, first_last, uses_cfg
from pipelines.families.wan.models import MODELS, TINY_MODELS, WAN21, WAN22

if TYPE_CHECKING:
    import torch
    from PIL import Image



class WanFamily(FamilyAdapter):
    families: ClassVar[tuple[str, ...]] = (WAN21, WAN22)
    lora_pipeline_class: ClassVar[str] = "WanPipeline"
    synthetic_module: ClassVar[str | None] = "pipelines.families.wan.synthetic"

    def entries(self) -> list[ModelEntry]:
        return MODELS + TINY_MODELS

    def check_entry(self, entry: ModelEntry) -> None:
        d = entry.defaults
        if d.flow_shift is None:
            raise ValueError(f"{entry.id}: Wan entries must set flow_shift (published per model)")
        given = sorted(k for k in ("decode_timestep", "decode_noise_scale", "image_cond_noise_scale")
                       if getattr(d, k) is not None)
        if given:
            raise ValueError(f"{entry.id}: {given} are LTX-Video settings")

    def encode_text(self, entry: ModelEntry, pipe: Any, spec: ResolvedSpec, device: torch.device) -> dict[str, Any]:
        cfg = uses_cfg(spec)
        pe, npe = pipe.encode_prompt(
            prompt=spec.prompt, negative_prompt=spec.negative_prompt, do_classifier_free_guidance=cfg,
            num_videos_per_prompt=1, max_sequence_length=512, device=device,
        )
        out = {"prompt_embeds": pe}
        if cfg:
            out["negative_prompt_embeds"] = npe
        return out

    def mode_kwargs(self, entry: ModelEntry, spec: ResolvedSpec, first: Image.Image | None,
                    last: Image.Image | None) -> dict[str, Any]:
        kw: dict[str, Any] = {}
        if spec.guidance_scale_2 is not None and entry.architecture.experts == 2:
            kw["guidance_scale_2"] = spec.guidance_scale_2
        with_first, with_last = first_last(spec.mode)
        if with_first:
            kw["image"] = first
        if with_last:
            kw["last_image"] = last
        return kw

    def load_dtype(self, dtype: torch.dtype) -> Any:
        import torch

        # Wan's VAE is published to run in float32; a bf16 VAE visibly bands the decoded video.
        if dtype != torch.float32:
            return {"default": dtype, "vae": torch.float32, "image_encoder": torch.float32}
        return dtype

    def tiny_builders(self) -> dict[str, Callable[[], Any]]:
        from pipelines.families.wan.tiny import BUILDERS

        return BUILDERS

    def analytic_flops(self, entry: ModelEntry, spec: ResolvedSpec, forwards: int) -> int | None:
        from pipelines.families.wan.flops import WanShape, wan_forward_flops, wan_tokens

        arch = entry.architecture
        if not arch.dim:
            return None
        shape = WanShape(dim=arch.dim, ffn_dim=arch.ffn_dim or 0, num_layers=arch.num_layers or 0,
                         text_dim=arch.text_dim, in_channels=arch.latent_channels,
                         out_channels=arch.latent_channels, patch=arch.patch)
        tokens = wan_tokens(spec.num_frames, spec.height, spec.width, arch.vae_spatial, arch.patch,
                            arch.vae_temporal)
        return forwards * wan_forward_flops(shape, tokens)
