"""LTX-2's two-stage production flow (``quality: "final"``), as diffusers' LTX-2 docs run it
("Two-stages Generation"): stage 1 denoises at half the size with the request's steps and CFG and
returns latents; ``LTX2LatentUpsamplePipeline`` doubles the video latents; stage 2 re-noises them
(and the audio latents) to the first distilled sigma and refines at the full size on the distilled
sigmas, with the distilled LoRA where the entry names one, on a scheduler without dynamic shifting so
the sigmas run as published. Every mode: image-to-video and first+last condition both stages, each at
its own size (``stage2_pipeline``). Imported only when a final job runs (torch, diffusers)."""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pipelines.core.catalog import TwoStageFlow
from pipelines.core.errors import ModelUnavailable
from pipelines.core.spec import ResolvedSpec
from pipelines.families.base import FlowStage, StageCall

# The stage-2 LoRA's adapter name while stage 2 runs (deleted after it, so per-request LoRAs see none).
STAGE2_ADAPTER = "vidserve_stage_2_distilled"

# One upsample pipeline per loaded LTX-2 pipeline, built on first use and dropped with it.
_UPSAMPLERS: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
# Image-to-video's stage-2 pipeline (LTX2ConditionPipeline over its components), likewise.
_CONDITIONERS: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def run_final(final: TwoStageFlow, flow: list[FlowStage], pipe: Any, spec: ResolvedSpec, kwargs: dict[str, Any],
              call: StageCall, location: Path) -> Any:
    stage1, upsample, stage2 = flow
    assert stage2.sigmas is not None and stage2.guidance_scale is not None
    # Stage 1 at half size: the mode's own pipeline resizes its conditioning images to that size.
    video_latents, audio_latents = call(pipe, stage1, **kwargs | {
        "width": stage1.width, "height": stage1.height, "output_type": "latent", "return_dict": False})
    upsampler = upsample_pipeline(pipe, spec.model, location / final.upsampler)
    upscaled = call(upsampler, upsample, latents=video_latents, output_type="latent", return_dict=False)[0]
    refine, conditioned = stage2_pipeline(pipe, kwargs)
    second = {k: v for k, v in conditioned.items() if k != "timesteps"} | {
        "latents": upscaled, "audio_latents": audio_latents, "width": stage2.width, "height": stage2.height,
        "num_inference_steps": stage2.steps, "sigmas": list(stage2.sigmas), "noise_scale": stage2.sigmas[0],
        "guidance_scale": stage2.guidance_scale,
    }
    from diffusers import FlowMatchEulerDiscreteScheduler

    scheduler = refine.scheduler
    refine.scheduler = FlowMatchEulerDiscreteScheduler.from_config(pipe.scheduler.config, use_dynamic_shifting=False,
                                                                   shift_terminal=None)
    try:
        with stage2_lora(pipe, final, spec, location):
            return call(refine, stage2, **second)
    finally:
        refine.scheduler = scheduler  # the next job (draft or stage 1) gets the loaded scheduler back


def stage2_pipeline(pipe: Any, kwargs: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """The pipeline stage 2 refines on, and its call arguments (``kwargs`` as stage 1 had them).

    Stage 2 conditions again, at the full size, as the LTX-2 reference's two-stage pipelines do (each
    stage encodes its image conditionings at its own resolution): ``LTX2ConditionPipeline`` encodes its
    ``conditions`` at the call's size, first frame over the upscaled latents, later frames appended, so
    first+last runs stage 2 on its own pipeline. ``LTX2ImageToVideoPipeline`` given latents keeps their
    first frame (the stage-1 image, upscaled) and ignores ``image``, so image-to-video refines on an
    ``LTX2ConditionPipeline`` over the same components with the image as the condition at frame 0.
    Text-to-video refines on its own pipeline."""
    if "image" not in kwargs:
        return pipe, kwargs
    from diffusers.pipelines.ltx2.pipeline_ltx2_condition import LTX2VideoCondition

    held = _CONDITIONERS.get(pipe)
    if held is None:
        import inspect

        from diffusers.pipelines.ltx2 import LTX2ConditionPipeline

        # Built over the same module objects: nothing loads, nothing is copied or cast (``from_pipe`` would
        # cast every shared module to its own dtype, float32 by default, under the loaded pipeline's feet).
        takes = inspect.signature(LTX2ConditionPipeline.__init__).parameters
        held = LTX2ConditionPipeline(**{k: v for k, v in pipe.components.items() if k in takes})
        _CONDITIONERS[pipe] = held
    rest = {k: v for k, v in kwargs.items() if k != "image"}
    return held, rest | {"conditions": [LTX2VideoCondition(frames=kwargs["image"], index=0, strength=1.0)]}


def upsample_pipeline(pipe: Any, model_id: str, folder: Path) -> Any:
    """``LTX2LatentUpsamplePipeline`` over ``pipe``'s VAE and the upsampler in ``folder`` (local files),
    on the pipeline's device and in its VAE's dtype; loaded once per loaded pipeline."""
    held = _UPSAMPLERS.get(pipe)
    if held is not None:
        return held
    if not (folder / "config.json").is_file():
        raise ModelUnavailable(model_id, f"no latent upsampler at {folder} (quality final needs it); "
                               f"run `vidserve weights pull {model_id}`", folder)
    from diffusers.pipelines.ltx2 import LTX2LatentUpsamplePipeline
    from diffusers.pipelines.ltx2.latent_upsampler import LTX2LatentUpsamplerModel

    model = LTX2LatentUpsamplerModel.from_pretrained(str(folder), dtype=pipe.vae.dtype, local_files_only=True)
    held = LTX2LatentUpsamplePipeline(vae=pipe.vae, latent_upsampler=model.to(pipe._execution_device).eval())
    _UPSAMPLERS[pipe] = held
    return held


@contextlib.contextmanager
def stage2_lora(pipe: Any, final: TwoStageFlow, spec: ResolvedSpec, location: Path) -> Iterator[None]:
    """The distilled LoRA active, next to the request's own LoRAs, for stage 2 only."""
    if final.stage2_lora is None:
        yield
        return
    path = location / final.stage2_lora
    if not path.is_file():
        raise ModelUnavailable(spec.model, f"no stage-2 LoRA at {path} (quality final needs it); "
                               f"run `vidserve weights pull {spec.model}`", path)
    active = {ref.adapter_name("transformer"): ref.strength for ref in spec.loras if "transformer" in ref.targets}
    pipe.load_lora_weights(str(path), adapter_name=STAGE2_ADAPTER)
    try:
        pipe.transformer.set_adapters([*active, STAGE2_ADAPTER], [*active.values(), 1.0])
        yield
    finally:
        pipe.transformer.delete_adapters([STAGE2_ADAPTER])
        if active:
            pipe.transformer.set_adapters(list(active), list(active.values()))
