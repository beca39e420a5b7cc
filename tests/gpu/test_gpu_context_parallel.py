"""Context parallelism on real GPUs: two NCCL ranks, Ulysses and ring, against one GPU (needs 2 GPUs)."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path
from typing import Any

import pytest
import torch

from benchmarks.quality import psnr
from pipelines.core.spec import GenerationSpec
from pipelines.generate import VideoGenerator
from pipelines.parallel import ContextParallel, free_port_init_method, init_group, leave_group
from pipelines.weights import WeightsLocator

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two CUDA GPUs")]

SPEC: dict[str, Any] = {"model": "tiny-wan2.1-t2v", "prompt": "a red fox", "seed": 3, "steps": 3}


def _rank_main(rank: int, init: str, weights: str, kind: str, out: Any) -> None:
    init_group(rank, 2, init, torch.device(f"cuda:{rank}"))
    try:
        gen = VideoGenerator(WeightsLocator(Path(weights)), device=f"cuda:{rank}",
                             context_parallel=ContextParallel(2, kind))
        res = gen.generate(GenerationSpec(**SPEC))
        out.put((rank, res.frames, res.optimizations))
    except Exception as exc:
        out.put((rank, None, {"error": f"{type(exc).__name__}: {exc}"}))
    finally:
        leave_group()


@pytest.mark.parametrize("kind", ["ulysses", "ring"])
def test_two_gpus_match_one(tiny_weights_dir: Path, kind: str) -> None:
    alone = VideoGenerator(WeightsLocator(tiny_weights_dir), device="cuda:0").generate(GenerationSpec(**SPEC))
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    init = free_port_init_method()
    procs = [ctx.Process(target=_rank_main, args=(r, init, str(tiny_weights_dir), kind, out)) for r in range(2)]
    for p in procs:
        p.start()
    got = {rank: (frames, opt) for rank, frames, opt in (out.get(timeout=300) for _ in procs)}
    for p in procs:
        p.join(timeout=60)
    frames, opt = got[0]
    assert frames is not None, opt
    assert opt["context_parallel"]["kind"] == kind
    assert psnr(frames, alone.frames) >= 40.0
