"""The Wan VACE adapter: Wan's text encoding and fp32 VAE (VACE is Wan 2.1 plus a control branch), with
VACE's own conditioning per mode (``conditions.vace_kwargs``) and sequence length. Torch-free at import."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from pipelines.core.catalog import ModelEntry
from pipelines.core.spec import ResolvedSpec
from pipelines.families.wan.adapter import WanFamily
from pipelines.families.wan_vace.models import MODELS, TINY_MODELS, WAN_VACE

if TYPE_CHECKING:
    from PIL import Image


class WanVaceFamily(WanFamily):
    families: ClassVar[tuple[str, ...]] = (WAN_VACE,)
    lora_pipeline_class: ClassVar[str] = "WanVACEPipeline"
    synthetic_module: ClassVar[str | None] = "pipelines.families.wan_vace.synthetic"

    def entries(self) -> list[ModelEntry]:
        return MODELS + TINY_MODELS

    def mode_kwargs(self, entry: ModelEntry, spec: ResolvedSpec, first: Image.Image | None,
                    last: Image.Image | None) -> dict[str, Any]:
        from pipelines.families.wan_vace.conditions import vace_kwargs

        return vace_kwargs(spec, first, last)

    def sequence_tokens(self, entry: ModelEntry, spec: ResolvedSpec) -> int:
        """Each reference image is one more latent frame in the sequence."""
        from pipelines.core.memory import latent_tokens

        frames = latent_tokens(entry, spec.width, spec.height, spec.num_frames)
        per_frame = latent_tokens(entry, spec.width, spec.height, 1)
        return frames + per_frame * len(spec.reference_images)

    def analytic_flops(self, entry: ModelEntry, spec: ResolvedSpec, forwards: int) -> int | None:
        """Wan's formula plus the VACE blocks, over the whole sequence (reference images included)."""
        from pipelines.families.wan.flops import WanShape, vace_forward_flops
        from pipelines.families.wan_vace.models import VACE_BLOCKS

        arch, blocks = entry.architecture, VACE_BLOCKS.get(entry.id)
        if not (arch.dim and arch.ffn_dim and arch.num_layers) or blocks is None:
            return None
        shape = WanShape(dim=arch.dim, ffn_dim=arch.ffn_dim, num_layers=arch.num_layers, text_dim=arch.text_dim,
                         in_channels=arch.latent_channels, out_channels=arch.latent_channels, patch=arch.patch)
        tokens = self.sequence_tokens(entry, spec)
        return forwards * vace_forward_flops(shape, tokens, len(blocks.layers), blocks.in_channels)

    def tiny_builders(self) -> dict[str, Callable[[], Any]]:
        from pipelines.families.wan_vace.tiny import BUILDERS

        return BUILDERS
