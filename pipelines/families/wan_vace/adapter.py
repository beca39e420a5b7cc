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
        return None  # Wan's formula leaves out the VACE blocks; the counted figure stands alone

    def tiny_builders(self) -> dict[str, Callable[[], Any]]:
        from pipelines.families.wan_vace.tiny import BUILDERS

        return BUILDERS

    def synthetic_ids(self) -> list[str]:
        return []  # no published VACE config is built synthetically yet

    def synthetic_transformer(self, model_id: str) -> Any:
        raise KeyError(f"no synthetic config for {model_id!r}")

    def synthetic_pipeline(self, entry: ModelEntry) -> Any:
        raise KeyError(f"no synthetic config for {entry.id!r}")
