"""`vidserve bench pipeline`: per-stage times, memory, FLOPs/MFU, and plain diffusers side by side.

Each run pair generates the same model, size, frames, steps and seed through vidserve's path and
through a plain diffusers call as a user would write it; the order alternates between pairs so
drift (thermals, caches) does not favour one side. Speed-up and PSNR/SSIM are computed per pair.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.flops import capture_first_step, mfu, peak_tflops
from benchmarks.machine import GpuMemorySampler, host_peak_rss_bytes, machine_info
from benchmarks.quality import finite_or_none, psnr, ssim

Progress = Callable[[str], None]


@dataclass
class PipelineBenchConfig:
    model: str
    width: int | None = None
    height: int | None = None
    frames: int | None = None
    steps: int | None = None
    runs: int = 2
    seed: int = 0
    prompt: str = "a red boat sails across a calm blue ocean at sunset, cinematic"
    device: str | None = None
    dtype: str | None = None
    synthetic: bool = False
    baseline: bool = True
    peak_tflops: float | None = None
    weights_dir: Path = Path("weights")
    count_flops: bool = True
    # vidserve-side options (the baseline is always plain diffusers):
    levels: list[str] = field(default_factory=list)  # extra speed levels measured against exact
    attention: str | None = None
    compile: bool = False
    memory_strategy: str | None = None
    memory_budget_gb: float | None = None
    fp8: str = "auto"
    extra: dict[str, Any] = field(default_factory=dict)


def _stats(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return {"median": statistics.median(ordered), "p90": p90, "min": ordered[0], "max": ordered[-1]}


def _median_of(runs: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(values) if values else None


def _memory_reset(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)


def _memory_peaks(device: Any) -> dict[str, int | None]:
    import torch

    if device.type != "cuda":
        return {"peak_allocated_bytes": None, "peak_reserved_bytes": None}
    return {"peak_allocated_bytes": int(torch.cuda.max_memory_allocated(device)),
            "peak_reserved_bytes": int(torch.cuda.max_memory_reserved(device))}


class _Sides:
    """The two things being compared: vidserve's generate() and a plain diffusers pipeline call."""

    def __init__(self, cfg: PipelineBenchConfig, progress: Progress) -> None:
        import torch

        from pipelines import resolve
        from pipelines.core.memory import MemoryStrategy
        from pipelines.core.spec import GenerationSpec
        from pipelines.families import default_catalog
        from pipelines.generate import VideoGenerator
        from pipelines.weights import WeightsLocation, WeightsLocator

        self.cfg = cfg
        entry = default_catalog().get(cfg.model)
        if entry is None:
            raise KeyError(f"unknown model {cfg.model!r}")
        self.entry = entry
        self.spec = resolve(GenerationSpec(
            model=cfg.model, prompt=cfg.prompt, width=cfg.width, height=cfg.height, num_frames=cfg.frames,
            steps=cfg.steps, seed=cfg.seed,
        ))
        self.gen = VideoGenerator(
            WeightsLocator(cfg.weights_dir), device=cfg.device, dtype=cfg.dtype, attention=cfg.attention,
            compile=cfg.compile, memory_strategy=MemoryStrategy(cfg.memory_strategy) if cfg.memory_strategy else None,
            memory_budget_bytes=int(cfg.memory_budget_gb * 2**30) if cfg.memory_budget_gb else None, fp8=cfg.fp8,
        )
        self.device, self.dtype = self.gen.device, self.gen.dtype
        self.load_s: dict[str, float] = {}
        t0 = time.perf_counter()
        if cfg.synthetic:
            from benchmarks.synthetic import build_pipeline

            # vidserve's side is set up as a loaded model would be (memory strategy, attention backend,
            # compile); a strategy that offloads starts from the host, as loading from disk does.
            _, strategy = self.gen.memory_plan(self.spec)
            offloads = list(MemoryStrategy).index(strategy) >= list(MemoryStrategy).index(MemoryStrategy.TEXT_OFFLOAD)
            where = "cpu" if offloads else self.device
            progress(f"building synthetic {cfg.model} on {where} for vidserve ({strategy.value})")
            pipe = build_pipeline(cfg.model, where, self.dtype)
            self.location = WeightsLocation(cfg.model, Path("<synthetic>"), "synthetic", "synthetic", "synthetic")
            self.gen.cache.adopt(self.entry, self.location, self.spec.mode, pipe, strategy)
            self.load_s["synthetic_build"] = time.perf_counter() - t0
            self.baseline_pipe = None
            if cfg.baseline:
                # Its own copy (same seed, same weights): vidserve's setup must not leak into the plain call.
                progress(f"building synthetic {cfg.model} on {self.device} for plain diffusers")
                t0 = time.perf_counter()
                self.baseline_pipe = build_pipeline(cfg.model, self.device, self.dtype)
                self.baseline_pipe.set_progress_bar_config(disable=True)
                self.load_s["synthetic_build_baseline"] = time.perf_counter() - t0
            self.weights_kind = "synthetic"
        else:
            self.location = self.gen.locator.require(cfg.model)
            progress(f"loading {cfg.model} from {self.location.path}")
            self.gen.cache.get(self.entry, self.location, self.spec.mode)
            self.load_s["vidserve"] = time.perf_counter() - t0
            self.weights_kind = "tiny-random" if self.location.tiny else "real"
            self.baseline_pipe = None
            if cfg.baseline:
                import diffusers

                t0 = time.perf_counter()
                cls = getattr(diffusers, self.spec.pipeline_class)
                self.baseline_pipe = cls.from_pretrained(str(self.location.path), dtype=self.dtype)
                self._as_a_user_would_distill(self.baseline_pipe)
                self.baseline_pipe.to(self.device)
                self.baseline_pipe.set_progress_bar_config(disable=True)
                self.load_s["diffusers"] = time.perf_counter() - t0
        self._torch = torch

    def _as_a_user_would_distill(self, pipe: Any) -> None:
        """A LoRA-distilled entry is its base plus LoRAs and a scheduler shift; a plain diffusers user
        loads and fuses the same files (``load_lora_weights`` + ``fuse_lora``) and sets the same shift."""
        from pipelines.distill import fuse_bundled_loras
        from pipelines.flow_shift import apply_flow_shift

        apply_flow_shift(pipe, self.entry, self.spec)  # as diffusers' Wan examples set flow_shift
        if self.location.extra.get("bundled_loras"):
            fuse_bundled_loras(pipe, self.entry, self.location.extra["bundled_loras"])

    def run_vidserve(self, level: str | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        from pipelines.core.spec import SpeedLevel
        from pipelines.encode import encode_mp4
        from pipelines.outputs import synced_audio

        spec = self.spec if level is None else self.spec.model_copy(update={"speed": SpeedLevel(level)})
        _memory_reset(self.device)
        with GpuMemorySampler() as sampler:
            result = self.gen.generate(spec)
        self.optimizations = result.optimizations
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            encode_mp4(result.frames, Path(tmp) / "bench.mp4", self.spec.fps, audio=synced_audio(result))
            encode_s = time.perf_counter() - t0
        steps = result.step_seconds
        t = result.timings
        return result.frames, {
            "path": "vidserve", "speed": spec.speed.value, "text_encode_s": t["text_encode_s"],
            "denoise_s": t["denoise_s"], "decode_s": t["decode_s"], "encode_s": encode_s,
            # audio models: the audio VAE + vocoder, reported apart from the video decode
            "audio_decode_s": t.get("audio_decode_s"),
            "generate_s": t["total_s"] - t["load_s"], "end_to_end_s": t["total_s"] - t["load_s"] + encode_s,
            "first_step_s": steps[0] if steps else None, "step_s": steps,
            "steps_after_first": _stats(steps[1:] or steps), **_memory_peaks(self.device),
            "nvml_peak_used_bytes": sampler.peak_bytes,
        }

    def _call(self, pipe: Any, on_step: Any, kwargs: dict[str, Any]) -> Any:
        """One pipeline call with ``on_step`` after every denoising step, the way the family's pipelines take
        one (``FamilyAdapter.call_pipeline``: diffusers' ``callback_on_step_end`` for most; HunyuanVideo 1.5's
        pipelines have none)."""
        from pipelines.families import adapter_for

        return adapter_for(self.entry).call_pipeline(pipe, on_step, kwargs)

    def _baseline_kwargs(self) -> dict[str, Any]:
        from pipelines.families import adapter_for

        # The same call arguments vidserve derives, minus the pre-encoded text: the plain call encodes.
        kw = adapter_for(self.entry).call_kwargs(self.entry, self.spec, None, None)
        kw.update(prompt=self.spec.prompt, negative_prompt=self.spec.negative_prompt or None)
        return kw

    def run_baseline(self) -> tuple[np.ndarray, dict[str, Any]]:
        from pipelines.audio_stage import AudioDecodeStage
        from pipelines.core.media import to_uint8

        assert self.baseline_pipe is not None
        marks: list[float] = []

        def on_step(p: Any, i: int, t: Any, kw: dict[str, Any]) -> dict[str, Any]:
            marks.append(self._now())
            return kw

        _memory_reset(self.device)
        generator = self._torch.Generator("cpu").manual_seed(self.spec.seed)
        audio = AudioDecodeStage(self.baseline_pipe, lambda: None, self._now)  # times it; changes nothing
        with GpuMemorySampler() as sampler, self._torch.inference_mode(), audio:
            t0 = self._now()
            out = self._call(self.baseline_pipe, on_step, self._baseline_kwargs() | {"generator": generator})
            t1 = self._now()
        steps = [b - a for a, b in zip([t0, *marks[:-1]], marks, strict=True)]
        return to_uint8(out.frames[0]), {
            "path": "diffusers", "generate_s": t1 - t0, "end_to_end_s": t1 - t0, "first_step_s": steps[0],
            "audio_decode_s": audio.seconds,
            "step_s": steps, "steps_after_first": _stats(steps[1:] or steps), **_memory_peaks(self.device),
            "nvml_peak_used_bytes": sampler.peak_bytes,
        }

    def flops_per_step(self) -> dict[str, Any]:
        from pipelines.core.spec import SpeedLevel
        from pipelines.families import adapter_for
        from pipelines.speed import set_speed_level

        pipe, _ = self.gen.cache.get(self.entry, self.location, self.spec.mode)
        set_speed_level(pipe, self.entry, SpeedLevel.EXACT, 1)  # count the exact model, no caching hooks
        kw = self._baseline_kwargs() | {"num_inference_steps": 1, "output_type": "latent"}
        generator = self._torch.Generator("cpu").manual_seed(self.spec.seed)
        with self._torch.inference_mode():
            capture = capture_first_step(pipe, lambda cb: self._call(pipe, cb, kw | {"generator": generator}))
        counted = capture.flops()
        out: dict[str, Any] = {"per_step_counted": counted, "forwards_per_step": len(capture.calls)}
        analytic = adapter_for(self.entry).analytic_flops(self.entry, self.spec, len(capture.calls))
        if analytic:
            out |= {"per_step_analytic": analytic, "counted_over_analytic": counted / analytic}
        return out

    def _now(self) -> float:
        if self.device.type == "cuda":
            self._torch.cuda.synchronize(self.device)
        return time.perf_counter()


def _measure_levels(sides: _Sides, cfg: PipelineBenchConfig, runs: list[dict[str, Any]],
                    progress: Progress) -> list[dict[str, Any]]:
    """Each extra speed level against vidserve's exact output (same seed): time and picture cost."""
    if not cfg.levels:
        return []
    exact_frames, exact = sides.run_vidserve("exact")
    baseline = [r["generate_s"] for r in runs if r["path"] == "diffusers"]
    out = []
    for level in cfg.levels:
        progress(f"level {level}")
        frames, rec = sides.run_vidserve(level)
        p = psnr(exact_frames, frames)
        out.append({
            "level": level, "generate_s": rec["generate_s"], "step_s": rec["steps_after_first"]["median"],
            "speedup_vs_exact": exact["generate_s"] / rec["generate_s"],
            "speedup_vs_diffusers": statistics.median(baseline) / rec["generate_s"] if baseline else None,
            "psnr_vs_exact_db": finite_or_none(p), "identical_to_exact": p == float("inf"),
            "ssim_vs_exact": ssim(exact_frames, frames), "optimizations": sides.optimizations,
        })
    return out


def run_pipeline_bench(cfg: PipelineBenchConfig, progress: Progress = lambda s: None) -> dict[str, Any]:
    sides = _Sides(cfg, progress)
    runs: list[dict[str, Any]] = []
    pairs: list[dict[str, Any]] = []
    progress("warm-up run")
    sides.run_vidserve()  # first call pays one-off costs (kernels, allocator); not recorded
    if sides.baseline_pipe is not None:
        sides.run_baseline()
    for i in range(cfg.runs):
        order = ("vidserve", "diffusers") if i % 2 == 0 else ("diffusers", "vidserve")
        results: dict[str, tuple[np.ndarray, dict[str, Any]]] = {}
        for side in order:
            if side == "diffusers" and sides.baseline_pipe is None:
                continue
            progress(f"run {i + 1}/{cfg.runs}: {side}")
            results[side] = sides.run_vidserve() if side == "vidserve" else sides.run_baseline()
            runs.append({"run": i, **results[side][1]})
        if "diffusers" in results:
            (vf, vr), (bf, br) = results["vidserve"], results["diffusers"]
            p = psnr(vf, bf)
            pairs.append({
                "run": i, "order": list(order),
                "speedup_generate": br["generate_s"] / vr["generate_s"],
                "speedup_step": br["steps_after_first"]["median"] / vr["steps_after_first"]["median"],
                "psnr_db": finite_or_none(p), "psnr_identical": p == float("inf"), "ssim": ssim(vf, bf),
            })
    levels = _measure_levels(sides, cfg, runs, progress)
    flops = sides.flops_per_step() if cfg.count_flops else {}
    machine = machine_info()
    peak = cfg.peak_tflops or peak_tflops(machine.get("gpu"))
    ours = [r for r in runs if r["path"] == "vidserve"]
    step_s = statistics.median(r["steps_after_first"]["median"] for r in ours)
    video_s = statistics.median(r["end_to_end_s"] for r in ours)
    vram = [r["peak_allocated_bytes"] for r in ours if r["peak_allocated_bytes"] is not None]
    summary = {
        "step_s": step_s,
        "mfu": mfu(flops.get("per_step_counted", 0), step_s, peak),
        "video_s": video_s,
        "videos_per_hour_per_gpu": 3600.0 / video_s,
        "peak_vram_gb": max(vram) / 2**30 if vram else None,
        "speedup_vs_diffusers": statistics.median(p["speedup_generate"] for p in pairs) if pairs else None,
        "psnr_vs_diffusers_db": (None if not pairs or all(p["psnr_identical"] for p in pairs)
                                 else statistics.median(p["psnr_db"] for p in pairs if p["psnr_db"] is not None)),
        "identical_to_diffusers": bool(pairs) and all(p["psnr_identical"] for p in pairs),
        # audio models: the audio VAE + vocoder on their own (None for video-only models)
        "audio_decode_s": _median_of(ours, "audio_decode_s"),
        "audio_decode_s_diffusers": _median_of([r for r in runs if r["path"] == "diffusers"], "audio_decode_s"),
    }
    settings = asdict(cfg) | {"weights_dir": str(cfg.weights_dir), "resolved": sides.spec.model_dump(mode="json"),
                              "device": str(sides.device), "dtype": str(sides.dtype).removeprefix("torch."),
                              "peak_tflops": peak}
    return {
        "benchmark": "pipeline", "schema": 1, "created_at": time.time(), "machine": machine,
        "settings": settings, "weights": sides.weights_kind, "load_s": sides.load_s, "runs": runs,
        "pairs": pairs, "levels": levels, "optimizations": getattr(sides, "optimizations", {}), "flops": flops,
        "host_peak_rss_bytes": host_peak_rss_bytes(), "summary": summary,
    }
