"""What a model family provides: the adapter every family package implements.

Generic code (``generate``, ``loader``, ``speed``, the memory planner's callers, the benchmarks)
asks the entry's adapter (``pipelines.families.adapter_for``) wherever families differ, and never
branches on the family itself. Torch-free at import: torch and diffusers load inside the methods
that run a pipeline, so the API can ask an adapter about shapes and tokens.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pipelines.core.catalog import Mode, ModelEntry
from pipelines.core.memory import latent_tokens
from pipelines.core.spec import ResolvedSpec

if TYPE_CHECKING:
    import numpy as np
    import torch
    from PIL import Image

    from pipelines.core.media import GeneratedMedia


@dataclass(frozen=True)
class CacheThresholds:
    """First-block cache thresholds per speed level (``pipelines.speed.cache_config``): skip the
    remaining blocks when the first block's residual moved less than this since the last computed step."""

    fast: float
    fastest: float


@dataclass(frozen=True)
class FlowStage:
    """One pipeline call of a generation, as the job shows it (``name``, a server Stage) and the
    sidecar records it (``optimizations.flow``). ``steps`` 0: no denoising (a latent upsample)."""

    name: str
    width: int
    height: int
    steps: int = 0
    sigmas: tuple[float, ...] | None = None
    guidance_scale: float | None = None


# How an adapter runs one pipeline call of its flow: ``call(pipeline, stage, **kwargs)`` adds the
# generator and (for a denoising stage) the progress callback, announces the stage, returns the output.
StageCall = Callable[..., Any]


