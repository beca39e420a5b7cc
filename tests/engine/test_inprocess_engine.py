"""InProcessEngine as ``--engine inprocess`` builds it: the tiny models on the CPU, in a thread.

It must behave as the local workers do: the same generator options from the settings (memory
budget and strategy, attention ...) and the same failure classification (a full disk is
``storage_full``, not an internal error).
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from pipelines import resolve
from pipelines.core.spec import GenerationSpec
from server.app import make_engine
from server.engine.base import StorageFull, WorkItem, WorkResult
from server.engine.inprocess import InProcessEngine
from server.settings import Settings

MODEL = "tiny-wan2.1-t2v"


def _item(job_id: str, out: Path) -> WorkItem:
    spec = resolve(GenerationSpec(model=MODEL, prompt="a red cat walks", seed=7, steps=2))
    return WorkItem(job_id, spec.model_dump(mode="json"), out / job_id, {"job_id": job_id})


async def _run(engine: InProcessEngine, item: WorkItem) -> WorkResult:
    await engine.start()
    try:
        assert engine.ready()
        return await engine.run(item, lambda ev: None)
    finally:
        await engine.stop()


def _engine(tiny_weights_dir: Path, tmp_path: Path, **settings: object) -> InProcessEngine:
    engine = make_engine(Settings(engine="inprocess", weights_dir=tiny_weights_dir, data_dir=tmp_path,
                                  device="cpu", **settings))  # type: ignore[arg-type]
    assert isinstance(engine, InProcessEngine)
    return engine


def test_inprocess_engine_gets_the_settings_generator_options(tiny_weights_dir: Path, tmp_path: Path) -> None:
    engine = _engine(tiny_weights_dir, tmp_path, memory_budget_gb=3.0, memory_strategy="vae_tiling")
    result = asyncio.run(_run(engine, _item("opts", tmp_path)))
    plan = json.loads(Path(result.files["sidecar"]).read_text())["optimizations"]["memory_plan"]
    assert plan["budget_bytes"] == 3 * 1024**3  # the CPU has no budget of its own: this is the setting's
    assert plan["strategy"] != "none"  # the strategy floor reached the planner


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux) for a real ENOSPC")
def test_inprocess_engine_classifies_a_full_disk_as_storage_full(tiny_weights_dir: Path, tmp_path: Path) -> None:
    item = _item("full", tmp_path)
    item.output_dir.mkdir(parents=True)
    # A real ENOSPC on the thumbnail write, the second file the output writer makes.
    (item.output_dir / "video.thumbnail.webp").symlink_to("/dev/full")
    engine = _engine(tiny_weights_dir, tmp_path)
    with pytest.raises(StorageFull, match="no space left"):
        asyncio.run(_run(engine, item))
