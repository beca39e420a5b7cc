"""LTX-2 as a family: the tiny model through the same generator as real weights (every mode, a
soundtrack next to the frames, seeds, generate_audio false), the catalog's audio rules, the memory
planner at published size, and the published architecture built on the meta device."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from pipelines.core.catalog import Mode
from pipelines.core.errors import InvalidSpec
from pipelines.core.memory import GIB, MemoryStrategy, VramEstimate, plan_memory
from pipelines.core.spec import GenerationSpec, resolve
from pipelines.families import adapter_for, default_catalog
from pipelines.generate import VideoGenerator
from pipelines.weights import WeightsLocator

MODEL = "tiny-ltx-2"


@pytest.fixture(scope="module")
def gen(tiny_weights_dir: Path) -> VideoGenerator:
    return VideoGenerator(WeightsLocator(tiny_weights_dir))


def _spec(mode: Mode, images: dict[str, Path], **kw: Any) -> GenerationSpec:
    extra: dict[str, Any] = {}
    if mode is not Mode.TEXT_TO_VIDEO:
        extra["image"] = images["red"]
    if mode is Mode.FIRST_LAST_FRAME:
        extra["last_image"] = images["blue"]
    return GenerationSpec(model=MODEL, mode=mode, prompt="a robot dances, drums play", steps=2, **(extra | kw))


_ENTRY = default_catalog().get(MODEL)
assert _ENTRY is not None
_MODES = [m for m in Mode if m in _ENTRY.modes]  # the modes LTX-2 serves (not Wan VACE's video-to-video)


@pytest.mark.parametrize("mode", _MODES, ids=[m.value for m in _MODES])
def test_every_mode_returns_frames_and_a_soundtrack(gen: VideoGenerator, color_images: dict[str, Path],
                                                    mode: Mode) -> None:
    result = gen.generate(_spec(mode, color_images, seed=4))
    assert result.frames.shape == (9, 64, 64, 3)
    assert result.spec.pipeline_class.startswith("LTX2")
    audio = result.audio
    assert audio is not None and (audio.sample_rate, audio.channels) == (16000, 2)
    assert abs(audio.duration_s - 9 / 24) <= 1 / 24  # the model's own length, before any fitting
    assert float(np.abs(audio.samples).max()) > 0.0
    assert result.timings["audio_decode_s"] > 0.0


def test_seed_changes_the_soundtrack_and_generate_audio_false_drops_it(gen: VideoGenerator,
                                                                       color_images: dict[str, Path]) -> None:
    a = gen.generate(_spec(Mode.TEXT_TO_VIDEO, color_images, seed=1)).audio
    b = gen.generate(_spec(Mode.TEXT_TO_VIDEO, color_images, seed=1)).audio
    c = gen.generate(_spec(Mode.TEXT_TO_VIDEO, color_images, seed=2)).audio
    assert a is not None and b is not None and c is not None
    assert np.array_equal(a.samples, b.samples) and not np.array_equal(a.samples, c.samples)
    silent = gen.generate(_spec(Mode.TEXT_TO_VIDEO, color_images, seed=1, generate_audio=False))
    assert silent.audio is None and silent.spec.generate_audio is False


def test_audio_fields_resolve_and_refuse() -> None:
    catalog = default_catalog()
    rs = resolve(GenerationSpec(model="ltx-2-19b", prompt="x"), catalog)
    assert rs.generate_audio and rs.audio_guidance_scale == 7.0 and rs.audio_guidance_rescale == 0.7
    kw = adapter_for(catalog.get("ltx-2-19b")).call_kwargs(catalog.get("ltx-2-19b"), rs, None, None)  # type: ignore[arg-type]
    assert kw["audio_guidance_scale"] == 7.0 and kw["frame_rate"] == 24.0
    distilled = resolve(GenerationSpec(model="ltx-2.3-distilled", prompt="x"), catalog)
    dkw = adapter_for(catalog.get("ltx-2.3-distilled")).call_kwargs(  # type: ignore[arg-type]
        catalog.get("ltx-2.3-distilled"), distilled, None, None)  # type: ignore[arg-type]
    assert len(dkw["sigmas"]) == 8 and dkw["guidance_scale"] == 1.0
    with pytest.raises(InvalidSpec) as e:
        resolve(GenerationSpec(model="tiny-wan2.1-t2v", generate_audio=True), catalog)
    assert e.value.field == "generate_audio" and "ltx-2-19b" in e.value.message
    with pytest.raises(InvalidSpec) as e:
        resolve(GenerationSpec(model=MODEL, audio_modality_scale=11.0), catalog)
    assert e.value.field == "audio_modality_scale" and "between 0 and 10" in e.value.message
    with pytest.raises(InvalidSpec):
        resolve(GenerationSpec(model=MODEL, num_frames=12), catalog)  # 8k+1


def test_memory_planner_knows_ltx2_at_published_size() -> None:
    entry = default_catalog().get("ltx-2-19b")
    assert entry is not None
    est = VramEstimate.for_job(entry, 768, 512, 121)
    # 19B transformer + 12B Gemma + 0.5B audio VAE / vocoder / connectors in bf16 = 63 GB of weights
    assert est.weights_bytes == pytest.approx((19.0 + 12.0 + 0.5) * 1e9 * 2, rel=1e-6)
    assert plan_memory(entry, 768, 512, 121, 80 * GIB).strategy is MemoryStrategy.NONE
    small = plan_memory(entry, 768, 512, 121, 24 * GIB)
    assert small.fits and small.strategy is MemoryStrategy.GROUP_OFFLOAD  # consumer cards: offload
    assert not plan_memory(entry, 768, 512, 121, 2 * GIB).fits


def test_published_architecture_builds_on_the_meta_device() -> None:
    from pipelines.families.ltx2.synthetic import build_pipeline

    entry = default_catalog().get("ltx-2-19b")
    assert entry is not None
    with torch.device("meta"):
        pipe = build_pipeline(entry)

    def billions(module: Any) -> float:
        return sum(p.numel() for p in module.parameters()) / 1e9

    assert billions(pipe.transformer) == pytest.approx(19.0, abs=0.3)
    assert billions(pipe.text_encoder) == pytest.approx(12.2, abs=0.4)
    extra = billions(pipe.audio_vae) + billions(pipe.vocoder) + billions(pipe.connectors) + billions(pipe.vae)
    assert extra < 3.0
    assert pipe.transformer.config.num_layers == entry.architecture.num_layers == 48
    assert pipe.vocoder.config.output_sampling_rate == entry.audio.sample_rate  # type: ignore[union-attr]
