"""Tiny real diffusers pipelines on the CPU: every family x mode, seeds, conditioning, progress, stop."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from pipelines.core.catalog import Mode
from pipelines.core.errors import GenerationCancelled
from pipelines.core.spec import GenerationSpec
from pipelines.encode import probe
from pipelines.families import default_catalog
from pipelines.generate import VideoGenerator
from pipelines.outputs import write_outputs
from pipelines.tiny import tiny_ids
from pipelines.weights import WeightsLocator

CASES = [(m, mode) for m in tiny_ids() for mode in default_catalog().get(m).modes]  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def gen(tiny_weights_dir: Path) -> VideoGenerator:
    return VideoGenerator(WeightsLocator(tiny_weights_dir), max_models=8)


def _spec(model: str, mode: Mode, images: dict[str, Path], **kw: Any) -> GenerationSpec:
    extra: dict[str, Any] = {}
    if mode is Mode.VIDEO_TO_VIDEO:
        extra["video"] = images["video"]
    elif mode is not Mode.TEXT_TO_VIDEO:
        extra["image"] = images["red"]
    if mode is Mode.FIRST_LAST_FRAME:
        extra["last_image"] = images["blue"]
    return GenerationSpec(model=model, mode=mode, prompt="a red boat on the ocean", **(extra | kw))


@pytest.mark.parametrize(("model", "mode"), CASES, ids=[f"{m}-{mode.value}" for m, mode in CASES])
def test_every_family_and_mode_makes_a_decodable_video(
    gen: VideoGenerator, color_images: dict[str, Path], tmp_path: Path, model: str, mode: Mode
) -> None:
    # 96x64 is not the default size, 12 fps not the default rate: both must be honoured.
    result = gen.generate(_spec(model, mode, color_images, width=96, height=64, num_frames=9, fps=12, seed=3))
    assert result.frames.shape == (9, 64, 96, 3) and result.frames.dtype == np.uint8
    files = write_outputs(result, tmp_path / "video.mp4")
    info = probe(files.video)
    assert (info.frames, info.width, info.height, info.fps) == (9, 96, 64, 12.0)
    assert info.codec == "h264" and info.pix_fmt == "yuv420p"
    assert files.thumbnail.stat().st_size > 0 and files.last_frame.stat().st_size > 0
    for key in ("load_s", "text_encode_s", "denoise_s", "decode_s", "total_s"):
        assert result.timings[key] >= 0.0


def test_same_seed_same_frames_other_seed_differs(gen: VideoGenerator, color_images: dict[str, Path]) -> None:
    a = gen.generate(_spec("tiny-wan2.1-t2v", Mode.TEXT_TO_VIDEO, color_images, seed=11)).frames
    b = gen.generate(_spec("tiny-wan2.1-t2v", Mode.TEXT_TO_VIDEO, color_images, seed=11)).frames
    c = gen.generate(_spec("tiny-wan2.1-t2v", Mode.TEXT_TO_VIDEO, color_images, seed=12)).frames
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def _first_transformer_input(gen: VideoGenerator, spec: GenerationSpec) -> torch.Tensor:
    """The latents the transformer sees at the first step (conditioning included)."""
    from pipelines import resolve

    rs = resolve(spec)
    entry = default_catalog().get(rs.model)
    assert entry is not None
    gen.generate(rs)  # make it resident, then hook the very pipeline object that runs
    pipe, load_s = gen.cache.get(entry, gen.locator.require(rs.model), rs.mode)
    assert load_s == 0.0
    seen: list[torch.Tensor] = []

    def hook(module: Any, args: Any, kwargs: dict[str, Any]) -> None:
        if not seen:
            seen.append(kwargs["hidden_states"].detach().clone())

    handle = pipe.transformer.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        gen.generate(rs)
    finally:
        handle.remove()
    return seen[0].float()


def _first_last(model: str, hs: torch.Tensor, width: int, height: int) -> tuple[torch.Tensor, torch.Tensor]:
    if model.startswith("tiny-ltx"):
        # LTX packs latents as tokens (B, seq, C): the first image replaces the first latent frame's
        # tokens; a condition at another frame index is prepended as one extra latent frame.
        arch = default_catalog().get(model).architecture  # type: ignore[union-attr]
        per_frame = (height // arch.vae_spatial) * (width // arch.vae_spatial)
        latent_frames = (9 - 1) // arch.vae_temporal + 1
        assert hs.shape[1] == (latent_frames + 1) * per_frame  # the latent frames of 9 pixel frames + 1 prepended
        return hs[:, per_frame : 2 * per_frame], hs[:, :per_frame]
    # Wan I2V: channels = 16 noise + 4 mask + 16 VAE latents of [first, zeros..., last].
    cond = hs[:, 20:36]
    return cond[:, :, 0], cond[:, :, -1]


@pytest.mark.parametrize("model", ["tiny-wan2.1-flf2v", "tiny-wan2.2-i2v-a14b", "tiny-ltx-video"])
def test_first_and_last_images_condition_the_right_ends(
    gen: VideoGenerator, color_images: dict[str, Path], model: str
) -> None:
    """Random tiny weights make the decoded pixels meaningless, so the check is on what the
    conditioning itself determines: the conditioned latents the transformer receives at step 1.
    Runs with (first, last) = (red, blue), (red, red) and (blue, blue) share seed and noise, so a
    difference between two runs comes only from the image that differs:
    - red->blue vs red->red differ only in the last image: the first end must not move (it is the
      red image's latent), the last end must;
    - red->blue vs blue->blue differ only in the first image: the first end must move.
    Swapping first and last in the wiring, or dropping the last image, fails these."""
    red, blue = color_images["red"], color_images["blue"]
    w = h = 64
    runs = {}
    for name, first, last in (("rb", red, blue), ("rr", red, red), ("bb", blue, blue)):
        spec = GenerationSpec(model=model, mode=Mode.FIRST_LAST_FRAME, prompt="x", image=first, last_image=last,
                              width=w, height=h, num_frames=9, steps=2, seed=5)
        runs[name] = _first_last(model, _first_transformer_input(gen, spec), w, h)
    (rb_first, rb_last), (rr_first, rr_last), (bb_first, _) = runs["rb"], runs["rr"], runs["bb"]
    first_moved_by_last_image = torch.dist(rb_first, rr_first)
    last_moved_by_last_image = torch.dist(rb_last, rr_last)
    first_moved_by_first_image = torch.dist(rb_first, bb_first)
    assert first_moved_by_last_image < 1e-4 * max(1.0, float(first_moved_by_first_image))
    assert last_moved_by_last_image > 1e-3
    assert first_moved_by_first_image > 1e-3


def test_on_step_in_order_and_should_stop_within_one_step(
    gen: VideoGenerator, color_images: dict[str, Path]
) -> None:
    steps: list[tuple[int, int]] = []
    full = gen.generate(_spec("tiny-wan2.1-t2v", Mode.TEXT_TO_VIDEO, color_images, steps=6, seed=1),
                        on_step=lambda i, n: steps.append((i, n)))
    assert steps == [(i, 6) for i in range(1, 7)]
    assert len(full.step_seconds) == 6

    seen: list[int] = []
    with pytest.raises(GenerationCancelled) as info:
        gen.generate(_spec("tiny-ltx-video", Mode.TEXT_TO_VIDEO, color_images, steps=20, seed=1),
                     on_step=lambda i, n: seen.append(i), should_stop=lambda: len(seen) >= 3)
    assert seen == [1, 2, 3]  # nothing ran past the step at which stop turned true
    assert info.value.step == 3 and info.value.total == 20


def test_stages_reported_in_order(gen: VideoGenerator, color_images: dict[str, Path]) -> None:
    stages: list[str] = []
    gen.cache.evict("tiny-wan2.1-t2v")
    gen.generate(_spec("tiny-wan2.1-t2v", Mode.TEXT_TO_VIDEO, color_images, seed=1), on_stage=stages.append)
    assert stages == ["loading", "text_encoding", "denoising", "decoding"]
