"""LTX-2 ``quality: "final"`` on the tiny model: stage 1 at half size, the x2 latent upsample, stage 2
at the full size on the distilled sigmas (what the transformer and the upsampler received is recorded
with forward hooks on the real modules); progress runs over both stages; the sidecar's flow record;
the stage-2 LoRA active for stage 2 only; draft unchanged; the refusals; the planner counts the upsampler."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from itertools import groupby
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from pipelines.core.catalog import Catalog, Mode
from pipelines.core.errors import InvalidSpec
from pipelines.core.memory import GIB, VramEstimate, plan_memory
from pipelines.core.spec import GenerationSpec, resolve
from pipelines.families import default_catalog
from pipelines.families.ltx2 import two_stage
from pipelines.families.ltx2.models import STAGE_2_SIGMAS
from pipelines.generate import VideoGenerator
from pipelines.result import VideoResult
from pipelines.weights import WeightsLocator

MODEL = "tiny-ltx-2"
# 128x64, 9 frames: the VAE's 32x/8x gives 2 latent frames of 2x4 at the full size, 1x2 at half.
SIZE = {"width": 128, "height": 64, "num_frames": 9}


@pytest.fixture(scope="module")
def gen(tiny_weights_dir: Path) -> VideoGenerator:
    return VideoGenerator(WeightsLocator(tiny_weights_dir))


class Seen:
    """What the real transformer and latent upsampler were called with, via forward hooks."""

    def __init__(self) -> None:
        self.tokens: list[int] = []       # the transformer's video sequence length per call
        self.timesteps: list[float] = []  # its timestep per call
        self.upsampled: list[tuple[tuple[int, ...], tuple[int, ...]]] = []  # upsampler (in, out) shapes
        self.handles: list[Any] = []

    def attach(self, pipe: Any) -> None:
        self.handles.append(pipe.transformer.register_forward_pre_hook(self._pre, with_kwargs=True))

    def _pre(self, module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.tokens.append(int(kwargs["hidden_states"].shape[1]))
        self.timesteps.append(float(kwargs["timestep"].flatten()[0]))

    def on_forward(self, module: Any, args: tuple[Any, ...], out: Any) -> None:
        from diffusers.pipelines.ltx2.latent_upsampler import LTX2LatentUpsamplerModel

        if isinstance(module, LTX2LatentUpsamplerModel):
            self.upsampled.append((tuple(args[0].shape), tuple(out.shape)))


@pytest.fixture()
def seen() -> Iterator[Seen]:
    record = Seen()
    handle = torch.nn.modules.module.register_module_forward_hook(record.on_forward)
    yield record
    handle.remove()
    for h in record.handles:
        h.remove()


def _pipe(gen: VideoGenerator, **kw: Any) -> Any:
    rs = resolve(GenerationSpec(model=MODEL, prompt="x", **kw), gen.catalog)
    entry = gen.catalog.get(MODEL)
    assert entry is not None
    return gen.cache.get(entry, gen.locator.require(MODEL), Mode.TEXT_TO_VIDEO, gen.memory_plan(rs)[1])[0]


def _final(gen: VideoGenerator, seed: int = 3, **kw: Any) -> tuple[VideoResult, list[tuple[int, int]], list[str]]:
    steps: list[tuple[int, int]] = []
    stages: list[str] = []
    spec = GenerationSpec(model=MODEL, prompt="a drummer on a beach", steps=2, seed=seed, **(SIZE | kw))
    result = gen.generate(spec, on_step=lambda i, n: steps.append((i, n)), on_stage=stages.append)
    return result, steps, stages


def test_final_runs_half_size_upsample_then_refine_at_the_requested_size(gen: VideoGenerator, seen: Seen) -> None:
    pipe = _pipe(gen, **SIZE)
    seen.attach(pipe)
    scheduler = pipe.scheduler
    result, steps, stages = _final(gen, quality="final")

    assert result.frames.shape == (9, 64, 128, 3)  # the requested size and frame count
    assert result.spec.quality == "final"
    # One group of transformer calls per step (CFG batched, plus the STG/modality passes): stage 1's 2 steps
    # at half size (2 latent frames x 1 x 2 = 4 tokens), stage 2's 3 at the full size (2 x 2 x 4 = 16)
    # on the distilled sigmas.
    per_step = [key for key, _ in groupby(zip(seen.timesteps, seen.tokens, strict=True))]
    assert [tokens for _, tokens in per_step] == [4, 4, 16, 16, 16], per_step
    assert [t for t, _ in per_step[2:]] == pytest.approx([s * 1000 for s in STAGE_2_SIGMAS], rel=1e-3)
    assert [(i[3:], o[3:]) for i, o in seen.upsampled] == [((1, 2), (2, 4))]  # x2 in height and width
    assert steps == [(1, 5), (2, 5), (3, 5), (4, 5), (5, 5)]  # progress over both stages, to the end
    assert stages.index("denoising") < stages.index("upsampling") < stages.index("refining") \
        < stages.index("decoding") < stages.index("audio_decoding")
    assert result.audio is not None and abs(result.audio.duration_s - 9 / 24) <= 1 / 24
    flow = result.optimizations["flow"]
    assert flow["quality"] == "final"
    assert [(s["name"], s["width"], s["height"], s["steps"]) for s in flow["stages"]] == [
        ("denoising", 64, 32, 2), ("upsampling", 128, 64, 0), ("refining", 128, 64, 3)]
    assert tuple(flow["stages"][2]["sigmas"]) == STAGE_2_SIGMAS and flow["stages"][2]["guidance_scale"] == 1.0
    assert {"flow_denoising_s", "flow_upsampling_s", "flow_refining_s"} <= set(result.timings)
    assert pipe.scheduler is scheduler  # stage 2's scheduler is not left for the next job


def test_draft_is_one_pass_at_the_requested_size(gen: VideoGenerator, seen: Seen) -> None:
    seen.attach(_pipe(gen, **SIZE))
    draft, steps, stages = _final(gen, quality="draft")
    plain, _, _ = _final(gen)  # no quality field: the same as draft
    assert draft.frames.shape == (9, 64, 128, 3)
    assert set(seen.tokens) == {16} and seen.upsampled == []  # full size only, no upsample
    assert steps == [(1, 2), (2, 2)] and "upsampling" not in stages and "refining" not in stages
    assert draft.optimizations["flow"]["stages"] == [
        {"name": "denoising", "width": 128, "height": 64, "steps": 2, "sigmas": None, "guidance_scale": 3.0}]
    assert np.array_equal(draft.frames, plain.frames)
    assert not any(k.startswith("flow_") for k in draft.timings)


def test_stage2_lora_is_active_for_stage_2_only(tiny_weights_dir: Path, tmp_path: Path) -> None:
    from pipelines.tiny_lora import make_tiny_lora

    weights = tmp_path / "weights"
    shutil.copytree(tiny_weights_dir / MODEL, weights / MODEL)
    make_tiny_lora(weights / MODEL, weights / MODEL / "stage2.safetensors", scale=4.0)
    base = default_catalog()
    entry = base.get(MODEL)
    assert entry is not None and entry.final_flow is not None
    with_lora = entry.model_copy(update={"final_flow": entry.final_flow.model_copy(
        update={"stage2_lora": "stage2.safetensors"})})
    catalog = Catalog([with_lora if e.id == MODEL else e for e in base.entries()])
    lora_gen = VideoGenerator(WeightsLocator(weights, catalog=catalog), catalog=catalog)
    plain_gen = VideoGenerator(WeightsLocator(weights))
    a, _, _ = _final(lora_gen, quality="final")
    b, _, _ = _final(plain_gen, quality="final")
    assert not np.array_equal(a.frames, b.frames)  # the LoRA changed stage 2
    pipe = _pipe(lora_gen, **SIZE)
    assert two_stage.STAGE2_ADAPTER not in (getattr(pipe.transformer, "peft_config", None) or {})
    draft, _, _ = _final(lora_gen, quality="draft")
    plain_draft, _, _ = _final(plain_gen, quality="draft")
    assert np.array_equal(draft.frames, plain_draft.frames)  # draft after final: no LoRA left behind


def test_missing_upsampler_names_the_folder_and_the_pull(tiny_weights_dir: Path, tmp_path: Path) -> None:
    from pipelines.core.errors import ModelUnavailable

    weights = tmp_path / "weights"
    shutil.copytree(tiny_weights_dir / MODEL, weights / MODEL)
    shutil.rmtree(weights / MODEL / "latent_upsampler")
    with pytest.raises(ModelUnavailable) as e:
        _final(VideoGenerator(WeightsLocator(weights)), quality="final")
    assert "latent_upsampler" in str(e.value) and f"weights pull {MODEL}" in str(e.value)


@pytest.mark.parametrize(("fields", "field", "words"), [
    ({"model": "tiny-wan2.1-t2v"}, "quality", "tiny-ltx-2"),            # no final flow: names the models that have one
    ({"width": 96}, "width", "multiple of 64"),                          # 96 halves to 48, not a multiple of 32
    ({"height": 32}, "height", "multiple of 64"),                        # 32 halves below the 32 minimum
    # LTX-2.3 distilled: its published flow refines, but no diffusers-layout x2 upsampler for its latents
    # is published with it for `weights pull`, so no final flow (the models that have one are named).
    ({"model": "ltx-2.3-distilled"}, "quality", "ltx-2-19b"),
    ({"speed": "fast"}, "speed", "exact"),
])
def test_final_refusals_name_the_field(fields: dict[str, Any], field: str, words: str) -> None:
    spec: dict[str, Any] = {"model": MODEL, "prompt": "x", "quality": "final", "width": 128, "height": 64} | fields
    with pytest.raises(InvalidSpec) as e:
        resolve(GenerationSpec(**spec), default_catalog())
    assert e.value.field == field and words in e.value.message, e.value.message
    # The same request as draft is fine.
    assert resolve(GenerationSpec(**(spec | {"quality": "draft"})), default_catalog()).quality == "draft"


@pytest.mark.parametrize("mode", [Mode.IMAGE_TO_VIDEO, Mode.FIRST_LAST_FRAME], ids=lambda m: m.value)
def test_final_resolves_in_the_conditioned_modes(color_images: dict[str, Path], mode: Mode) -> None:
    images: dict[str, Any] = {"image": color_images["red"]}
    if mode is Mode.FIRST_LAST_FRAME:
        images["last_image"] = color_images["blue"]
    for model in ("ltx-2-19b", MODEL):
        rs = resolve(GenerationSpec(model=model, prompt="x", quality="final", mode=mode, **images), default_catalog())
        assert (rs.mode, rs.quality) == (mode, "final")


def test_published_final_flow_and_the_planner_counts_the_upsampler() -> None:
    catalog = default_catalog()
    entry = catalog.get("ltx-2-19b")
    assert entry is not None and entry.final_flow is not None
    assert entry.final_flow.stage2_sigmas == (0.909375, 0.725, 0.421875)  # diffusers' STAGE_2_DISTILLED_SIGMA_VALUES
    assert entry.final_flow.stage2_lora == "ltx-2-19b-distilled-lora-384.safetensors"
    assert resolve(GenerationSpec(model="ltx-2-19b", prompt="x", quality="final"), catalog).quality == "final"
    more = (VramEstimate.for_job(entry, 768, 512, 121, final=True).weights_bytes
            - VramEstimate.for_job(entry, 768, 512, 121).weights_bytes)
    assert more == pytest.approx(0.5e9 * 2, rel=0.01)  # a final job holds the upsampler too: 0.5B in bf16
    plan = plan_memory(entry, 768, 512, 121, 80 * GIB, final=True)
    held = VramEstimate.for_job(entry, 768, 512, 121, plan.strategy, final=True)
    assert plan.estimate.weights_bytes == held.weights_bytes


def test_image_to_video_stage2_pipeline_shares_the_loaded_modules_as_they_are() -> None:
    """Image-to-video refines on an LTX2ConditionPipeline over the loaded components: the same module
    objects, their dtypes untouched (a bf16 transformer stays bf16, the rest float32), built once."""
    from PIL import Image

    from pipelines.families.ltx2.tiny import build_ltx2

    pipe = build_ltx2()
    pipe.transformer.to(torch.bfloat16)
    image = Image.new("RGB", (64, 64))
    refine, kw = two_stage.stage2_pipeline(pipe, {"image": image, "frame_rate": 24.0})
    assert type(refine).__name__ == "LTX2ConditionPipeline"
    assert refine.transformer is pipe.transformer and refine.vae is pipe.vae and refine.vocoder is pipe.vocoder
    assert pipe.transformer.dtype == torch.bfloat16 and pipe.vae.dtype == torch.float32
    assert "image" not in kw and kw["frame_rate"] == 24.0
    (cond,) = kw["conditions"]
    assert (cond.frames, cond.index, cond.strength) == (image, 0, 1.0)
    assert two_stage.stage2_pipeline(pipe, {"image": image})[0] is refine  # one per loaded pipeline
    assert two_stage.stage2_pipeline(pipe, {"prompt_embeds": None})[0] is pipe  # text-to-video: its own
