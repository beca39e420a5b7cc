"""Bundled distillation LoRAs in the original Wan (``diffusion_model.*``) key format, as the lightx2v and
Lightning files are published: every key must map onto the base transformer the way diffusers 0.42 loads
it, or the load fails before the base weights are read, naming the keys that did not map."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from pipelines.core.errors import ModelUnavailable
from pipelines.core.loras import model_params, read_header
from pipelines.core.spec import GenerationSpec
from pipelines.distill import check_bundled_loras, map_lora_keys
from pipelines.families import default_catalog
from pipelines.generate import VideoGenerator
from pipelines.weights import WeightsLocator

CATALOG = default_catalog()
MODEL = "tiny-wan2.1-t2v-distill-lora"
BASE = "tiny-wan2.1-t2v"
RANK, DIM, FFN = 4, 24, 32  # the tiny Wan transformer: inner dim 24, ffn 32

# Keys diffusers' converter silently drops (a leftover `*.diff*` key: lightx2v's rank-64 I2V file carries
# `blocks.N.diff_m`), keys that convert to no module of the model (block 5 of a 2-block model), and a key of
# the wrong shape.
DROPPED = "diffusion_model.blocks.0.diff_m"
NO_MODULE = ("diffusion_model.blocks.5.self_attn.q.lora_down.weight",
             "diffusion_model.blocks.5.self_attn.q.lora_up.weight")
BAD_SHAPE = "diffusion_model.blocks.1.ffn.0.lora_down.weight"


def _original_format(broken: bool) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    out: dict[str, torch.Tensor] = {}
    for i in range(2):
        for proj in ("q", "k", "v", "o"):
            base = f"diffusion_model.blocks.{i}.self_attn.{proj}"
            out[f"{base}.lora_down.weight"] = torch.randn(RANK, DIM, generator=g) * 0.1
            out[f"{base}.lora_up.weight"] = torch.randn(DIM, RANK, generator=g) * 0.1
            out[f"{base}.alpha"] = torch.tensor(float(RANK))
        for name, (n_in, n_out) in {"ffn.0": (DIM, FFN), "ffn.2": (FFN, DIM)}.items():
            base = f"diffusion_model.blocks.{i}.{name}"
            out[f"{base}.lora_down.weight"] = torch.randn(RANK, n_in, generator=g) * 0.1
            out[f"{base}.lora_up.weight"] = torch.randn(n_out, RANK, generator=g) * 0.1
    if broken:
        out[DROPPED] = torch.zeros(1, 6, DIM)
        out[NO_MODULE[0]] = torch.zeros(RANK, DIM)
        out[NO_MODULE[1]] = torch.zeros(DIM, RANK)
        out[BAD_SHAPE] = torch.zeros(RANK, 99)
    return out


@pytest.fixture()
def weights(tiny_weights_dir: Path, tmp_path: Path) -> Path:
    for name in (BASE, MODEL):
        shutil.copytree(tiny_weights_dir / name, tmp_path / name)
    return tmp_path


def _write(weights: Path, broken: bool) -> Path:
    entry = CATALOG.get(MODEL)
    assert entry is not None
    path = weights / MODEL / entry.bundled_loras[0].file
    save_file(_original_format(broken), str(path))
    return path


def test_mapping_names_each_key_that_would_be_lost(weights: Path) -> None:
    path = _write(weights, broken=True)
    params = model_params(weights / BASE, "transformer")
    assert params is not None
    report = map_lora_keys("WanPipeline", read_header(path), params)
    assert report.dropped == (DROPPED,)
    assert sorted(report.no_module) == sorted(NO_MODULE)
    assert report.bad_shape == (BAD_SHAPE,)
    # The rest converts as diffusers names it: self_attn.q -> attn1.to_q, ffn.0 -> ffn.net.0.proj.
    assert report.mapped["transformer.blocks.0.attn1.to_q.lora_A.weight"] == \
        "diffusion_model.blocks.0.self_attn.q.lora_down.weight"
    assert report.mapped["transformer.blocks.1.ffn.net.2.lora_B.weight"] == \
        "diffusion_model.blocks.1.ffn.2.lora_up.weight"


def test_load_fails_before_the_weights_load_naming_the_keys(weights: Path) -> None:
    _write(weights, broken=True)
    gen = VideoGenerator(WeightsLocator(weights))
    with pytest.raises(ModelUnavailable) as err:
        gen.generate(GenerationSpec(model=MODEL, prompt="x", seed=0))
    message = err.value.message
    for key in (DROPPED, *NO_MODULE, BAD_SHAPE):
        assert key in message
    assert "4 of" in message and "1 dropped by its converter" in message
    assert gen.cache.loaded_ids() == []  # nothing was loaded


def test_a_file_that_maps_fully_loads_and_fuses(weights: Path) -> None:
    _write(weights, broken=False)
    locator = WeightsLocator(weights)
    entry = CATALOG.get(MODEL)
    assert entry is not None
    reports = check_bundled_loras(entry, locator.require(MODEL))
    assert reports[0].unmapped == () and len(reports[0].mapped) == 2 * (4 * 2 + 2 * 2)
    gen = VideoGenerator(locator, max_models=2)
    fused = gen.generate(GenerationSpec(model=MODEL, prompt="x", seed=0))
    plain = gen.generate(GenerationSpec(model=BASE, prompt="x", seed=0, steps=fused.spec.steps, guidance_scale=1.0,
                                        flow_shift=fused.spec.flow_shift))
    assert fused.optimizations["bundled_loras"][0]["file"] == entry.bundled_loras[0].file
    assert not np.array_equal(fused.frames, plain.frames)  # the converted deltas reached the weights