class FamilyAdapter(ABC):
    """One model family. Subclasses set the class attributes and implement the abstract methods;
    the other methods are defaults most families share."""

    # The ``ModelEntry.family`` values this adapter serves (e.g. "wan2.1", "wan2.2").
    families: ClassVar[tuple[str, ...]]
    # The diffusers pipeline class whose ``save_lora_weights`` writes this family's LoRA files.
    lora_pipeline_class: ClassVar[str]
    # True when the pipeline already runs the conditional and unconditional passes as one batch,
    # so vidserve's CFG batching (``pipelines.cfg_batch``) has nothing to do.
    batches_cfg: ClassVar[bool] = False
    cache_thresholds: ClassVar[CacheThresholds] = CacheThresholds(fast=0.05, fastest=0.1)
    # How this family extends a video (the sidecar's ``extend_method``): "chain" generates a continuation
    # from the source's last frame (image-to-video) and stitches it on; a family whose model continues a
    # video itself names its method and runs extension as its video-to-video mode (``extends_natively``).
    extend_method: ClassVar[str] = "chain"
    # The module holding the family's published configs for synthetic builds (``benchmarks.synthetic``):
    # ``TRANSFORMER_CONFIGS`` (model id -> config) and ``build_transformer(model_id)``, and for whole
    # pipelines ``build_pipeline(entry)`` (optionally ``PIPELINE_IDS``, the ids it builds). None: nothing.
    synthetic_module: ClassVar[str | None] = None

    @abstractmethod
    def entries(self) -> list[ModelEntry]:
        """This family's catalog entries (real checkpoints, distillations and tiny models)."""

    @abstractmethod
    def encode_text(self, entry: ModelEntry, pipe: Any, spec: ResolvedSpec, device: torch.device) -> dict[str, Any]:
        """Encode the prompt (and the negative prompt when CFG runs) into the pipeline's embedding
        keyword arguments, so the pipeline does not encode again."""

    @abstractmethod
    def mode_kwargs(self, entry: ModelEntry, spec: ResolvedSpec, first: Image.Image | None,
                    last: Image.Image | None) -> dict[str, Any]:
        """The family's own pipeline arguments for this mode: conditioning images or frames,
        frame rate, extra guidance."""

    @abstractmethod
    def tiny_builders(self) -> dict[str, Callable[[], Any]]:
        """Tiny model id -> a function building its random-weight pipeline (torch imported there)."""

    def tiny_components(self) -> dict[str, dict[str, Callable[[], Any]]]:
        """Tiny model id -> {subfolder: builder} of components saved beside its pipeline (components
        the pipeline's ``model_index.json`` does not list, e.g. LTX-2's latent upsampler)."""
        return {}

    def check_entry(self, entry: ModelEntry) -> None:
        """The family's rules on an entry's data (which settings it must or must not set); raise
        ValueError naming the entry. Run over the default catalog (``pipelines.families``)."""
        return None

    def call_kwargs(self, entry: ModelEntry, spec: ResolvedSpec, first: Image.Image | None,
                    last: Image.Image | None) -> dict[str, Any]:
        """The whole pipeline call but the embeddings, generator and callback."""
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
        return kw | self.mode_kwargs(entry, spec, first, last)

    def flow(self, entry: ModelEntry, spec: ResolvedSpec) -> list[FlowStage]:
        """The pipeline calls a job runs, in order: one denoising pass at the requested size, unless
        the family has a multi-stage flow for this request (LTX-2 ``quality: "final"``)."""
        return [FlowStage("denoising", spec.width, spec.height, spec.steps, guidance_scale=spec.guidance_scale)]

    def run(self, entry: ModelEntry, pipe: Any, spec: ResolvedSpec, kwargs: dict[str, Any], call: StageCall,
            location: Path) -> Any:
        """Run ``flow(entry, spec)`` through ``call`` and return the last call's output (what ``media``
        reads). ``kwargs`` is ``call_kwargs`` plus the embeddings; ``location`` the weights folder (for
        components loaded on demand)."""
        return call(pipe, self.flow(entry, spec)[0], **kwargs)

    def run_record(self, entry: ModelEntry, spec: ResolvedSpec) -> dict[str, Any]:
        """What the family's ``run`` did differently for this job, merged into the sidecar's
        ``optimizations`` (LTX-2: which parts of the audio branch a job without audio left out)."""
        return {}

    def call_pipeline(self, pipe: Any, on_step_end: Callable[[Any, int, Any, dict[str, Any]], dict[str, Any]] | None,
                      kwargs: dict[str, Any]) -> Any:
        """One pipeline call, with ``on_step_end`` after every denoising step (progress, timings,
        cancellation) when given: diffusers' ``callback_on_step_end`` unless the pipeline has none."""
        if on_step_end is None:
            return pipe(**kwargs)
        return pipe(callback_on_step_end=on_step_end, **kwargs)

    def media(self, out: Any, entry: ModelEntry) -> GeneratedMedia:
        """What the pipeline returned, as frames (and audio, for families that make it)."""
        from pipelines.core.media import GeneratedMedia, to_uint8

        return GeneratedMedia(to_uint8(out.frames[0]))

    def extends_natively(self, entry: ModelEntry) -> bool:
        """Whether an extension of this entry runs as its video-to-video mode rather than by chaining."""
        return self.extend_method != "chain" and Mode.VIDEO_TO_VIDEO in entry.pipelines

    def extension_method(self, entry: ModelEntry, spec: ResolvedSpec) -> str | None:
        """How ``spec`` extends a video (the sidecar's ``extend_method``): the family's own method when it ran
        natively (video-to-video), "chain" when it ran from the last frame, None when it is no extension."""
        if spec.extend_video is None:
            return None
        native = spec.mode is Mode.VIDEO_TO_VIDEO and self.extends_natively(entry)
        return self.extend_method if native else "chain"

    def requested_frames(self, entry: ModelEntry, spec: ResolvedSpec, frames: np.ndarray) -> np.ndarray:
        """The ``num_frames`` the request asked for out of what the pipeline returned (a pipeline that
        returns its conditioning frames too trims them here); for an extension, its first frame is the seam
        ``stitch`` drops. All of them by default."""
        return frames

    def load_dtype(self, dtype: torch.dtype) -> Any:
        """The ``dtype=`` for ``from_pretrained``: one dtype, or a per-component mapping."""
        return dtype

    def sequence_tokens(self, entry: ModelEntry, spec: ResolvedSpec) -> int:
        """The transformer's sequence length for a job: what context parallelism splits."""
        return latent_tokens(entry, spec.width, spec.height, spec.num_frames)

    def analytic_flops(self, entry: ModelEntry, spec: ResolvedSpec, forwards: int) -> int | None:
        """FLOPs of one denoising step (``forwards`` transformer calls) by formula, to cross-check
        the counted figure; None where the family has no formula."""
        return None

    def context_parallel_plan(self, module: Any) -> dict[str, Any] | None:
        """The context-parallel plan for a transformer module; None keeps diffusers' own."""
        return None

    def prepare_context_parallel(self, module: Any) -> None:
        """Adjust a transformer after ``enable_parallelism`` (nothing by default)."""
        return None

    def _synthetic(self) -> Any:
        """The family's ``synthetic_module``, imported on first use (it imports torch/diffusers inside its
        builders only); None when the family builds nothing synthetically."""
        return import_module(self.synthetic_module) if self.synthetic_module else None

    def synthetic_ids(self) -> list[str]:
        """The entries with a published transformer config to build synthetically."""
        module = self._synthetic()
        return list(module.TRANSFORMER_CONFIGS) if module is not None else []

    def synthetic_pipeline_ids(self) -> list[str]:
        """The entries whose whole pipeline (encoders, transformer, VAE) builds synthetically, which the
        ``--synthetic`` benchmark needs: the module's ``PIPELINE_IDS``, else every ``synthetic_ids`` entry
        when it has a ``build_pipeline``."""
        module = self._synthetic()
        if module is None or not hasattr(module, "build_pipeline"):
            return []
        return list(getattr(module, "PIPELINE_IDS", module.TRANSFORMER_CONFIGS))

    def synthetic_transformer(self, model_id: str) -> Any:
        """The transformer alone at its published size (random weights), built in the current default
        device and dtype; KeyError where the family has no published config for it."""
        if model_id not in self.synthetic_ids():
            raise KeyError(f"no synthetic config for {model_id!r}")
        return self._synthetic().build_transformer(model_id)

    def synthetic_pipeline(self, entry: ModelEntry) -> Any:
        """The pipeline at its published size with random weights, built in the current default
        device and dtype (``benchmarks.synthetic``); KeyError where the family has no published config."""
        if entry.id not in self.synthetic_pipeline_ids():
            raise KeyError(f"no synthetic config for {entry.id!r}")
        return self._synthetic().build_pipeline(entry)


def uses_cfg(spec: ResolvedSpec) -> bool:
    return spec.guidance_scale > 1.0 or (spec.guidance_scale_2 or 0.0) > 1.0


def first_last(mode: Mode) -> tuple[bool, bool]:
    """Whether a mode conditions on a first image, and on a last one."""
    return mode is not Mode.TEXT_TO_VIDEO, mode is Mode.FIRST_LAST_FRAME
