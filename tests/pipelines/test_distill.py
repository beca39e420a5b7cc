"""Step-distilled models on the CPU: their own step count without CFG, the published timestep schedule
reaching the scheduler, bundled LoRAs fused at load (per expert, at their strength), the scheduler
shift, and what happens to a request that asks for another step count."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from pipelines import resolve
from pipelines.core.catalog import Catalog, Mode, ModelEntry
from pipelines.core.errors import ModelUnavailable
from pipelines.core.loras import LoraRef
from pipelines.core.spec import GenerationSpec
from pipelines.families import default_catalog
from pipelines.generate import VideoGenerator
from pipelines.outputs import write_outputs
from pipelines.weights import WeightsLocator

CATALOG = default_catalog()
LTX = "tiny-ltx-video-distilled"
WAN_LORA = "tiny-wan2.1-t2v-distill-lora"
WAN22_LORA = "tiny-wan2.2-t2v-a14b-lightning"


def _entry(model_id: str) -> ModelEntry:
    entry = CATALOG.get(model_id)
    assert entry is not None
    return entry


@pytest.fixture(scope="module")
def gen(tiny_weights_dir: Path) -> VideoGenerator:
    return VideoGenerator(WeightsLocator(tiny_weights_dir), max_models=8)


def _pipe(gen: VideoGenerator, model_id: str, mode: Mode = Mode.TEXT_TO_VIDEO) -> Any:
    """The very pipeline object ``gen`` runs for this model and mode (loaded if needed)."""
    entry = _entry(model_id)
    pipe, _ = gen.cache.get(entry, gen.locator.require(model_id), mode)
    return pipe


@contextmanager
def _transformer_rows(pipe: Any) -> Iterator[list[int]]:
    """Batch rows the transformer(s) evaluate, one entry per call. With CFG every step evaluates two rows
    (Wan: two calls, or one batched pair; LTX: one call on a batch of two); without CFG, one."""
    rows: list[int] = []

    def hook(module: Any, args: Any, kwargs: dict[str, Any]) -> None:
        rows.append(int(kwargs["hidden_states"].shape[0]))

    handles = [m.register_forward_pre_hook(hook, with_kwargs=True)
               for m in (pipe.transformer, getattr(pipe, "transformer_2", None)) if m is not None]
    try:
        yield rows
    finally:
        for h in handles:
            h.remove()


@pytest.mark.parametrize("model", [LTX, WAN_LORA, WAN22_LORA])
def test_distilled_model_runs_its_own_steps_without_cfg(gen: VideoGenerator, model: str) -> None:
    entry = _entry(model)
    steps = entry.defaults.steps
    pipe = _pipe(gen, model)
    progress: list[tuple[int, int]] = []
    with _transformer_rows(pipe) as rows:
        gen.generate(GenerationSpec(model=model, prompt="a red boat", seed=1),
                     on_step=lambda i, n: progress.append((i, n)))
    assert sum(rows) == steps and len(rows) == steps  # one evaluation per step: no CFG pass
    assert progress == [(i, steps) for i in range(1, steps + 1)]
    # The same model asked for guidance 5 runs CFG: twice the evaluations. The count above is not a constant.
    with _transformer_rows(pipe) as rows:
        gen.generate(GenerationSpec(model=model, prompt="a red boat", seed=1, guidance_scale=5.0, guidance_scale_2=(
            5.0 if entry.architecture.experts == 2 else None)))
    assert sum(rows) == 2 * steps


def _capture_steps(pipe: Any) -> tuple[list[float], Any]:
    """Record the timestep of every ``scheduler.step`` call on this pipeline's scheduler."""
    seen: list[float] = []
    original = pipe.scheduler.step

    def step(model_output: Any, timestep: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(float(timestep))
        return original(model_output, timestep, *args, **kwargs)

    pipe.scheduler.step = step
    return seen, original


@pytest.mark.parametrize("mode", [Mode.TEXT_TO_VIDEO, Mode.IMAGE_TO_VIDEO])
def test_published_schedule_reaches_the_scheduler(gen: VideoGenerator, color_images: dict[str, Path],
                                                  mode: Mode) -> None:
    from diffusers.pipelines.ltx.pipeline_ltx_condition import linear_quadratic_schedule

    published = _entry(LTX).defaults.timesteps
    assert published is not None
    default = [round(float(t) * 1000, 4) for t in linear_quadratic_schedule(len(published))]
    assert default != pytest.approx(list(published))  # the check below can tell the two apart
    image = {"image": color_images["red"]} if mode is Mode.IMAGE_TO_VIDEO else {}
    pipe = _pipe(gen, LTX, mode)
    seen, original = _capture_steps(pipe)
    try:
        result = gen.generate(GenerationSpec(model=LTX, mode=mode, prompt="a red boat", seed=2, **image))
    finally:
        pipe.scheduler.step = original
    assert seen == pytest.approx(list(published))
    assert [float(t) for t in pipe.scheduler.timesteps] == pytest.approx(list(published))
    assert result.optimizations["schedule"]["source"] == "published"
    assert result.optimizations["schedule"]["timesteps"] == pytest.approx(list(published))


def test_real_distilled_ltx_call_carries_its_published_schedule() -> None:
    """The bug this fixes: the 0.9.7 distilled entry named a schedule that never reached diffusers."""
    from pipelines.families import adapter_for

    for model in ("ltx-video-13b-0.9.7-distilled", "ltx-video-13b-0.9.8-distilled"):
        entry = _entry(model)
        call_kwargs = adapter_for(entry).call_kwargs
        kw = call_kwargs(entry, resolve(GenerationSpec(model=model, prompt="x", seed=0)), None, None)
        assert kw["timesteps"] == [1000, 993, 987, 981, 975, 909, 725, 0.03] and kw["guidance_scale"] == 1.0
        assert resolve(GenerationSpec(model=model, prompt="x")).pipeline_class == "LTXConditionPipeline"
        assert "timesteps" not in call_kwargs(entry, resolve(GenerationSpec(model=model, prompt="x", steps=6)),
                                              None, None)


def test_other_step_counts_run_the_default_schedule_and_say_so(gen: VideoGenerator,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    published = _entry(LTX).defaults.timesteps
    assert published is not None
    pipe = _pipe(gen, LTX)
    seen, original = _capture_steps(pipe)
    try:
        with caplog.at_level(logging.WARNING, logger="pipelines.generate"):
            result = gen.generate(GenerationSpec(model=LTX, prompt="a red boat", seed=2, steps=3))
    finally:
        pipe.scheduler.step = original
    assert len(seen) == 3 and seen[0] == pytest.approx(1000.0)
    assert seen != pytest.approx(list(published[:3]))  # not the published schedule cut short
    schedule = result.optimizations["schedule"]
    assert schedule["source"] == "pipeline default" and schedule["timesteps"] == pytest.approx(seen)
    assert "steps=3" in schedule["note"] and f"{len(published)}-step" in schedule["note"]
    assert any("steps=3" in r.getMessage() and LTX in r.getMessage() for r in caplog.records)


def _lora_delta(path: Path, module: str, strength: float) -> torch.Tensor:
    state = load_file(str(path))
    a, b = state[f"transformer.{module}.lora_A.weight"], state[f"transformer.{module}.lora_B.weight"]
    return strength * (b.float() @ a.float())  # tiny LoRAs are saved with alpha == rank: scale 1


@pytest.mark.parametrize("model", [WAN_LORA, WAN22_LORA])
def test_bundled_loras_are_fused_into_their_experts_at_their_strength(
    gen: VideoGenerator, tiny_weights_dir: Path, model: str
) -> None:
    entry = _entry(model)
    base = _pipe(gen, entry.base_model or "")
    gen.cache.evict(model)  # freshly loaded: no request has run on it yet
    derived = _pipe(gen, model)
    module = "blocks.0.attn1.to_q"
    for lora in entry.bundled_loras:
        weight = getattr(derived, lora.target).get_submodule(module).weight.detach()
        tol = 1e-5 if weight.dtype == torch.float32 else 2e-2  # bf16 on a GPU rounds the fused sum
        fused = weight.float().cpu()
        plain = getattr(base, lora.target).get_submodule(module).weight.detach().float().cpu()
        expected = plain + _lora_delta(tiny_weights_dir / model / lora.file, module, lora.strength)
        assert torch.allclose(fused, expected, atol=tol), lora
        assert not torch.allclose(fused, plain, atol=1e-3)
    # Fused and the adapter layers dropped at load: nothing a per-request LoRA switch could remove.
    assert not any(getattr(getattr(derived, lora.target), "peft_config", None) for lora in entry.bundled_loras)
    assert base.transformer is not derived.transformer  # the base model itself is untouched


def test_bundled_lora_changes_the_output_and_is_recorded(gen: VideoGenerator, tiny_weights_dir: Path,
                                                         tmp_path: Path) -> None:
    entry = _entry(WAN_LORA)
    # The same entry without its LoRA (same weights, steps, guidance, shift): only the LoRA differs.
    bare = entry.model_copy(update={"id": "tiny-distill-without-lora", "bundled_loras": ()})
    catalog = Catalog([*CATALOG.entries(), bare])
    bare_gen = VideoGenerator(WeightsLocator(tiny_weights_dir, catalog=catalog), catalog=catalog)
    spec = {"prompt": "a red boat", "seed": 4}
    with_lora = gen.generate(GenerationSpec(model=WAN_LORA, **spec))
    without = bare_gen.generate(GenerationSpec(model=bare.id, **spec))
    assert np.abs(with_lora.frames.astype(int) - without.frames).mean() > 1.0
    assert without.optimizations["scheduler"] == with_lora.optimizations["scheduler"]

    lora_file = tiny_weights_dir / WAN_LORA / entry.bundled_loras[0].file
    [record] = with_lora.optimizations["bundled_loras"]
    assert record["sha256"] == hashlib.sha256(lora_file.read_bytes()).hexdigest()
    assert (record["file"], record["target"], record["strength"]) == (lora_file.name, "transformer", 1.0)
    side = json.loads(write_outputs(with_lora, tmp_path / "v.mp4").sidecar.read_text())
    assert side["model"]["base_model"] == "tiny-wan2.1-t2v"
    assert side["optimizations"]["bundled_loras"][0]["sha256"] == record["sha256"]
    assert side["optimizations"]["schedule"]["steps"] == entry.defaults.steps


def test_scheduler_shift_is_set_at_load(gen: VideoGenerator) -> None:
    derived, base = _pipe(gen, WAN_LORA), _pipe(gen, "tiny-wan2.1-t2v")
    assert derived.scheduler.config.shift == _entry(WAN_LORA).defaults.flow_shift != base.scheduler.config.shift
    steps = _entry(WAN_LORA).defaults.steps
    derived.scheduler.set_timesteps(steps)
    base.scheduler.set_timesteps(steps)
    assert not torch.allclose(derived.scheduler.timesteps, base.scheduler.timesteps)


def test_a_request_lora_stacks_on_the_bundled_one_and_unloading_keeps_it(
    gen: VideoGenerator, tiny_weights_dir: Path, tmp_path: Path
) -> None:
    from pipelines.tiny_lora import make_tiny_lora

    path = make_tiny_lora(tiny_weights_dir / "tiny-wan2.1-t2v", tmp_path / "style.safetensors", seed=9)
    ref = LoraRef(name="style", path=path, sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
                  bytes=path.stat().st_size, strength=1.0)
    spec = {"model": WAN_LORA, "prompt": "a red boat", "seed": 5}
    distilled = gen.generate(GenerationSpec(**spec)).frames
    styled = gen.generate(GenerationSpec(**spec, loras=[ref])).frames
    again = gen.generate(GenerationSpec(**spec)).frames
    assert np.abs(styled.astype(int) - distilled).mean() > 1.0
    assert np.array_equal(again, distilled)  # the distilled model, not the undistilled base


def test_missing_bundled_lora_is_named_and_the_model_not_present(tiny_weights_dir: Path, tmp_path: Path) -> None:
    weights = tmp_path / "w"
    shutil.copytree(tiny_weights_dir / "tiny-wan2.2-t2v-a14b", weights / "tiny-wan2.2-t2v-a14b")
    shutil.copytree(tiny_weights_dir / WAN22_LORA, weights / WAN22_LORA)
    low = _entry(WAN22_LORA).bundled_loras[1].file
    (weights / WAN22_LORA / low).unlink()
    locator = WeightsLocator(weights)
    assert locator.find(WAN22_LORA) is None and locator.find("tiny-wan2.2-t2v-a14b") is not None
    with pytest.raises(ModelUnavailable) as info:
        locator.require(WAN22_LORA)
    assert low in str(info.value) and "make-tiny" in str(info.value)
    # A real entry names the repo to pull from.
    shutil.copytree(tiny_weights_dir / "tiny-wan2.2-t2v-a14b", weights / "wan2.2-t2v-a14b")
    with pytest.raises(ModelUnavailable) as info:
        locator.require("wan2.2-t2v-a14b-lightning-4step")
    msg = str(info.value)
    assert "lightx2v/Wan2.2-Lightning" in msg and "vidserve weights pull wan2.2-t2v-a14b-lightning-4step" in msg


def test_pull_fetches_each_bundled_lora_pinned_and_the_entry_then_runs(
    tiny_weights_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`weights pull` for a LoRA distillation, with the hub faked: the base is already present (so it
    is not downloaded again), each LoRA file comes from its repo at the commit its revision resolves
    to, and the real catalog entry then loads and runs (on tiny base weights standing in)."""
    import huggingface_hub

    from pipelines.pull import pull
    from pipelines.tiny_lora import make_tiny_lora

    model = "wan2.2-t2v-a14b-lightning-4step"
    weights = tmp_path / "w"
    base = shutil.copytree(tiny_weights_dir / "tiny-wan2.2-t2v-a14b", weights / "wan2.2-t2v-a14b")
    calls: list[tuple[str, str, str]] = []

    class FakeApi:
        def model_info(self, repo: str, revision: str) -> Any:
            return SimpleNamespace(sha=f"{revision}-resolved")

    def fake_download(repo_id: str, filename: str, revision: str, local_dir: Path) -> str:
        calls.append((repo_id, filename, revision))
        target = "transformer_2" if "low_noise" in filename else "transformer"
        return str(make_tiny_lora(base, Path(local_dir) / filename, component=target, seed=len(calls)))

    def no_snapshot(**kwargs: Any) -> None:
        raise AssertionError(f"the base is present and must not be downloaded again: {kwargs}")

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", no_snapshot)
    with pytest.raises(ValueError, match="--revision"):
        pull(model, weights, revision="abc")
    target = pull(model, weights)
    entry = _entry(model)
    assert calls == [(b.repo, b.file, "main-resolved") for b in entry.bundled_loras]
    manifest = json.loads((target / ".vidserve-pull.json").read_text())
    assert [x["commit"] for x in manifest["loras"]] == ["main-resolved", "main-resolved"]

    result = VideoGenerator(WeightsLocator(weights)).generate(
        GenerationSpec(model=model, prompt="rain", seed=1, width=64, height=64, num_frames=5))
    assert [b["target"] for b in result.optimizations["bundled_loras"]] == ["transformer", "transformer_2"]
    assert {b["repo"] for b in result.optimizations["bundled_loras"]} == {"lightx2v/Wan2.2-Lightning"}
    assert result.optimizations["schedule"]["steps"] == entry.defaults.steps


def test_catalog_refuses_distillations_that_cannot_run() -> None:
    from pydantic import ValidationError

    from pipelines.core.catalog import BundledLora, Defaults

    ltx = _entry("tiny-ltx-video-distilled")
    with pytest.raises(ValidationError, match="entries but steps"):
        Defaults(width=64, height=64, num_frames=9, fps=24, steps=3, guidance_scale=1.0, timesteps=(1000.0, 500.0))
    with pytest.raises(ValidationError, match="decrease"):
        Defaults(width=64, height=64, num_frames=9, fps=24, steps=2, guidance_scale=1.0, timesteps=(500.0, 900.0))
    # LTXPipeline cannot take a schedule in diffusers 0.42.1 (it raises "Only one of timesteps or sigmas").
    with pytest.raises(ValidationError, match="cannot take one"):
        ModelEntry(**(ltx.model_dump() | {"pipelines": {Mode.TEXT_TO_VIDEO: "LTXPipeline"}}))
    wan = _entry(WAN_LORA)
    with pytest.raises(ValidationError, match="transformer_2"):
        ModelEntry(**(wan.model_dump() | {"bundled_loras": [BundledLora(repo=None, file="x.safetensors",
                                                                           target="transformer_2")]}))
    with pytest.raises(ValidationError, match="relative"):
        BundledLora(repo="a/b", file="../escape.safetensors")
    with pytest.raises(ValueError, match="base_model"):
        Catalog([wan])  # its base is not in this catalog
