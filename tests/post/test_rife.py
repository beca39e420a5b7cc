"""The learned RIFE path with random weights in the published file layout, and its warping math."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from pipelines.encode import probe
from pipelines.post.interpolate import RifeSynth, make_synth
from pipelines.post.rife import IFNet, IFNetConfig, load_ifnet, warp
from pipelines.post.run import run_post
from pipelines.post.spec import InterpolateSpec, PostSpec

from .conftest import square_clip

SMALL = IFNetConfig(widths=(32, 24, 16), n_res=2, head_mid=8, head_out=4)


def save_published(model: IFNet, path: Path) -> Path:
    """flownet.pkl as RIFE's training saved it: torch.save of a DataParallel state dict ('module.' keys)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({f"module.{k}": v for k, v in model.state_dict().items()}, path)
    return path


def test_full_size_425_layout_has_the_published_key_names() -> None:
    sd = IFNet().state_dict()
    for key, shape in {
        "encode.cnn0.weight": (16, 3, 3, 3),
        "encode.cnn3.weight": (16, 4, 4, 4),  # ConvTranspose2d(16 -> 4)
        "block0.conv0.0.0.weight": (96, 15, 3, 3),  # 7 + 8 inputs, c/2
        "block0.convblock.7.beta": (1, 192, 1, 1),
        "block0.lastconv.0.weight": (192, 52, 4, 4),  # 4 * 13 channels before PixelShuffle(2)
        "block4.conv0.0.0.weight": (16, 28, 3, 3),  # 8 + 4 + 8 + 8 inputs
    }.items():
        assert tuple(sd[key].shape) == shape, key
    assert "block5.conv0.0.0.weight" not in sd


def test_warp_with_constant_flow_recovers_a_shifted_image() -> None:
    img = torch.rand(1, 3, 32, 48)
    shifted = torch.roll(img, shifts=5, dims=3)  # content moved 5 px right
    flow = torch.zeros(1, 2, 32, 48)
    flow[:, 0] = 5.0  # out(x) = shifted(x + 5) = img(x)
    back = warp(shifted, flow)
    assert torch.allclose(back[..., :, :40], img[..., :, :40], atol=1e-5)
    # half-pixel flow interpolates bilinearly between neighbours
    flow[:, 0] = 0.5
    half = warp(img, flow)
    assert torch.allclose(half[..., :, :-1], (img[..., :, :-1] + img[..., :, 1:]) / 2, atol=1e-5)


@pytest.mark.parametrize("fmt", ["pkl", "safetensors"])
def test_learned_path_loads_published_format_and_interpolates(tmp_path: Path, fmt: str) -> None:
    torch.manual_seed(0)
    model = IFNet(SMALL)
    wdir = tmp_path / "weights" / "rife-4.25"
    if fmt == "pkl":
        save_published(model, wdir / "flownet.pkl")
    else:
        from safetensors.torch import save_file

        wdir.mkdir(parents=True)
        save_file(model.state_dict(), str(wdir / "flownet.safetensors"))
    synth = make_synth(InterpolateSpec(factor=4), tmp_path / "weights", device="cpu")
    assert isinstance(synth, RifeSynth) and synth.method == "rife-4.25"
    loaded = synth.model.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in model.state_dict().items())

    a, b = square_clip(2, size=(70, 45))  # not a multiple of the padding: cropped back exactly
    out = synth.between(a, b, [0.25, 0.5, 0.75])
    assert len(out) == 3 and all(f.shape == (45, 70, 3) and f.dtype == np.uint8 for f in out)


def test_learned_run_post_counts_and_method(tmp_path: Path) -> None:
    torch.manual_seed(0)
    save_published(IFNet(SMALL), tmp_path / "rife-4.25" / "flownet.pkl")
    spec = PostSpec(interpolate=InterpolateSpec(factor=2, batch=2), weights_dir=tmp_path)
    res = run_post(square_clip(5, size=(64, 48)), 16, spec, tmp_path / "o.mp4", device="cpu")
    assert res.methods["interpolate"].startswith("rife")
    info = probe(res.path)
    assert (info.frames, info.fps, info.width, info.height) == (9, 32.0, 64, 48)


def test_rife_required_but_absent_is_an_error(tmp_path: Path) -> None:
    from pipelines.core.errors import ModelUnavailable

    with pytest.raises(ModelUnavailable):
        make_synth(InterpolateSpec(factor=2, method="rife"), tmp_path)


def test_strict_loading_names_missing_and_misshaped_keys(tmp_path: Path) -> None:
    sd = IFNet(SMALL).state_dict()
    missing = dict(sd)
    del missing["block1.convblock.0.beta"]
    torch.save(missing, tmp_path / "missing.pkl")
    with pytest.raises(ValueError, match=r"missing keys \['block1.convblock.0.beta'\]"):
        load_ifnet(tmp_path / "missing.pkl")
    bad = dict(sd)
    bad["block2.lastconv.0.bias"] = torch.zeros(7)
    torch.save(bad, tmp_path / "bad.pkl")
    with pytest.raises(ValueError, match=r"misshaped \['block2.lastconv.0.bias \(7,\) != \(52,\)'\]"):
        load_ifnet(tmp_path / "bad.pkl")
    torch.save({"conv.weight": torch.zeros(1)}, tmp_path / "other.pkl")
    with pytest.raises(ValueError, match=r"not a RIFE 4\.x"):
        load_ifnet(tmp_path / "other.pkl")
