"""Upscaling: Real-ESRGAN weights in their published layout, tiling, exact sizes and aspect fitting."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from pipelines.post.run import run_post
from pipelines.post.spec import ExportSpec, PostSpec, UpscaleSpec
from pipelines.post.sr_arch import RRDBNet, SRVGGNetCompact
from pipelines.post.upscale import SRModel, UpscaleStage, load_upscaler, resize_exact


def gradient(w: int, h: int) -> np.ndarray:
    """A smooth diagonal colour ramp: any tile seam shows up as a step in it."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    return np.stack([x / w * 255, y / h * 255, (x + y) / (w + h) * 255], -1).astype(np.uint8)


def test_published_key_names() -> None:
    rrdb = RRDBNet().state_dict()
    assert len({k.split(".")[1] for k in rrdb if k.startswith("body.")}) == 23
    for key in ("conv_first.weight", "body.22.rdb3.conv5.weight", "conv_body.weight", "conv_up1.weight",
                "conv_up2.weight", "conv_hr.weight", "conv_last.weight"):
        assert key in rrdb
    assert rrdb["body.0.rdb1.conv5.weight"].shape == (64, 64 + 4 * 32, 3, 3)
    vgg = SRVGGNetCompact().state_dict()  # general-x4v3: 64 features, 32 convs, PReLU
    assert vgg["body.1.weight"].shape == (64,) and vgg["body.66.weight"].shape == (48, 64, 3, 3)


@pytest.mark.parametrize(
    ("make", "wrapper", "arch", "scale"),
    [
        (lambda: RRDBNet(4, nf=16, gc=8, n_blocks=2), "params_ema", "rrdbnet", 4),  # RealESRGAN_x4plus.pth
        (lambda: RRDBNet(2, nf=16, gc=8, n_blocks=2), "params_ema", "rrdbnet", 2),  # RealESRGAN_x2plus.pth
        (lambda: SRVGGNetCompact(4, nf=16, n_conv=4), "params", "srvgg", 4),  # realesr-general-x4v3.pth
    ],
)
def test_loads_esrgan_variants_from_published_layout(tmp_path: Path, make, wrapper: str, arch: str,
                                                    scale: int) -> None:
    torch.manual_seed(0)
    ref = make().eval()
    path = tmp_path / "model.pth"
    torch.save({wrapper: ref.state_dict()}, path)
    sr = load_upscaler(path, device="cpu")
    assert (sr.arch, sr.scale) == (arch, scale)
    frame = gradient(30, 22)
    out = sr.upscale(frame)
    assert out.shape == (22 * scale, 30 * scale, 3) and out.dtype == np.uint8
    with torch.no_grad():
        want = ref(torch.from_numpy(frame).permute(2, 0, 1)[None].float() / 255).clamp(0, 1)
    want_u8 = (want[0].permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()
    assert np.abs(out.astype(int) - want_u8).max() <= 1  # the loaded weights are the saved ones


def test_misshaped_upscaler_is_refused(tmp_path: Path) -> None:
    sd = RRDBNet(4, nf=16, gc=8, n_blocks=2).state_dict()
    sd["conv_hr.weight"] = torch.zeros(16, 16, 1, 1)
    torch.save({"params_ema": sd}, tmp_path / "bad.pth")
    with pytest.raises(ValueError, match=r"misshaped \['conv_hr.weight"):
        load_upscaler(tmp_path / "bad.pth", device="cpu")
    torch.save({"params": {"foo.weight": torch.zeros(2)}}, tmp_path / "unknown.pth")
    with pytest.raises(ValueError, match="not a Real-ESRGAN"):
        load_upscaler(tmp_path / "unknown.pth", device="cpu")


@pytest.mark.parametrize("make", [lambda: RRDBNet(4, nf=8, gc=4, n_blocks=1), lambda: SRVGGNetCompact(4, 8, 3)])
def test_tiled_equals_untiled_on_a_gradient(make) -> None:
    torch.manual_seed(0)
    net = make()
    frame = gradient(100, 70)
    whole = SRModel(net, 4, "x", device="cpu", tile=512).upscale(frame)
    tiled = SRModel(net, 4, "x", device="cpu", tile=32, overlap=16).upscale(frame)
    # bound: 1 uint8 level (float reassociation); a seam on the ramp would be tens of levels
    assert np.abs(whole.astype(int) - tiled).max() <= 1
    no_overlap = SRModel(net, 4, "x", device="cpu", tile=32, overlap=0).upscale(frame)
    assert np.abs(whole.astype(int) - no_overlap).max() > 1  # the check above can fail


def test_exact_non_multiple_target_size() -> None:
    stage = UpscaleStage(UpscaleSpec(size="1001x563"), Path("/nonexistent"))
    out = stage.frame(gradient(64, 36), stage.plan((64, 36)))
    assert out.shape == (563, 1001, 3)


def test_contain_letterboxes_and_cover_crops() -> None:
    frame = np.full((90, 160, 3), 200, np.uint8)  # 16:9 grey
    boxed = resize_exact(frame, (108, 192), "contain")  # into 9:16
    assert boxed.shape == (192, 108, 3)
    # 160x90 fits as 108x61 (rounded), centred: bars of 65/66 rows above and below
    assert boxed[:65].max() == 0 and boxed[-65:].max() == 0
    assert boxed[70:120].min() >= 190
    covered = resize_exact(frame, (108, 192), "cover")
    assert covered.shape == (192, 108, 3) and covered.min() >= 190  # no bars: cropped to fill
    # cover keeps the centre: a marker in the middle column of the source survives
    marked = frame.copy()
    marked[:, 78:82] = 0
    mid = resize_exact(marked, (108, 192), "cover")[:, 54]
    assert mid.max() < 60


def test_upscale_through_run_post_with_model(tmp_path: Path) -> None:
    torch.manual_seed(0)
    torch.save({"params": SRVGGNetCompact(4, 8, 2).state_dict()}, tmp_path / "realesr-general-x4v3.pth")
    spec = PostSpec(upscale=UpscaleSpec(size="200x200", fit="contain", model="realesr-general-x4v3"),
                    weights_dir=tmp_path, export=ExportSpec(encoder_preset="ultrafast"))
    frames = np.stack([gradient(64, 36)] * 3)
    res = run_post(frames, 24, spec, tmp_path / "o.mp4", device="cpu")
    assert res.methods["upscale"] == "srvgg-x4" and res.size_out == (200, 200)


def test_spandrel_agrees_when_installed(tmp_path: Path) -> None:
    spandrel = pytest.importorskip("spandrel")  # needs torchvision, absent on CPU torch 2.13
    torch.manual_seed(0)
    sd = SRVGGNetCompact(4, 16, 4).state_dict()
    ours = load_upscaler(_save(tmp_path, sd), device="cpu").upscale(gradient(20, 20))
    desc = spandrel.ModelLoader().load_from_state_dict(sd)
    theirs = SRModel(desc.model, desc.scale, "spandrel", device="cpu").upscale(gradient(20, 20))
    assert np.abs(ours.astype(int) - theirs).max() <= 1


def _save(tmp_path: Path, sd: dict) -> Path:
    path = tmp_path / "m.pth"
    torch.save({"params": sd}, path)
    return path
