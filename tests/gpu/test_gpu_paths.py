"""The same checks as the CPU speed tests, on real CUDA kernels (skipped without a GPU)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from benchmarks.quality import psnr
from pipelines.core.memory import MemoryStrategy
from pipelines.core.spec import GenerationSpec
from pipelines.generate import VideoGenerator
from pipelines.weights import WeightsLocator

pytestmark = pytest.mark.gpu


@pytest.mark.parametrize("strategy", list(MemoryStrategy))
def test_every_memory_strategy_runs_on_cuda(tiny_weights_dir: Path, strategy: MemoryStrategy) -> None:
    gen = VideoGenerator(WeightsLocator(tiny_weights_dir), device="cuda", memory_strategy=strategy)
    result = gen.generate(GenerationSpec(model="tiny-wan2.1-t2v", prompt="a cat", seed=1, steps=3))
    assert result.frames.shape == (9, 64, 64, 3)
    assert result.optimizations["memory_strategy"] == strategy.value
    if strategy in (MemoryStrategy.GROUP_OFFLOAD, MemoryStrategy.SEQUENTIAL):
        entry = gen.catalog.get("tiny-wan2.1-t2v")
        assert entry is not None
        pipe, _ = gen.cache.get(entry, gen.locator.require("tiny-wan2.1-t2v"), result.spec.mode, strategy)
        # Offloaded: between calls the transformer's weights live on the CPU.
        assert next(pipe.transformer.parameters()).device.type == "cpu"


def test_attention_backend_auto_and_batched_cfg_on_cuda(tiny_weights_dir: Path) -> None:
    spec = GenerationSpec(model="tiny-wan2.1-t2v", prompt="a cat", seed=3, steps=3)
    batched = VideoGenerator(WeightsLocator(tiny_weights_dir), device="cuda").generate(spec)
    two_pass = VideoGenerator(WeightsLocator(tiny_weights_dir), device="cuda", cfg_batch=False).generate(spec)
    assert batched.optimizations["attention_backend"] in ("_flash_3", "flash", "sage", "_native_cudnn", "xformers",
                                                           "native")
    assert batched.optimizations["cfg_batched_forwards"] == 3
    assert psnr(batched.frames, two_pass.frames) > 35  # bf16 kernels: same math, rounding differs
    assert batched.peak_memory_bytes is not None and batched.peak_memory_bytes > 0
    assert np.isfinite(batched.frames.astype(np.float32)).all()
    assert torch.cuda.is_available()


def test_torchao_fp8_runs_fp8_matmuls_where_the_gpu_has_them(tiny_weights_dir: Path) -> None:
    pytest.importorskip("torchao")
    spec = GenerationSpec(model="tiny-wan2.1-t2v", prompt="a cat", seed=3, steps=3)
    exact = VideoGenerator(WeightsLocator(tiny_weights_dir), device="cuda").generate(spec)
    fp8 = VideoGenerator(WeightsLocator(tiny_weights_dir), device="cuda", memory_strategy=MemoryStrategy.LAYERWISE_FP8,
                         fp8="auto").generate(spec)
    expected = ("torchao fp8 dynamic (fp8 matmuls)" if torch.cuda.get_device_capability() >= (8, 9)
                else "layerwise")
    assert fp8.optimizations["fp8_weights"] == expected
    assert psnr(exact.frames, fp8.frames) > 20.0
