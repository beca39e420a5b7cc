"""HunyuanVideo 1.5 as a family: the tiny T2V and I2V models through the same generator as real
weights (guidance reaches the pipeline's guider, the image conditions the video, seeds), and the
catalog's entries at published size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipelines.core.catalog import Mode
from pipelines.core.spec import GenerationSpec, resolve
from pipelines.families import adapter_for, default_catalog
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
