"""The HunyuanVideo 1.5 adapter: Qwen2.5-VL + ByT5 text encoding (two embeddings, each with its
mask), guidance set on the pipeline's guider (the pipeline takes no ``guidance_scale``), steps
reported from the scheduler (no step callback), and image-to-video at the resolved size (the pipeline
would bucket the already fitted image to its own resolution). Torch-free at import."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from pipelines.core.catalog import Mode, ModelEntry
from pipelines.core.spec import ResolvedSpec
from pipelines.families.base import FamilyAdapter, uses_cfg

if TYPE_CHECKING:
    import torch
    from PIL import Image

HUNYUAN_VIDEO15 = "hunyuanvideo-1.5"  # pipelines.families.hunyuan_video15.models.HUNYUAN_VIDEO15_FAMILY


class HunyuanVideo15Family(FamilyAdapter):
    families: ClassVar[tuple[str, ...]] = (HUNYUAN_VIDEO15,)
    lora_pipeline_class: ClassVar[str] = "HunyuanVideo15Pipeline"
    # The guider runs cond and uncond as two transformer calls, but each carries its own text masks and
    # ByT5 stream, which vidserve's CFG batching hook (encoder_hidden_states only) does not batch: keep it off.
    batches_cfg: ClassVar[bool] = True
    synthetic_module: ClassVar[str | None] = "pipelines.families.hunyuan_video15.synthetic"

    def entries(self) -> list[ModelEntry]:
        from pipelines.families.hunyuan_video15.models import ENTRIES, TINY_ENTRIES

        return ENTRIES + TINY_ENTRIES

    def check_entry(self, entry: ModelEntry) -> None:
        d = entry.defaults
        if d.flow_shift is None:
            raise ValueError(f"{entry.id}: HunyuanVideo 1.5 entries must set flow_shift (published per checkpoint)")
        given = sorted(k for k in ("decode_timestep", "decode_noise_scale", "image_cond_noise_scale", "timesteps")
                       if getattr(d, k) is not None)
        if given:
            raise ValueError(f"{entry.id}: {given} are not HunyuanVideo 1.5 settings")
        if entry.distilled and d.guidance_scale != 1.0:
            raise ValueError(f"{entry.id}: the distilled checkpoints run without CFG (guidance_scale 1.0)")

    def encode_text(self, entry: ModelEntry, pipe: Any, spec: ResolvedSpec, device: torch.device) -> dict[str, Any]:
        # The guider is the pipeline's CFG switch and scale: set it for this call (every call sets it).
        pipe.guider = pipe.guider.new(guidance_scale=spec.guidance_scale)
        dtype = pipe.transformer.dtype
        pe, pm, pe2, pm2 = pipe.encode_prompt(prompt=spec.prompt, device=device, dtype=dtype)
        out = {"prompt_embeds": pe, "prompt_embeds_mask": pm, "prompt_embeds_2": pe2, "prompt_embeds_mask_2": pm2}
        if uses_cfg(spec):
            npe, npm, npe2, npm2 = pipe.encode_prompt(prompt=spec.negative_prompt or "", device=device, dtype=dtype)
            out |= {"negative_prompt_embeds": npe, "negative_prompt_embeds_mask": npm,
                    "negative_prompt_embeds_2": npe2, "negative_prompt_embeds_mask_2": npm2}
        return out

    def call_kwargs(self, entry: ModelEntry, spec: ResolvedSpec, first: Image.Image | None,
                    last: Image.Image | None) -> dict[str, Any]:
        kw = super().call_kwargs(entry, spec, first, last)
        del kw["guidance_scale"]  # on the guider (encode_text)
        return kw

    def mode_kwargs(self, entry: ModelEntry, spec: ResolvedSpec, first: Image.Image | None,
                    last: Image.Image | None) -> dict[str, Any]:
        return {"image": first} if spec.mode is Mode.IMAGE_TO_VIDEO else {}

    def call_pipeline(self, pipe: Any,
                      on_step_end: Callable[[Any, int, Any, dict[str, Any]], dict[str, Any]] | None,
                      kwargs: dict[str, Any]) -> Any:
        """HunyuanVideo 1.5's pipelines take no ``callback_on_step_end``: call it after each scheduler
        step instead (one per denoising step; raising there aborts the loop, as a callback's does)."""
        scheduler = pipe.scheduler
        step = scheduler.step
        done = 0

        def step_then_report(*args: Any, **kw: Any) -> Any:
            nonlocal done
            out = step(*args, **kw)
            timestep = args[1] if len(args) > 1 else kw.get("timestep")
            if on_step_end is not None:
                on_step_end(pipe, done, timestep, {})
            done += 1
            return out

        scheduler.step = step_then_report
        processor = pipe.video_processor
        if "image" in kwargs:
            # The image-to-video pipeline takes no size: it buckets the image to its checkpoint's resolution.
            # vidserve already fitted the image to the resolved size, so run at exactly that size.
            size = (kwargs.pop("height"), kwargs.pop("width"))
            processor.calculate_default_height_width = lambda height, width, target_size: size
        try:
            return pipe(**kwargs)
        finally:
            del scheduler.step  # the class's own method again
            processor.__dict__.pop("calculate_default_height_width", None)

    def tiny_builders(self) -> dict[str, Callable[[], Any]]:
        from pipelines.families.hunyuan_video15.tiny import BUILDERS

        return BUILDERS

    def analytic_flops(self, entry: ModelEntry, spec: ResolvedSpec, forwards: int) -> int | None:
        from pipelines.families.hunyuan_video15.flops import hunyuan_forward_flops, shape_for

        shape = shape_for(entry, spec.mode)
        if shape is None:
            return None
        return forwards * hunyuan_forward_flops(shape, self.sequence_tokens(entry, spec))
