"""SkyReels-V2 diffusion forcing on the tiny model: text-to-video through ``generate()``, the window
settings reaching diffusers (a shot longer than one window runs as overlapping windows), and an extension's
continuation conditioned on the source's last frames. Random weights make the pixels meaningless, so the
checks are on shapes, what the transformer is called with, and differences between sources."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pipelines.core.catalog import Mode
from pipelines.core.spec import GenerationSpec, resolve
from pipelines.families import adapter_for, default_catalog
from pipelines.families.skyreels_v2.models import DF_SETTINGS
from pipelines.generate import VideoGenerator
from pipelines.outputs import write_outputs
from pipelines.weights import WeightsLocator

MODEL = "tiny-skyreels-v2-df"
CATALOG = default_catalog()


@pytest.fixture(scope="module")
def gen(tiny_weights_dir: Path) -> VideoGenerator:
    return VideoGenerator(WeightsLocator(tiny_weights_dir), max_models=1)


def _windows(gen: VideoGenerator, spec: GenerationSpec) -> tuple[Any, list[int]]:
    """Run ``spec``; the latent frame count of every transformer call."""
    rs = resolve(spec, CATALOG)
    entry = CATALOG.get(MODEL)
    assert entry is not None
    pipe, _ = gen.cache.get(entry, gen.locator.require(MODEL), rs.mode)
    seen: list[int] = []
    handle = pipe.transformer.register_forward_pre_hook(
        lambda m, a, kw: seen.append(int(kw["hidden_states"].shape[2])), with_kwargs=True)
    try:
        result = gen.generate(rs)
    finally:
        handle.remove()
    return result, seen


def test_text_to_video_through_generate(gen: VideoGenerator, tmp_path: Path) -> None:
    result, calls = _windows(gen, GenerationSpec(model=MODEL, prompt="a boat", seed=1, steps=2))
    assert result.frames.shape == (9, 64, 64, 3) and result.frames.dtype == np.uint8
    # The published UniPC scheduler at the catalog's shift; one window (3 latent frames), CFG on.
    assert result.optimizations["scheduler"] == {"class": "UniPCMultistepScheduler", "flow_shift": 8.0}
    assert set(calls) == {3}
    files = write_outputs(result, tmp_path / "t2v.mp4")
    assert files.video.is_file()


def test_a_shot_longer_than_one_window_runs_as_overlapping_windows(gen: VideoGenerator) -> None:
    df = DF_SETTINGS[MODEL]
    assert (df.base_num_frames, df.overlap_history) == (9, 5)  # 3 latent frames a window, 2 overlapping
    result, calls = _windows(gen, GenerationSpec(model=MODEL, prompt="a boat", seed=1, steps=2, num_frames=17,
                                                 guidance_scale=1.0))
    assert result.frames.shape[0] == 17
    # 17 frames = 5 latent frames: windows of at most 3, each new one starting on 2 of the last's.
    assert max(calls) == 3 and len(calls) > 2 * 2


def test_extension_continues_the_source_it_is_given(gen: VideoGenerator, tmp_path: Path) -> None:
    sources = []
    for seed in (1, 2):
        r = gen.generate(resolve(GenerationSpec(model=MODEL, prompt="a boat", seed=seed, steps=2), CATALOG))
        sources.append(write_outputs(r, tmp_path / f"src{seed}.mp4").video)
    entry = CATALOG.get(MODEL)
    assert entry is not None and adapter_for(entry).extends_natively(entry)
    outs = []
    for src in sources:
        rs = resolve(GenerationSpec(model=MODEL, prompt="it sails on", seed=7, steps=2, num_frames=9, video=src,
                                    extend_video=src), CATALOG)
        assert rs.mode is Mode.VIDEO_TO_VIDEO
        outs.append(gen.generate(rs).frames)
    assert outs[0].shape == outs[1].shape == (9 + 9 - 1, 64, 64, 3)
    # Same seed and prompt: the continuations differ only because their sources do.
    assert np.abs(outs[0][9:].astype(int) - outs[1][9:].astype(int)).mean() > 1.0


def test_video_to_video_refuses_a_mask_it_would_ignore(color_images: dict[str, Path]) -> None:
    from pipelines.core.errors import InvalidSpec

    entry = CATALOG.get(MODEL)
    assert entry is not None and "video" in entry.inputs and "mask" not in entry.inputs
    with pytest.raises(InvalidSpec) as err:
        resolve(GenerationSpec(model=MODEL, prompt="x", video=color_images["video"], mask=color_images["red"]),
                CATALOG)
    assert err.value.field == "mask" and "takes no mask" in str(err.value)
