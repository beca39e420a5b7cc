"""Per-family call adapters: how a resolved spec becomes a diffusers pipeline call.

Text is encoded here, before the pipeline call, so text-encode time is measured on its own;
the embeddings are then passed in and the pipeline does not encode again.
"""

from __future__ import annotations

from typing import Any

import torch
from PIL import Image

from pipelines.catalog import Family, Mode, ModelEntry
from pipelines.spec import ResolvedSpec


def _uses_cfg(spec: ResolvedSpec) -> bool:
    return spec.guidance_scale > 1.0 or (spec.guidance_scale_2 or 0.0) > 1.0


def encode_text(entry: ModelEntry, pipe: Any, spec: ResolvedSpec, device: torch.device) -> dict[str, Any]:
    cfg = _uses_cfg(spec)
    if entry.family is Family.LTX:
        pe, pm, npe, npm = pipe.encode_prompt(
            prompt=spec.prompt, negative_prompt=spec.negative_prompt, do_classifier_free_guidance=cfg,
            num_videos_per_prompt=1, device=device,
        )
        out = {"prompt_embeds": pe, "prompt_attention_mask": pm}
        if cfg:
            out |= {"negative_prompt_embeds": npe, "negative_prompt_attention_mask": npm}
        return out
    pe, npe = pipe.encode_prompt(
        prompt=spec.prompt, negative_prompt=spec.negative_prompt, do_classifier_free_guidance=cfg,
        num_videos_per_prompt=1, max_sequence_length=512, device=device,
    )
    out = {"prompt_embeds": pe}
    if cfg:
        out["negative_prompt_embeds"] = npe
    return out


def call_kwargs(entry: ModelEntry, spec: ResolvedSpec, first: Image.Image | None,
                last: Image.Image | None) -> dict[str, Any]:
    kw: dict[str, Any] = {
        "height": spec.height,
        "width": spec.width,
        "num_frames": spec.num_frames,
        "num_inference_steps": spec.steps,
        "guidance_scale": spec.guidance_scale,
        "output_type": "np",
    }
    schedule = entry.schedule_for(spec.steps)
    if schedule is not None:  # timestep-distilled: the published schedule (see ModelEntry.schedule_for)
        kw["timesteps"] = list(schedule)
    if entry.family is Family.LTX:
        kw["frame_rate"] = spec.fps
        kw |= _ltx_noise(entry, spec)
        if spec.mode is not Mode.TEXT_TO_VIDEO:
            from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition

            conds = [LTXVideoCondition(image=first, frame_index=0)]
            if spec.mode is Mode.FIRST_LAST_FRAME:
                conds.append(LTXVideoCondition(image=last, frame_index=spec.num_frames - 1))
            kw["conditions"] = conds
        return kw
    if spec.guidance_scale_2 is not None and entry.architecture.experts == 2:
        kw["guidance_scale_2"] = spec.guidance_scale_2
    if spec.mode is not Mode.TEXT_TO_VIDEO:
        kw["image"] = first
        if spec.mode is Mode.FIRST_LAST_FRAME:
            kw["last_image"] = last
    return kw


def _ltx_noise(entry: ModelEntry, spec: ResolvedSpec) -> dict[str, float]:
    """LTX's decode noise (every LTX pipeline) and image-condition noise (LTXConditionPipeline only):
    the resolved spec's values, the catalog's for a spec stored before they were resolved."""
    d = entry.defaults
    names = ["decode_timestep", "decode_noise_scale"]
    if spec.pipeline_class == "LTXConditionPipeline":
        names.append("image_cond_noise_scale")
    values = {n: getattr(spec, n) if getattr(spec, n) is not None else getattr(d, n) for n in names}
    return {n: v for n, v in values.items() if v is not None}
