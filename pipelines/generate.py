"""The library entry point: ``VideoGenerator.generate(spec, on_step=..., should_stop=...)``."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from pipelines.audio_stage import AudioDecodeStage
from pipelines.core.catalog import Catalog, ModelEntry
from pipelines.core.errors import GenerationCancelled, ModelUnavailable, OutOfMemory
from pipelines.core.images import load_fitted
from pipelines.core.loras import apply_loras
from pipelines.core.memory import MemoryStrategy
from pipelines.core.spec import GenerationSpec, ResolvedSpec, SpeedLevel, resolve
from pipelines.families import adapter_for, check_sequence_split, default_catalog, plan_job_memory
from pipelines.families.base import FamilyAdapter, FlowStage
from pipelines.loader import LoadOptions, PipelineCache, pick_device, pick_dtype
from pipelines.parallel import ContextParallel
from pipelines.result import VideoResult
from pipelines.weights import WeightsLocation, WeightsLocator

log = logging.getLogger(__name__)

OnStep = Callable[[int, int], None]
ShouldStop = Callable[[], bool]
# Stages reported through ``on_stage``: loading (only when the model is not resident),
# text_encoding, denoising, upsampling + refining (a two-stage flow), decoding, audio_decoding (audio
# models). Names match server.engine.base.Stage.
OnStage = Callable[[str], None]


class VideoGenerator:
    """Holds loaded models between calls. Not thread-safe: one ``generate`` at a time."""

    def __init__(
        self,
        locator: WeightsLocator,
        device: str | None = None,
        dtype: str | None = None,
        max_models: int = 1,
        catalog: Catalog | None = None,
        memory_budget_bytes: int | None = None,
        attention: str | None = None,
        compile: bool = False,
        memory_strategy: MemoryStrategy | None = None,
        cfg_batch: bool = True,
        context_parallel: ContextParallel | None = None,
        fp8: str = "auto",
    ) -> None:
        self.locator = locator
        self.catalog = catalog or locator.catalog or default_catalog()
        self.device = pick_device(device)
        self.dtype = pick_dtype(self.device, dtype)
        # Several ranks per job (pipelines.parallel): every rank builds its generator with the same
        # settings and calls generate() with the same spec; torch.distributed must be initialised.
        self.context_parallel = context_parallel
        self.cache = PipelineCache(self.device, self.dtype, max_models,
                                   LoadOptions(attention, compile, context_parallel, fp8))
        # None: the whole device's memory on a GPU (no planning on a CPU).
        self.memory_budget_bytes = memory_budget_bytes
        # A floor on the planner's choice (e.g. always store weights in fp8), from settings.
        self.memory_strategy = memory_strategy
        self.cfg_batch = cfg_batch

    def preload(self, model_id: str) -> float:
        """Load a model ahead of its first request; with compile on, also run one step at the model's
        default size so compilation happens now, not in the first user's request. Returns seconds."""
        t0 = time.perf_counter()
        spec = GenerationSpec(model=model_id, prompt="warm-up", seed=0, steps=1)
        entry = self.catalog.get(model_id)
        if entry is None:
            raise ModelUnavailable(model_id, "not in the catalog")
        if self.cache.options.compile:
            self.generate(spec)
        else:
            rs = resolve(spec, self.catalog)
            # The strategy the first request will run with (the settings' floor included), so it does not reload.
            self.cache.get(entry, self.locator.require(model_id), rs.mode, self.memory_plan(rs)[1])
        return time.perf_counter() - t0

    def budget_bytes(self) -> int | None:
        if self.memory_budget_bytes is not None:
            return self.memory_budget_bytes
        if self.device.type == "cuda":
            return int(torch.cuda.get_device_properties(self.device).total_memory)
        return None

    def generate(
        self,
        spec: GenerationSpec | ResolvedSpec,
        on_step: OnStep | None = None,
        should_stop: ShouldStop | None = None,
        on_stage: OnStage | None = None,
    ) -> VideoResult:
        # Validate everything (spec rules, images, weights on disk) before loading anything.
        job = self._prepare(spec, should_stop, on_stage)
        t_start = time.perf_counter()
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        rs = job.rs
        try:
            pipe, speed, strategy = self._load(job)
            run = self._denoise(job, pipe, speed, strategy, on_step)
        except torch.OutOfMemoryError as exc:
            self.cache.evict(rs.model)
            raise OutOfMemory(f"out of GPU memory running {rs.model} at {rs.width}x{rs.height}x"
                              f"{rs.num_frames}: {exc}") from exc
        return self._result(job, pipe, run, t_start)

    def _prepare(self, spec: GenerationSpec | ResolvedSpec, should_stop: ShouldStop | None,
                 on_stage: OnStage | None) -> _Job:
        """The resolved spec, its model's adapter and weights, and the stop check every rank agrees on."""
        rs = spec if isinstance(spec, ResolvedSpec) else resolve(spec, self.catalog)
        entry = self.catalog.get(rs.model)
        assert entry is not None  # resolve() checked it
        family = adapter_for(entry)
        # Weights adopted in memory (synthetic benchmark builds) have no folder to check.
        held = self.cache.location_of(rs.model)
        location = held if held is not None and held.source == "synthetic" else self.locator.require(rs.model)
        stop = should_stop or (lambda: False)
        if self.context_parallel is not None:
            from pipelines.parallel import agreed

            check_sequence_split(entry, rs, self.context_parallel.degree)
            stop = agreed(stop, self.device)  # every rank leaves the loop at the same step
        if stop():
            raise GenerationCancelled(0, rs.steps)
        return _Job(rs, entry, family, location, stop, on_stage or (lambda name: None))

    def _load(self, job: _Job) -> tuple[Any, SpeedLevel, MemoryStrategy]:
        """The pipeline, loaded with the planned memory strategy, its LoRAs and its speed level."""
        rs, entry = job.rs, job.entry
        plan, strategy = self.memory_plan(rs)
        if not self.cache.is_resident(entry.id, job.location, strategy):
            job.stage("loading")
        pipe, job.timings["load_s"] = self.cache.get(entry, job.location, rs.mode, strategy)
        t_lora = time.perf_counter()
        if apply_loras(pipe, rs.loras):  # between jobs: adapters switch, the base model stays loaded
            job.timings["lora_s"] = time.perf_counter() - t_lora
        from pipelines.speed import set_speed_level

        speed = self._speed_for(rs)
        job.optimizations = self.cache.record(entry.id) | {
            "speed": set_speed_level(pipe, entry, speed, rs.steps)
            | ({"requested": rs.speed.value} if speed is not rs.speed else {}),
            "memory_plan": {"strategy": strategy.value, "estimate_bytes": plan.estimate.total_bytes,
                            "budget_bytes": self.budget_bytes(), "fits": plan.fits},
        }
        return pipe, speed, strategy

    def _denoise(self, job: _Job, pipe: Any, speed: SpeedLevel, strategy: MemoryStrategy,
                 on_step: OnStep | None) -> _Denoised:
        """Text encoding, then the flow's pipeline calls (one, or several for a multi-stage flow)."""
        rs, entry, family, stage = job.rs, job.entry, job.family, job.stage
        first = load_fitted(rs.image, rs.width, rs.height, rs.image_fit) if rs.image else None
        last = load_fitted(rs.last_image, rs.width, rs.height, rs.image_fit) if rs.last_image else None
        stage("text_encoding")
        t0 = self._now()
        with torch.inference_mode():
            embeds = family.encode_text(entry, pipe, rs, self.device)
        job.timings["text_encode_s"] = self._now() - t0

        flow = family.flow(entry, rs)  # one pass, or a multi-stage flow (LTX-2 quality final)
        run = _Denoised(flow, _FlowProgress(sum(s.steps for s in flow), flow[-1] if flow[-1].steps else None))
        on_step_end = self._step_callback(job, run, on_step)
        from pipelines.flow_shift import apply_flow_shift

        job.optimizations["scheduler"] = apply_flow_shift(pipe, entry, rs)  # every call: no job inherits another's
        kwargs = family.call_kwargs(entry, rs, first, last) | embeds
        if entry.defaults.timesteps is not None and "timesteps" not in kwargs:
            log.warning("%s: steps=%d is not the %d steps of its published schedule; running the pipeline's "
                        "default schedule", entry.id, rs.steps, len(entry.defaults.timesteps))
        run.cfg_hooks = self._arm_cfg_batch(pipe, entry, speed, strategy, embeds)
        generator = torch.Generator("cpu").manual_seed(rs.seed)
        stage("denoising")
        run.t_call = self._now()
        run.audio_stage = AudioDecodeStage(pipe, lambda: stage("audio_decoding"), self._now)

        def call(pipeline: Any, step: FlowStage, **kw: Any) -> Any:
            if step != flow[0]:  # the first stage was announced above
                stage(step.name)
            run.progress.start(step)
            t_stage = self._now()
            result = family.call_pipeline(pipeline, on_step_end if step.steps else None,
                                          {"generator": generator, **kw})
            run.progress.finish(step, self._now() - t_stage)
            return result

        try:
            with torch.inference_mode(), run.audio_stage:
                run.out = family.run(entry, pipe, rs, kwargs, call, job.location.path)
        finally:
            run.batched = sum(h.batched_calls for h in run.cfg_hooks)
            for hook in run.cfg_hooks:
                hook.arm(None, None)  # never leave embeddings armed for someone else's call
        run.t_end = self._now()
        return run

    def _step_callback(self, job: _Job, run: _Denoised, on_step: OnStep | None) -> Callable[..., dict[str, Any]]:
        """diffusers' ``callback_on_step_end``: progress over the whole flow, decoding announced after the
        last step, and the stop check."""
        progress = run.progress

        def on_step_end(p: Any, i: int, t: Any, kw: dict[str, Any]) -> dict[str, Any]:
            run.marks.append(self._now())
            this = int(getattr(p, "num_timesteps", 0) or progress.current.steps)
            done, total = progress.done + i + 1, progress.total - progress.current.steps + this
            if on_step is not None:
                on_step(done, total)
            if i + 1 == this and progress.current == progress.last:
                job.stage("decoding")
            if job.stop():
                # Raising aborts the diffusers loop at once; per-call state is reset next call.
                raise GenerationCancelled(done, total)
            return kw

        return on_step_end

    def _result(self, job: _Job, pipe: Any, run: _Denoised, t_start: float) -> VideoResult:
        """Timings, what ran, and the frames (stitched onto the extended video) with their audio."""
        rs, entry, family, timings, optimizations = job.rs, job.entry, job.family, job.timings, job.optimizations
        flow, progress, marks = run.flow, run.progress, run.marks
        if run.cfg_hooks:
            optimizations["cfg_batched_forwards"] = run.batched
        optimizations["flow"] = {"quality": rs.quality, "stages": [asdict(s) for s in flow]}
        optimizations |= family.run_record(entry, rs)
        timings |= {f"flow_{name}_s": seconds for name, seconds in progress.seconds.items() if len(flow) > 1}
        if entry.distilled:
            from pipelines.distill import schedule_record

            optimizations["schedule"] = schedule_record(entry, rs.steps, pipe)
        last_step = marks[-1] if marks else run.t_call
        timings["denoise_s"] = last_step - run.t_call
        assert run.audio_stage is not None
        timings["decode_s"] = (run.audio_stage.started or run.t_end) - last_step
        if run.audio_stage.seconds is not None:
            timings["audio_decode_s"] = run.audio_stage.seconds
        timings["total_s"] = time.perf_counter() - t_start
        steps = [b - a for a, b in zip([run.t_call, *marks[:-1]], marks, strict=True)]
        media = family.media(run.out, entry)
        frames = family.requested_frames(entry, rs, media.frames)
        audio = media.audio if rs.generate_audio else None
        if rs.extend_video is not None:
            from pipelines.stitch import stitch_audio, stitch_onto

            continuation = len(frames)
            frames = stitch_onto(rs.extend_video, frames)
            audio = stitch_audio(rs.extend_video, rs.fps, len(frames) - continuation + 1, audio, continuation)
        peak = int(torch.cuda.max_memory_allocated(self.device)) if self.device.type == "cuda" else None
        log.info("generated %s %s %dx%dx%d in %.2fs", rs.model, rs.mode.value, rs.width, rs.height,
                 rs.num_frames, timings["total_s"])
        return VideoResult(frames, rs, job.location, str(self.device), str(self.dtype).removeprefix("torch."),
                           timings, steps, peak, optimizations, audio)

    def memory_plan(self, rs: ResolvedSpec) -> tuple[Any, MemoryStrategy]:
        """The planner's estimate for this request and the strategy it runs with: the fastest that
        fits the budget (sequential offload when nothing does), never below the settings' floor."""
        entry = self.catalog.get(rs.model)
        assert entry is not None
        ranks = self.context_parallel.degree if self.context_parallel else 1
        plan = plan_job_memory(entry, rs, self.budget_bytes(), ranks=ranks)
        strategy = plan.strategy if plan.fits else MemoryStrategy.SEQUENTIAL
        order = list(MemoryStrategy)
        if self.memory_strategy is not None and order.index(self.memory_strategy) > order.index(strategy):
            strategy = self.memory_strategy
        return plan, strategy

    def _speed_for(self, rs: ResolvedSpec) -> SpeedLevel:
        """Step caching decides per rank, on that rank's shard, whether to skip a step's blocks;
        ranks that decide differently wait on each other forever. A context-parallel group runs exact."""
        if self.context_parallel is not None and rs.speed is not SpeedLevel.EXACT:
            log.warning("speed=%s is not available with context parallelism; running exact", rs.speed.value)
            return SpeedLevel.EXACT
        return rs.speed

    def _arm_cfg_batch(self, pipe: Any, entry: ModelEntry, speed: SpeedLevel, strategy: MemoryStrategy,
                       embeds: dict[str, Any]) -> list[Any]:
        """Batch cond+uncond into one forward (Wan runs them as two) for runs at the exact level (the level
        that runs, not the one requested: a context-parallel group runs ``fast`` as exact) when the memory
        plan is not already trading speed for memory; disarm otherwise."""
        if adapter_for(entry).batches_cfg:  # the pipeline already batches its CFG passes
            return []
        from pipelines import cfg_batch

        hooks = cfg_batch.hooks(pipe)
        use = (self.cfg_batch and speed is SpeedLevel.EXACT and "negative_prompt_embeds" in embeds
               and strategy in (MemoryStrategy.NONE, MemoryStrategy.VAE_TILING))
        for hook in hooks:
            hook.arm(embeds["prompt_embeds"] if use else None, embeds.get("negative_prompt_embeds") if use else None)
        return hooks if use else []

    def _now(self) -> float:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return time.perf_counter()



