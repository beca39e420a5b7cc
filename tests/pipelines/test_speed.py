"""Speed and memory options on the CPU: each is wired and correct, not fast (GPU runs measure speed)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from benchmarks.quality import psnr
from pipelines import resolve
from pipelines.core.memory import GIB, MemoryStrategy, VramEstimate, plan_memory
from pipelines.core.spec import GenerationSpec
from pipelines.families import default_catalog
from pipelines.generate import VideoGenerator
from pipelines.speed import apply_attention_backend
from pipelines.weights import WeightsLocator


@pytest.mark.parametrize(("model", "size", "frames", "budget_gb", "expected"), [
    ("wan2.1-t2v-1.3b", (832, 480), 81, 80, "none"),
    ("wan2.1-t2v-1.3b", (832, 480), 81, 8, "group_offload"),  # the 8 GB target for 1.3B 480p
    ("wan2.1-t2v-14b", (832, 480), 81, 24, "group_offload"),  # 14B inside a 24 GB budget
    ("wan2.1-t2v-14b", (832, 480), 81, 48, "text_offload"),
    ("ltx-video-13b-0.9.7-distilled", (1216, 704), 121, 24, "layerwise_fp8"),
    ("wan2.2-t2v-a14b", (1280, 720), 81, 80, "layerwise_fp8"),  # two 14B experts resident
    ("wan2.1-t2v-14b", (1280, 720), 81, 24, None),             # nothing fits: refused at admission
])
def test_planner_picks_the_fastest_strategy_that_fits(model: str, size: tuple[int, int], frames: int,
                                                      budget_gb: int, expected: str | None) -> None:
    entry = default_catalog().get(model)
    assert entry is not None
    plan = plan_memory(entry, size[0], size[1], frames, budget_gb * GIB)
    if expected is None:
        assert not plan.fits and plan.strategy is MemoryStrategy.SEQUENTIAL
    else:
        assert plan.fits and plan.strategy.value == expected
        assert plan.estimate.total_bytes <= budget_gb * GIB
    # Every strategy saves at least as much as the faster ones before it.
    totals = [VramEstimate.for_job(entry, size[0], size[1], frames, s).total_bytes for s in MemoryStrategy]
    assert totals == sorted(totals, reverse=True)


@pytest.fixture(scope="module")
def gen(tiny_weights_dir: Path) -> VideoGenerator:
    return VideoGenerator(WeightsLocator(tiny_weights_dir), max_models=4)


def _count_last_block_ffn(pipe: Any) -> tuple[list[int], list[Any]]:
    """Count forwards of the last block's feed-forward: step caching skips the blocks after the
    first one, so their submodules are not called (the block's own hooks still fire)."""
    count = [0]
    handles = []
    for t in (pipe.transformer, getattr(pipe, "transformer_2", None)):
        if t is not None:
            blocks = t.blocks if hasattr(t, "blocks") else t.transformer_blocks
            ff = getattr(blocks[-1], "ffn", None) or blocks[-1].ff
            handles.append(ff.register_forward_hook(lambda *a: count.__setitem__(0, count[0] + 1)))
    return count, handles


# Forwards per step without caching: Wan runs CFG as two passes, LTX as one batch. (vidserve's exact
# level batches Wan's two passes into one forward: see the CFG test below.)
@pytest.mark.parametrize(("model", "forwards_per_step"), [("tiny-wan2.1-t2v", 2), ("tiny-wan2.2-t2v-a14b", 2),
                                                          ("tiny-ltx-video", 1)])
def test_speed_levels_skip_forwards_with_bounded_change(gen: VideoGenerator, model: str,
                                                        forwards_per_step: int) -> None:
    steps = 10
    frames: dict[str, Any] = {}
    counts: dict[str, int] = {}
    entry = default_catalog().get(model)
    assert entry is not None
    for level in ("exact", "fast", "fastest"):
        spec = resolve(GenerationSpec(model=model, prompt="a cat", seed=1, steps=steps, speed=level))
        pipe, _ = gen.cache.get(entry, gen.locator.require(model), spec.mode)
        count, handles = _count_last_block_ffn(pipe)
        try:
            result = gen.generate(spec)
        finally:
            for h in handles:
                h.remove()
        frames[level], counts[level] = result.frames, count[0]
        assert result.optimizations["speed"]["level"] == level
    assert counts["exact"] == steps  # one (batched) forward per step
    assert counts["fast"] <= steps * forwards_per_step
    assert counts["fastest"] < steps * forwards_per_step
    assert psnr(frames["exact"], frames["fastest"]) > 25.0  # lossy, but bounded
    # Back to exact on the same resident pipeline: the hooks are gone, the pixels are exact again.
    again = gen.generate(GenerationSpec(model=model, prompt="a cat", seed=1, steps=steps, speed="exact"))
    assert (again.frames == frames["exact"]).all()


@pytest.mark.parametrize(("model", "budget_gb", "by_ranks"), [
    # 14B at 720p does not fit 24 GB on one GPU; split over 2 or 4 GPUs the activations shrink.
    ("wan2.1-t2v-14b", 24, {1: None, 2: "group_offload", 4: "layerwise_fp8"}),
    ("wan2.2-t2v-a14b", 80, {1: "layerwise_fp8", 4: "vae_tiling"}),
])
def test_planner_splits_activations_across_a_context_parallel_group(model: str, budget_gb: int,
                                                                     by_ranks: dict[int, str | None]) -> None:
    entry = default_catalog().get(model)
    assert entry is not None
    for ranks, expected in by_ranks.items():
        plan = plan_memory(entry, 1280, 720, 81, budget_gb * GIB, ranks=ranks)
        assert (plan.strategy.value if plan.fits else None) == expected, (ranks, plan)


def test_layerwise_fp8_keeps_weights_in_fp8(tiny_weights_dir: Path) -> None:
    entry = default_catalog().get("tiny-wan2.1-t2v")
    assert entry is not None
    gen = VideoGenerator(WeightsLocator(tiny_weights_dir), memory_strategy=MemoryStrategy.LAYERWISE_FP8)
    exact = VideoGenerator(WeightsLocator(tiny_weights_dir)).generate(
        GenerationSpec(model="tiny-wan2.1-t2v", prompt="a cat", seed=2))
    result = gen.generate(GenerationSpec(model="tiny-wan2.1-t2v", prompt="a cat", seed=2))
    assert result.optimizations["memory_plan"]["strategy"] == "layerwise_fp8"
    assert result.optimizations["memory_strategy"].startswith("layerwise_fp8")
    pipe, _ = gen.cache.get(entry, gen.locator.require("tiny-wan2.1-t2v"), result.spec.mode)
    linear = pipe.transformer.blocks[0].ffn.net[2]
    assert linear.weight.dtype == torch.float8_e4m3fn  # stored in fp8 between forwards
    assert result.frames.shape == exact.frames.shape
    assert psnr(exact.frames, result.frames) > 20.0  # computed in the compute dtype, close to exact
    assert result.optimizations["fp8_weights"] == "layerwise"  # auto on a CPU: no fp8 tensor cores


def test_torchao_fp8_quantizes_the_blocks_and_leaves_the_rest(tiny_weights_dir: Path) -> None:
    pytest.importorskip("torchao")
    spec = GenerationSpec(model="tiny-wan2.1-t2v", prompt="a cat", seed=2)
    exact = VideoGenerator(WeightsLocator(tiny_weights_dir)).generate(spec)
    gen = VideoGenerator(WeightsLocator(tiny_weights_dir), memory_strategy=MemoryStrategy.LAYERWISE_FP8, fp8="torchao")
    result = gen.generate(spec)
    # A CPU has no fp8 matmul: weights are stored in fp8 and dequantized (the GPU test checks dynamic fp8).
    assert result.optimizations["fp8_weights"] == "torchao fp8 weight-only"
    entry = gen.catalog.get("tiny-wan2.1-t2v")
    assert entry is not None
    pipe, _ = gen.cache.get(entry, gen.locator.require("tiny-wan2.1-t2v"), result.spec.mode,
                            MemoryStrategy.LAYERWISE_FP8)
    block_linear = pipe.transformer.blocks[0].ffn.net[2].weight
    assert block_linear.qdata.dtype == torch.float8_e4m3fn  # torchao's fp8 tensor inside the blocks
    assert pipe.transformer.proj_out.weight.dtype == torch.float32 and not hasattr(pipe.transformer.proj_out.weight,
                                                                                   "qdata")
    assert psnr(exact.frames, result.frames) > 20.0


def test_an_unknown_fp8_backend_names_the_value(tiny_weights_dir: Path) -> None:
    gen = VideoGenerator(WeightsLocator(tiny_weights_dir), memory_strategy=MemoryStrategy.LAYERWISE_FP8, fp8="int3")
    with pytest.raises(ValueError, match="fp8='int3'"):
        gen.generate(GenerationSpec(model="tiny-wan2.1-t2v", prompt="a cat", seed=2, steps=1))


def test_attention_backend_choice_and_fallback(gen: VideoGenerator, caplog: pytest.LogCaptureFixture) -> None:
    result = gen.generate(GenerationSpec(model="tiny-wan2.1-t2v", prompt="x", seed=1))
    assert result.optimizations["attention_backend"] == "native"  # the only candidate on a CPU
    entry = default_catalog().get("tiny-wan2.1-t2v")
    assert entry is not None
    pipe, _ = gen.cache.get(entry, gen.locator.require("tiny-wan2.1-t2v"), result.spec.mode)
    dtype = torch.float32
    # A backend that passes its self-check here is the one the dispatcher then runs.
    assert apply_attention_backend(pipe, torch.device("cpu"), dtype, "_native_math") == "_native_math"
    assert str(pipe.transformer.blocks[0].attn1.processor._attention_backend.value) == "_native_math"
    # FlashAttention is not installed on this machine: it fails its self-check and we fall back.
    with caplog.at_level(logging.WARNING):
        assert apply_attention_backend(pipe, torch.device("cpu"), dtype, "flash") == "native"
    assert "flash" in caplog.text
    assert str(pipe.transformer.blocks[0].attn1.processor._attention_backend.value) == "native"


@pytest.mark.parametrize("model", ["tiny-wan2.1-t2v", "tiny-wan2.2-i2v-a14b", "tiny-wan2.1-flf2v"])
def test_batched_cfg_equals_two_pass_cfg(tiny_weights_dir: Path, color_images: dict[str, Path], model: str) -> None:
    images: dict[str, Any] = {}
    if model != "tiny-wan2.1-t2v":
        images = {"image": color_images["red"], "last_image": color_images["blue"]}
    spec = GenerationSpec(model=model, prompt="a cat", seed=4, steps=3, **images)
    batched = VideoGenerator(WeightsLocator(tiny_weights_dir), cfg_batch=True).generate(spec)
    two_pass = VideoGenerator(WeightsLocator(tiny_weights_dir), cfg_batch=False).generate(spec)
    assert batched.optimizations["cfg_batched_forwards"] == 3  # every step ran as one batch
    assert "cfg_batched_forwards" not in two_pass.optimizations
    diff = np.abs(batched.frames.astype(int) - two_pass.frames.astype(int))
    assert diff.max() <= 1  # same math; at most rounding in the last bit of a pixel


@pytest.mark.slow
def test_compile_is_warmed_up_at_preload(tiny_weights_dir: Path) -> None:
    """Regional compile happens at preload (one step at the default size), not in the first request."""
    from torch._dynamo.utils import counters

    counters.clear()
    gen = VideoGenerator(WeightsLocator(tiny_weights_dir), compile=True)
    gen.preload("tiny-wan2.1-t2v")
    compiled_at_preload = counters["stats"]["unique_graphs"]
    assert compiled_at_preload > 0
    result = gen.generate(GenerationSpec(model="tiny-wan2.1-t2v", prompt="a cat", seed=1))
    assert result.timings["load_s"] == 0.0 and result.optimizations["compiled"] is True
    assert counters["stats"]["unique_graphs"] == compiled_at_preload  # the request compiled nothing new
    # Other sizes and lengths a server sees: dynamic shapes, no recompile (README "Speed and memory").
    for width, height, frames in ((96, 64, 13), (128, 96, 5)):
        gen.generate(GenerationSpec(model="tiny-wan2.1-t2v", prompt="a cat", seed=1, width=width, height=height,
                                    num_frames=frames, steps=2))
    assert counters["stats"]["unique_graphs"] == compiled_at_preload, "a new size recompiled the blocks"
