"""HunyuanVideo 1.5 as a family: the tiny T2V and I2V models through the same generator as real
weights (guidance reaches the pipeline's guider, the image conditions the video, seeds), and the
catalog's entries at published size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipelines.core.catalog import Mode
from pipelines.core.memory import GIB, MemoryStrategy, VramEstimate, plan_memory
from pipelines.core.spec import GenerationSpec, resolve
from pipelines.families import adapter_for, default_catalog
from pipelines.families.base import uses_cfg
from pipelines.generate import VideoGenerator
from pipelines.weights import WeightsLocator

T2V, I2V = "tiny-hunyuanvideo1.5-t2v", "tiny-hunyuanvideo1.5-i2v"


@pytest.fixture(scope="module")
def gen(tiny_weights_dir: Path) -> VideoGenerator:
    return VideoGenerator(WeightsLocator(tiny_weights_dir))


def test_text_to_video_runs_with_cfg_on_the_guider(gen: VideoGenerator) -> None:
    spec = GenerationSpec(model=T2V, prompt="a cat walks in the rain", steps=2, seed=3)
    a = gen.generate(spec)
    assert a.frames.shape == (9, 64, 64, 3)
    assert a.spec.pipeline_class == "HunyuanVideo15Pipeline"
    b = gen.generate(spec)
    no_cfg = gen.generate(spec.model_copy(update={"guidance_scale": 1.0}))
    other = gen.generate(spec.model_copy(update={"seed": 4}))
    assert np.array_equal(a.frames, b.frames)
    assert not np.array_equal(a.frames, no_cfg.frames)  # the guidance scale reached the guider
    assert not np.array_equal(a.frames, other.frames)


def test_image_to_video_is_conditioned_on_the_image(gen: VideoGenerator, color_images: dict[str, Path]) -> None:
    def run(color: str) -> np.ndarray:
        spec = GenerationSpec(model=I2V, mode=Mode.IMAGE_TO_VIDEO, prompt="a cat walks", steps=2, seed=1,
                              image=color_images[color], width=96, height=64)
        result = gen.generate(spec)
        assert result.spec.pipeline_class == "HunyuanVideo15ImageToVideoPipeline"
        return result.frames

    red, blue = run("red"), run("blue")
    assert red.shape == (9, 64, 96, 3)  # the requested size, not the pipeline's own bucket for the image
    assert not np.array_equal(red, blue)


def test_published_entries_resolve_at_their_sizes_and_token_counts() -> None:
    catalog = default_catalog()
    for model_id, (w, h) in (("hunyuanvideo1.5-480p-t2v", (848, 480)), ("hunyuanvideo1.5-720p-t2v", (1280, 720))):
        entry = catalog.get(model_id)
        assert entry is not None and set(entry.pipelines) == {Mode.TEXT_TO_VIDEO}
        rs = resolve(GenerationSpec(model=model_id, prompt="a cat"), catalog)
        assert (rs.width, rs.height, rs.num_frames, rs.steps, rs.guidance_scale) == (w, h, 121, 50, 6.0)
        # 16x spatial, 4x temporal VAE, patch 1: 31 latent frames of (w/16)x(h/16) tokens
        assert adapter_for(entry).sequence_tokens(entry, rs) == 31 * (w // 16) * (h // 16)
    for res in ("480p", "720p"):
        i2v = catalog.get(f"hunyuanvideo1.5-{res}-i2v")
        assert i2v is not None and set(i2v.pipelines) == {Mode.IMAGE_TO_VIDEO} and i2v.architecture.image_encoder


def test_distilled_entries_run_their_published_steps_without_cfg(color_images: dict[str, Path]) -> None:
    catalog = default_catalog()
    step = catalog.get("hunyuanvideo1.5-480p-i2v-step-distilled")
    assert step is not None and step.distilled
    rs = resolve(GenerationSpec(model=step.id, prompt="a cat", image=color_images["red"]), catalog)
    assert (rs.steps, rs.guidance_scale, rs.flow_shift, rs.width, rs.height) == (12, 1.0, 7.0, 848, 480)
    assert not uses_cfg(rs)  # one transformer pass per step, no negative prompt encoded
    cfg = catalog.get("hunyuanvideo1.5-720p-i2v-cfg-distilled")
    assert cfg is not None and cfg.distilled and (cfg.defaults.steps, cfg.defaults.guidance_scale) == (50, 1.0)
    # a request may still ask for 8 (or 4) steps and its own shift
    rs8 = resolve(GenerationSpec(model=step.id, prompt="a cat", image=color_images["red"], steps=8, flow_shift=5.0),
                  catalog)
    assert (rs8.steps, rs8.flow_shift) == (8, 5.0)


def test_a_distilled_entry_with_cfg_is_refused_by_the_family_rules() -> None:
    entry = default_catalog().get("hunyuanvideo1.5-480p-t2v-cfg-distilled")
    assert entry is not None
    adapter = adapter_for(entry)
    adapter.check_entry(entry)
    wrong = entry.model_copy(update={"defaults": entry.defaults.model_copy(update={"guidance_scale": 6.0})})
    with pytest.raises(ValueError, match=r"guidance_scale 1\.0"):
        adapter.check_entry(wrong)
    unshifted = entry.model_copy(update={"defaults": entry.defaults.model_copy(update={"flow_shift": None})})
    with pytest.raises(ValueError, match="flow_shift"):
        adapter.check_entry(unshifted)


def test_memory_planner_knows_hunyuan_at_published_size() -> None:
    """8.33B transformer + 7.07B Qwen2.5-VL text model + ByT5 and the VAE (1.48B) in bf16; 480p x 121 frames
    fits an 80 GiB card whole and a 24 GiB one with group offload (Tencent: 14 GB with offloading), and a
    budget nothing fits refuses with the estimate."""
    entry = default_catalog().get("hunyuanvideo1.5-480p-t2v")
    assert entry is not None
    est = VramEstimate.for_job(entry, 848, 480, 121)
    assert est.weights_bytes == pytest.approx((8.33 + 7.07 + 1.48) * 1e9 * 2, rel=1e-6)
    assert est.activation_bytes == 31 * 30 * 53 * 2048 * 2 * 32
    assert plan_memory(entry, 848, 480, 121, 80 * GIB).strategy is MemoryStrategy.NONE
    small = plan_memory(entry, 848, 480, 121, 24 * GIB)
    assert small.fits and small.strategy is MemoryStrategy.GROUP_OFFLOAD
    none = plan_memory(entry, 1280, 720, 241, 2 * GIB)
    assert not none.fits and "GiB" in none.estimate.describe()
    i2v = default_catalog().get("hunyuanvideo1.5-480p-i2v-step-distilled")
    assert i2v is not None
    assert VramEstimate.for_job(i2v, 848, 480, 121).weights_bytes > est.weights_bytes  # + the image encoder
