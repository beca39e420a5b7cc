"""Wan VACE on the tiny model: what reaches the transformer. Random weights make the pixels meaningless,
so each check is on the conditioning itself, captured at the first transformer call: the latent frame
count (reference images are prepended in latent space) and the control stream VACE builds from the
source video, mask and references."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from PIL import Image

from pipelines.core.catalog import Mode
from pipelines.core.errors import InvalidSpec
from pipelines.core.spec import GenerationSpec, ResolvedSpec
from pipelines.core.spec import resolve as resolve_in
from pipelines.families import default_catalog
from pipelines.generate import VideoGenerator
from pipelines.weights import WeightsLocator

MODEL = "tiny-wan-vace"
CATALOG = default_catalog()


def resolve(spec: GenerationSpec) -> ResolvedSpec:
    return resolve_in(spec, CATALOG)


@pytest.fixture(scope="module")
def gen(tiny_weights_dir: Path) -> VideoGenerator:
    return VideoGenerator(WeightsLocator(tiny_weights_dir), max_models=2)


def _first_call(gen: VideoGenerator, spec: GenerationSpec) -> dict[str, torch.Tensor]:
    rs = resolve(spec)
    entry = CATALOG.get(MODEL)
    assert entry is not None
    gen.generate(rs)
    pipe, _ = gen.cache.get(entry, gen.locator.require(MODEL), rs.mode)
    seen: dict[str, torch.Tensor] = {}

    def hook(module: Any, args: Any, kwargs: dict[str, Any]) -> None:
        if not seen:
            seen["hidden"] = kwargs["hidden_states"].detach().float().clone()
            seen["control"] = kwargs["control_hidden_states"].detach().float().clone()

    handle = pipe.transformer.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        gen.generate(rs)
    finally:
        handle.remove()
    return seen


def _spec(**kw: Any) -> GenerationSpec:
    return GenerationSpec(model=MODEL, prompt="x", width=64, height=64, num_frames=9, steps=1, seed=4, **kw)


def test_reference_images_are_prepended_latent_frames_with_their_content(
        gen: VideoGenerator, color_images: dict[str, Path]) -> None:
    plain = _first_call(gen, _spec())
    red = _first_call(gen, _spec(reference_images=[color_images["red"]]))
    blue = _first_call(gen, _spec(reference_images=[color_images["blue"]]))
    two = _first_call(gen, _spec(reference_images=[color_images["red"], color_images["blue"]]))
    # 9 frames -> 3 latent frames; each reference adds one in front.
    assert plain["hidden"].shape[2] == 3 and red["hidden"].shape[2] == 4 and two["hidden"].shape[2] == 5
    # The reference's latent frame carries its picture: red and blue differ there...
    assert torch.dist(red["control"][:, :, 0], blue["control"][:, :, 0]) > 1e-2
    # ...and not in the video frames after it (same empty source, same mask).
    assert torch.dist(red["control"][:, :, 1:], blue["control"][:, :, 1:]) < 1e-4


def test_source_video_and_mask_shape_the_control_stream(gen: VideoGenerator, color_images: dict[str, Path],
                                                        tmp_path: Path) -> None:
    video = color_images["video"]
    free = _first_call(gen, _spec(video=video))
    half = tmp_path / "half.png"
    img = Image.new("RGB", (64, 64), (0, 0, 0))
    img.paste((255, 255, 255), (0, 0, 32, 64))  # regenerate the left half only
    img.save(half)
    masked = _first_call(gen, _spec(video=video, mask=half))
    t2v = _first_call(gen, _spec())
    assert free["hidden"].shape == t2v["hidden"].shape
    # The source video changes the control stream; so does the mask.
    assert torch.dist(free["control"], t2v["control"]) > 1e-2
    assert torch.dist(free["control"], masked["control"]) > 1e-2


def test_first_last_through_vace_keeps_the_end_frames(gen: VideoGenerator, color_images: dict[str, Path]) -> None:
    rb = _first_call(gen, _spec(mode=Mode.FIRST_LAST_FRAME, image=color_images["red"], last_image=color_images["blue"]))
    rr = _first_call(gen, _spec(mode=Mode.FIRST_LAST_FRAME, image=color_images["red"], last_image=color_images["red"]))
    # Only the last image differs: the last latent frame of the control stream moves, the first does not.
    assert torch.dist(rb["control"][:, :, -1], rr["control"][:, :, -1]) > 1e-2
    assert torch.dist(rb["control"][:, :, 0], rr["control"][:, :, 0]) < 1e-4


def test_spec_rules_for_video_mask_and_references(color_images: dict[str, Path]) -> None:
    with pytest.raises(InvalidSpec, match="reference_images"):
        resolve(GenerationSpec(model="tiny-wan2.1-t2v", reference_images=[color_images["red"]]))
    with pytest.raises(InvalidSpec, match="at most 3"):
        resolve(_spec(reference_images=[color_images["red"]] * 4))
    with pytest.raises(InvalidSpec, match="mask"):
        resolve(_spec(mask=color_images["red"]))
    with pytest.raises(InvalidSpec, match="does not serve"):
        resolve(GenerationSpec(model="tiny-ltx-video", video=color_images["video"]))
    assert resolve(_spec(video=color_images["video"])).mode is Mode.VIDEO_TO_VIDEO


def test_memory_planner_counts_vace_control_hints() -> None:
    """VACE 14B at 720p: 17.34B transformer + UMT5 in bf16, and the 8 control hints (tokens x dim each) it
    holds through the forward on top of the live activations: on 80 GiB they tip it from VAE tiling alone to
    offloading the text encoder too; on 2 GiB nothing fits."""
    from pipelines.core.memory import GIB, MemoryStrategy, VramEstimate, plan_memory

    catalog = default_catalog()
    entry = catalog.get("wan2.1-vace-14b")
    assert entry is not None
    est = VramEstimate.for_job(entry, 1280, 720, 81)
    assert est.weights_bytes == pytest.approx((17.34 + 5.7) * 1e9 * 2, rel=1e-6)
    tokens = 21 * 45 * 80
    assert est.activation_bytes == tokens * 5120 * 2 * (32 + 8)
    wan = catalog.get("wan2.1-t2v-14b")
    assert wan is not None and VramEstimate.for_job(wan, 1280, 720, 81).activation_bytes == tokens * 5120 * 2 * 32
    plan = plan_memory(entry, 1280, 720, 81, 80 * GIB)
    assert plan.fits and plan.strategy is MemoryStrategy.TEXT_OFFLOAD
    unheld = entry.model_copy(update={"architecture": entry.architecture.model_copy(update={"held_activations": 0})})
    assert plan_memory(unheld, 1280, 720, 81, 80 * GIB).strategy is MemoryStrategy.VAE_TILING
    assert not plan_memory(entry, 1280, 720, 81, 2 * GIB).fits


def test_memory_planner_counts_the_latent_frames_reference_images_add(
        gen: VideoGenerator, color_images: dict[str, Path]) -> None:
    """Three reference images are three more latent frames in VACE's sequence (21 + 3 at 81 frames), so
    the planner (the API's admission and the worker's, one function) counts their activations too."""
    from pipelines.core.memory import GIB, VramEstimate
    from pipelines.families import plan_job_memory

    entry = CATALOG.get("wan2.1-vace-14b")
    assert entry is not None
    plain = resolve(GenerationSpec(model=entry.id, prompt="x", width=1280, height=720, num_frames=81))
    refs = resolve(GenerationSpec(model=entry.id, prompt="x", width=1280, height=720, num_frames=81,
                                  reference_images=[color_images["red"]] * 3))
    per_token = 5120 * 2 * (32 + 8)
    assert plan_job_memory(entry, plain, 80 * GIB).estimate.activation_bytes == 21 * 45 * 80 * per_token
    with_refs = plan_job_memory(entry, refs, 80 * GIB).estimate
    assert with_refs.activation_bytes == (21 + 3) * 45 * 80 * per_token
    assert with_refs.activation_bytes > VramEstimate.for_job(entry, 1280, 720, 81).activation_bytes
    worker_plan, _ = gen.memory_plan(refs)  # what the worker plans with
    assert worker_plan.estimate.activation_bytes == with_refs.activation_bytes
