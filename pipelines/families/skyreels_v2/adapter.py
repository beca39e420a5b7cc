"""The SkyReels-V2 diffusion-forcing adapter: Wan 2.1's text encoding, fp32 VAE and FLOP formula (the
transformer is Wan 2.1's with per-frame timesteps), diffusion forcing's window settings on every call, and
extension as a call of the video-to-video DF pipeline. Torch-free at import."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from pipelines.core.catalog import Mode, ModelEntry
from pipelines.core.spec import ResolvedSpec
from pipelines.families.base import first_last
from pipelines.families.skyreels_v2.models import DF_SETTINGS, MODELS, SKYREELS_V2_DF, TINY_MODELS
from pipelines.families.wan.adapter import WanFamily

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image


class SkyReelsV2Family(WanFamily):
    families: ClassVar[tuple[str, ...]] = (SKYREELS_V2_DF,)
    lora_pipeline_class: ClassVar[str] = "SkyReelsV2DiffusionForcingPipeline"
    extend_method: ClassVar[str] = "diffusion_forcing"
    synthetic_module: ClassVar[str | None] = None  # the transformer is Wan 2.1's; Wan's synthetic builds measure it

    def entries(self) -> list[ModelEntry]:
        return MODELS + TINY_MODELS

    def check_entry(self, entry: ModelEntry) -> None:
        super().check_entry(entry)
        if entry.id not in DF_SETTINGS:
            raise ValueError(f"{entry.id}: no diffusion-forcing settings in skyreels_v2.models.DF_SETTINGS")

    def mode_kwargs(self, entry: ModelEntry, spec: ResolvedSpec, first: Image.Image | None,
                    last: Image.Image | None) -> dict[str, Any]:
        df = DF_SETTINGS[entry.id]
        kw: dict[str, Any] = {"fps": spec.fps, "base_num_frames": df.base_num_frames,
                              "overlap_history": df.overlap_history, "addnoise_condition": df.addnoise_condition,
                              "ar_step": df.ar_step, "causal_block_size": df.causal_block_size}
        if spec.mode is Mode.VIDEO_TO_VIDEO:
            from pipelines.families.skyreels_v2.continuation import source_window

            source = spec.extend_video or spec.video
            assert source is not None  # resolve() checked it
            kw["video"] = source_window(source, df.overlap_history, spec.width, spec.height)
            # diffusers counts the re-decoded overlap as generated: the window is overlap + the new frames,
            # minus the one frame they share (the source's last, which ``continuation`` keeps as the seam).
            kw["num_frames"] = df.overlap_history + spec.num_frames - 1
            return kw
        if spec.mode is Mode.TEXT_TO_VIDEO:
            kw["prompt"] = None  # a required argument of this pipeline's __call__; the embeddings stand in for it
        with_first, with_last = first_last(spec.mode)
        if with_first:
            kw["image"] = first
        if with_last:
            kw["last_image"] = last
        return kw

    def requested_frames(self, entry: ModelEntry, spec: ResolvedSpec, frames: np.ndarray) -> np.ndarray:
        """The DF video-to-video pipeline returns the source window it was given, the re-decoded overlap and
        the new frames; the continuation is the last ``num_frames``, its first frame the source's last (the
        seam an extension's ``stitch`` drops)."""
        if spec.mode is Mode.VIDEO_TO_VIDEO:
            return frames[-spec.num_frames:]
        return frames

    def tiny_builders(self) -> dict[str, Callable[[], Any]]:
        from pipelines.families.skyreels_v2.tiny import BUILDERS

        return BUILDERS