@dataclass
class _Job:
    """One ``generate`` call, decided before anything loads."""

    rs: ResolvedSpec
    entry: ModelEntry
    family: FamilyAdapter
    location: WeightsLocation
    stop: ShouldStop
    stage: OnStage
    timings: dict[str, float] = field(default_factory=dict)
    optimizations: dict[str, Any] = field(default_factory=dict)  # what ran (the sidecar's record)


@dataclass
class _Denoised:
    """What the flow's pipeline calls left: their output, step times and the hooks that ran."""

    flow: list[FlowStage]
    progress: _FlowProgress
    out: Any = None
    marks: list[float] = field(default_factory=list)  # when each step ended
    t_call: float = 0.0
    t_end: float = 0.0
    audio_stage: AudioDecodeStage | None = None
    cfg_hooks: list[Any] = field(default_factory=list)
    batched: int = 0


@dataclass
class _FlowProgress:
    """Steps across the flow's pipeline calls: a job's progress runs 0..total over all of them."""

    total: int
    last: FlowStage | None  # the last denoising stage (its last step starts decoding)
    done: int = 0
    current: FlowStage = field(default_factory=lambda: FlowStage("denoising", 0, 0))
    seconds: dict[str, float] = field(default_factory=dict)

    def start(self, stage: FlowStage) -> None:
        self.current = stage

    def finish(self, stage: FlowStage, seconds: float) -> None:
        self.done += stage.steps
        self.seconds[stage.name] = seconds


def generate(
    spec: GenerationSpec,
    *,
    weights_dir: Path | str = "weights",
    on_step: OnStep | None = None,
    should_stop: ShouldStop | None = None,
    on_stage: OnStage | None = None,
    device: str | None = None,
    dtype: str | None = None,
) -> VideoResult:
    """One-shot convenience over ``VideoGenerator`` (loads the model each call)."""
    gen = VideoGenerator(WeightsLocator(Path(weights_dir)), device=device, dtype=dtype)
    return gen.generate(spec, on_step=on_step, should_stop=should_stop, on_stage=on_stage)
