"""The LTX-Video adapter: T5 text encoding with attention masks, conditioning as
``LTXVideoCondition`` frames (first at 0, last at -1), the frame rate passed to the pipeline, CFG
already batched by the pipeline, its step-cache thresholds and context-parallel plan. Torch-free at
import."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from pipelines.core.catalog import Mode, ModelEntry
from pipelines.core.memory import latent_tokens
from pipelines.core.spec import ResolvedSpec
from pipelines.families.base import CacheThresholds, FamilyAdapter, first_last
from pipelines.families.ltx_video.models import LTX_VIDEO, MODELS, TINY_MODELS
from pipelines.families.masked_text import encode_masked_prompt

if TYPE_CHECKING:
    import torch
    from PIL import Image

_NOISE_SETTINGS = ("decode_timestep", "decode_noise_scale", "image_cond_noise_scale")


class LtxVideoFamily(FamilyAdapter):
    families: ClassVar[tuple[str, ...]] = (LTX_VIDEO,)
    lora_pipeline_class: ClassVar[str] = "LTXPipeline"
    synthetic_module: ClassVar[str | None] = "pipelines.families.ltx_video.synthetic"
    batches_cfg: ClassVar[bool] = True
    # LTX's residuals move faster than Wan's between steps: lower thresholds.
    cache_thresholds: ClassVar[CacheThresholds] = CacheThresholds(fast=0.03, fastest=0.06)

    def entries(self) -> list[ModelEntry]:
        return MODELS + TINY_MODELS

    def encode_text(self, entry: ModelEntry, pipe: Any, spec: ResolvedSpec, device: torch.device) -> dict[str, Any]:
        return encode_masked_prompt(pipe, spec, device)  # T5 at the pipeline's own 128 tokens

    def check_entry(self, entry: ModelEntry) -> None:
        d = entry.defaults
        # LTX-Video's scheduler shifts by resolution itself (use_dynamic_shifting): a fixed shift is ignored.
        if d.flow_shift is not None:
            raise ValueError(f"{entry.id}: LTX-Video takes no fixed flow_shift")
        unset = sorted(k for k in _NOISE_SETTINGS if getattr(d, k) is None)
        if unset:
            raise ValueError(f"{entry.id}: LTX-Video entries must set {unset}")

    def mode_kwargs(self, entry: ModelEntry, spec: ResolvedSpec, first: Image.Image | None,
                    last: Image.Image | None) -> dict[str, Any]:
        kw: dict[str, Any] = {"frame_rate": spec.fps} | _noise(entry, spec)
        with_first, with_last = first_last(spec.mode)
        if with_first:
            from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition

            conds = [LTXVideoCondition(image=first, frame_index=0)]
            if with_last:
                conds.append(LTXVideoCondition(image=last, frame_index=spec.num_frames - 1))
            kw["conditions"] = conds
        return kw

    def sequence_tokens(self, entry: ModelEntry, spec: ResolvedSpec) -> int:
        # LTXConditionPipeline appends the last image's latent frame as condition tokens.
        tokens = latent_tokens(entry, spec.width, spec.height, spec.num_frames)
        if spec.mode is Mode.FIRST_LAST_FRAME:
            tokens += latent_tokens(entry, spec.width, spec.height, 1)
        return tokens

    def tiny_builders(self) -> dict[str, Callable[[], Any]]:
        from pipelines.families.ltx_video.tiny import BUILDERS

        return BUILDERS

    def context_parallel_plan(self, module: Any) -> dict[str, Any] | None:
        """diffusers' own plan (0.42) splits the prompt and sends the masked cross-attention through
        Ulysses, whose all-to-all leaves the mask with every head (diffusers issue 14316): it fails as
        soon as a prompt mask is passed. LTX here gets Wan's layout: the prompt whole on every rank,
        only the video sequence split, and the per-token timestep of LTXConditionPipeline split with it."""
        from diffusers.models._modeling_parallel import ContextParallelInput

        plan = {name: dict(entry) if isinstance(entry, dict) else entry for name, entry in module._cp_plan.items()}
        top = plan[""]
        top.pop("encoder_hidden_states", None)
        top.pop("encoder_attention_mask", None)
        # (B, tokens) per-token timesteps are split like the tokens; a (B,) timestep is left alone.
        top["timestep"] = ContextParallelInput(split_dim=1, expected_dims=2, split_output=False)
        return plan

    def prepare_context_parallel(self, module: Any) -> None:
        """With the prompt whole on every rank, cross-attention is local: each rank's query shard
        attends to the full prompt, exactly as without parallelism (Wan's processor does the same).
        And a (B, 1) timestep (LTXConditionPipeline without per-token conditioning) becomes (B,) before
        diffusers' split hook sees it: the same embedding, and not mistaken for per-token timesteps."""
        for block in module.transformer_blocks:
            block.attn2.processor._parallel_config = None

        def one_timestep_per_sample(_module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            t = kwargs.get("timestep")
            if t is not None and t.ndim == 2 and t.shape[1] == 1:
                kwargs["timestep"] = t[:, 0]
            return args, kwargs

        # A torch pre-hook runs before diffusers' hooks, which replace ``forward`` itself.
        module.register_forward_pre_hook(one_timestep_per_sample, with_kwargs=True)


def _noise(entry: ModelEntry, spec: ResolvedSpec) -> dict[str, float]:
    """LTX's decode noise (every LTX pipeline) and image-condition noise (LTXConditionPipeline only):
    the resolved spec's values, the catalog's for a spec stored before they were resolved."""
    d = entry.defaults
    names = ["decode_timestep", "decode_noise_scale"]
    if spec.pipeline_class == "LTXConditionPipeline":
        names.append("image_cond_noise_scale")
    values = {n: getattr(spec, n) if getattr(spec, n) is not None else getattr(d, n) for n in names}
    return {n: v for n, v in values.items() if v is not None}
