"""The flow shift reaches the diffusers scheduler: the catalog's value for the request's size class, a
request's override without reloading the model, and the catalog's value again for the next job. Checked
on what the scheduler actually ran (its timesteps inside the call), against a scheduler built directly
with the expected shift, so a wrong shift anywhere on the way is caught. Also the LTX decode settings
reaching the pipeline call, and the request fields' 400s."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch
from diffusers import FlowMatchEulerDiscreteScheduler, UniPCMultistepScheduler

from pipelines import resolve
from pipelines.core.catalog import Mode
from pipelines.core.errors import InvalidSpec
from pipelines.core.spec import GenerationSpec
from pipelines.families import adapter_for, default_catalog
from pipelines.flow_shift import apply_flow_shift
from pipelines.generate import VideoGenerator
from pipelines.outputs import write_outputs
from pipelines.weights import WeightsLocator

CATALOG = default_catalog()
TINY = "tiny-wan2.1-t2v"


def _expected_timesteps(weights: Path, shift: float, steps: int) -> list[float]:
    config = json.loads((weights / TINY / "scheduler" / "scheduler_config.json").read_text())
    scheduler = FlowMatchEulerDiscreteScheduler.from_config(config, shift=shift)
    scheduler.set_timesteps(steps)
    return [round(float(t), 4) for t in scheduler.timesteps]


@pytest.fixture(scope="module")
def gen(tiny_weights_dir: Path) -> VideoGenerator:
    return VideoGenerator(WeightsLocator(tiny_weights_dir))


def _run(gen: VideoGenerator, **fields: Any) -> tuple[list[float], Any]:
    """Generate, returning the timesteps the scheduler held during the call."""
    result = gen.generate(GenerationSpec(model=TINY, prompt="a boat", seed=3, steps=3, **fields))
    pipe, _ = gen.cache.get(CATALOG.get(TINY), gen.locator.require(TINY), Mode.TEXT_TO_VIDEO)  # type: ignore[arg-type]
    # set_timesteps inside the call left the schedule it ran on the scheduler the call used
    return [round(float(t), 4) for t in pipe.scheduler.timesteps], result


def test_shift_per_size_override_and_restore(gen: VideoGenerator, tiny_weights_dir: Path, tmp_path: Path) -> None:
    weights_shift = json.loads((tiny_weights_dir / TINY / "scheduler" / "scheduler_config.json").read_text())["shift"]
    entry = CATALOG.get(TINY)
    assert entry is not None
    small, large = entry.flow_shift_for(64, 64), entry.flow_shift_for(128, 128)
    assert small is not None and large is not None and len({small, large, weights_shift, 7.0}) == 4

    ran, first = _run(gen)                                   # default size: the 64px class
    assert ran == _expected_timesteps(tiny_weights_dir, small, 3)
    assert ran != _expected_timesteps(tiny_weights_dir, weights_shift, 3)
    assert first.optimizations["scheduler"] == {"class": "FlowMatchEulerDiscreteScheduler", "shift": small}
    assert first.spec.flow_shift == small

    ran, bigger = _run(gen, width=128, height=128)           # another size class
    assert ran == _expected_timesteps(tiny_weights_dir, large, 3)
    assert bigger.timings["load_s"] == 0.0                   # same loaded model

    ran, override = _run(gen, flow_shift=7.0)                # a request's own shift, no reload
    assert ran == _expected_timesteps(tiny_weights_dir, 7.0, 3)
    assert override.timings["load_s"] == 0.0
    side = json.loads(write_outputs(override, tmp_path / "v.mp4").sidecar.read_text())
    assert side["spec"]["flow_shift"] == 7.0 and side["optimizations"]["scheduler"]["shift"] == 7.0

    ran, after = _run(gen)                                   # the next job gets the catalog's value back
    assert ran == _expected_timesteps(tiny_weights_dir, small, 3)
    assert np.array_equal(after.frames, first.frames)        # and the same video as before the override
    assert not np.array_equal(override.frames, first.frames)


# The scheduler the published Wan Diffusers repos ship (UniPC with flow sigmas, flow_shift 3.0 in the file),
# LTX-Video's (FlowMatchEuler with resolution-dependent dynamic shifting), and HunyuanVideo 1.5's
# (FlowMatchEuler with a fixed shift in its own config; the catalog sets each checkpoint's published one).
_DYNAMIC = ("ltx-video", "ltx-2")


def _published_scheduler(family: str) -> Any:
    if family in _DYNAMIC:  # LTX-2 ships the same dynamic-shifting FlowMatchEuler
        return FlowMatchEulerDiscreteScheduler(use_dynamic_shifting=True, base_shift=0.95, max_shift=2.05,
                                               base_image_seq_len=1024, max_image_seq_len=4096, shift_terminal=0.1)
    if family.startswith("hunyuan"):
        return FlowMatchEulerDiscreteScheduler(shift=5.0)
    return UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0,
                                   num_train_timesteps=1000)


@pytest.mark.parametrize("entry", [e for e in CATALOG.entries() if not e.tiny], ids=lambda e: e.id)
@pytest.mark.parametrize("size", [None, (832, 480), (1280, 720)], ids=["default", "480p", "720p"])
def test_every_entry_sets_its_shift_on_the_published_scheduler(entry: Any, size: tuple[int, int] | None,
                                                               color_images: dict[str, Path]) -> None:
    mode = entry.modes[0]
    images = {"image": color_images["red"]} if mode is not Mode.TEXT_TO_VIDEO else {}
    if mode is Mode.FIRST_LAST_FRAME:
        images["last_image"] = color_images["blue"]
    width, height = size or (entry.defaults.width, entry.defaults.height)
    width, height = (width // 32 * 32, height // 32 * 32) if entry.rules.size_multiple == 32 else (width, height)
    rs = resolve(GenerationSpec(model=entry.id, prompt="x", seed=0, width=width, height=height, **images), CATALOG)
    holder = SimpleNamespace(scheduler=_published_scheduler(entry.family))
    before = dict(holder.scheduler.config)
    record = apply_flow_shift(holder, entry, rs)
    expected = entry.flow_shift_for(width, height)
    assert rs.flow_shift == expected
    if expected is None:  # the checkpoint's own shift: the scheduler is left as it shipped
        assert record["flow_shift"] == "scheduler's own"
        assert dict(holder.scheduler.config) == before  # untouched
        if entry.family in _DYNAMIC:
            assert record["use_dynamic_shifting"] is True and holder.scheduler.config.use_dynamic_shifting
        return
    if isinstance(holder.scheduler, FlowMatchEulerDiscreteScheduler):  # HunyuanVideo 1.5: FlowMatchEuler's shift
        assert holder.scheduler.config.shift == expected == record["shift"]
        direct: Any = FlowMatchEulerDiscreteScheduler(shift=expected)
    else:
        assert holder.scheduler.config.flow_shift == expected == record["flow_shift"]
        direct = UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=expected)
    holder.scheduler.set_timesteps(entry.defaults.steps)
    direct.set_timesteps(entry.defaults.steps)
    assert torch.equal(holder.scheduler.timesteps, direct.timesteps)


def test_ltx_decode_settings_reach_the_call() -> None:
    entry = CATALOG.get("ltx-video-2b-0.9.5")
    assert entry is not None
    t2v = resolve(GenerationSpec(model=entry.id, prompt="x", seed=0), CATALOG)
    kw = adapter_for(entry).call_kwargs(entry, t2v, None, None)
    assert (kw["decode_timestep"], kw["decode_noise_scale"]) == (0.05, 0.025)
    assert "image_cond_noise_scale" not in kw  # LTXPipeline (text-to-video) takes none
    mine = t2v.model_copy(update={"pipeline_class": "LTXConditionPipeline", "mode": Mode.IMAGE_TO_VIDEO,
                                  "decode_timestep": 0.03, "image_cond_noise_scale": 0.1})
    kw = adapter_for(entry).call_kwargs(entry, mine, None, None)
    assert (kw["decode_timestep"], kw["image_cond_noise_scale"]) == (0.03, 0.1)


def test_image_cond_noise_reaches_the_tiny_ltx_call(tiny_weights_dir: Path, color_images: dict[str, Path]) -> None:
    gen = VideoGenerator(WeightsLocator(tiny_weights_dir))
    frames = []
    for noise in (0.0, 0.5):
        out = gen.generate(GenerationSpec(model="tiny-ltx-video", prompt="x", seed=1, steps=2, num_frames=9,
                                          image=color_images["red"], image_cond_noise_scale=noise))
        assert out.spec.image_cond_noise_scale == noise
        frames.append(out.frames)
    assert not np.array_equal(frames[0], frames[1])


@pytest.mark.parametrize(("model", "fields", "param"), [
    ("ltx-video-2b-0.9.5", {"flow_shift": 5.0}, "flow_shift"),
    ("wan2.1-t2v-14b", {"flow_shift": 0.0}, "flow_shift"),
    ("wan2.1-t2v-14b", {"flow_shift": float("nan")}, "flow_shift"),
    ("wan2.1-t2v-14b", {"flow_shift": 1000.0}, "flow_shift"),
    ("wan2.1-t2v-14b", {"decode_timestep": 0.05}, "decode_timestep"),
    ("ltx-video-2b-0.9.5", {"decode_noise_scale": 2.0}, "decode_noise_scale"),
    ("ltx-video-2b-0.9.5", {"image_cond_noise_scale": -0.1}, "image_cond_noise_scale"),
])
def test_bad_overrides_name_the_field(model: str, fields: dict[str, float], param: str) -> None:
    with pytest.raises(InvalidSpec) as err:
        resolve(GenerationSpec(model=model, prompt="x", seed=0, **fields), CATALOG)
    assert err.value.field == param
