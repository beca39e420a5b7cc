"""Prompt encoding for pipelines whose ``encode_prompt`` returns embeddings with attention masks
(LTX-Video's T5, LTX-2's Gemma 3): the embedding keyword arguments, the negative ones only when CFG
runs. Torch-free at import."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pipelines.core.spec import ResolvedSpec
from pipelines.families.base import uses_cfg

if TYPE_CHECKING:
    import torch


def encode_masked_prompt(pipe: Any, spec: ResolvedSpec, device: torch.device, max_sequence_length: int | None = None,
                         cfg: bool | None = None) -> dict[str, Any]:
    """``pipe.encode_prompt`` once, at ``max_sequence_length`` tokens when given (else the pipeline's
    own default), so the pipeline call does not encode again; the negative prompt too when CFG runs
    (``cfg``, by default the request's guidance above 1)."""
    cfg = uses_cfg(spec) if cfg is None else cfg
    length = {} if max_sequence_length is None else {"max_sequence_length": max_sequence_length}
    pe, pm, npe, npm = pipe.encode_prompt(
        prompt=spec.prompt, negative_prompt=spec.negative_prompt, do_classifier_free_guidance=cfg,
        num_videos_per_prompt=1, device=device, **length,
    )
    out = {"prompt_embeds": pe, "prompt_attention_mask": pm}
    if cfg:
        out |= {"negative_prompt_embeds": npe, "negative_prompt_attention_mask": npm}
    return out
