"""RIFE 4.x frame interpolation network (IFNet), written from the paper (Huang et al., ECCV 2022,
"Real-Time Intermediate Flow Estimation for Video Frame Interpolation") and the parameter names of
the published 4.x ``flownet.pkl`` files, so those files load strictly into it.

Shape of the published 4.7–4.26 models, as their state dicts show it:
- ``encode.cnn0..cnn3``: a small per-frame feature head (stride-2 conv, two convs, transposed conv
  back to full resolution, ``C_f`` channels, 4 in the published files);
- ``block0..blockN-1`` (IFBlocks), coarse to fine: ``conv0`` (two stride-2 conv+LeakyReLU),
  ``convblock`` (residual convs with a learned per-channel ``beta``), ``lastconv`` (transposed conv
  + PixelShuffle(2)) giving 4 flow channels (t→0 and t→1), 1 fusion-mask logit and 8 context
  features. Block 0 sees both frames, both features and the timestep; later blocks see the frames
  and features warped by the current flow plus the timestep, mask, context and flow, and add a
  residual flow.
Widths, depths and counts are read from the state dict, not hard-coded, so any of those versions loads.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from pipelines.post.weights_io import clean_state_dict, load_state_dict, strict_load

FLOW_CH = 4  # (dx, dy) towards frame 0, then towards frame 1
OUT_CH = 13  # flow 4 + mask 1 + context 8, after PixelShuffle(2) of lastconv's 52 channels
CTX_CH = OUT_CH - FLOW_CH - 1


def warp(img: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Backward warp: out(x) = img(x + flow(x)), flow in pixels, bilinear, edges clamped.

    Clamping (border) instead of zeros keeps the frame edge from darkening when flow points outside.
    """
    n, _, h, w = img.shape
    ys = torch.arange(h, device=img.device, dtype=img.dtype)
    xs = torch.arange(w, device=img.device, dtype=img.dtype)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    x = gx.unsqueeze(0) + flow[:, 0]
    y = gy.unsqueeze(0) + flow[:, 1]
    # grid_sample wants [-1, 1] with -1/1 on the centres of the corner pixels (align_corners=True)
    grid = torch.stack((2 * x / max(w - 1, 1) - 1, 2 * y / max(h - 1, 1) - 1), dim=-1)
    return F.grid_sample(img, grid.expand(n, -1, -1, -1), mode="bilinear", padding_mode="border", align_corners=True)


class Head(nn.Module):
    def __init__(self, c_mid: int, c_out: int) -> None:
        super().__init__()
        self.cnn0 = nn.Conv2d(3, c_mid, 3, 2, 1)
        self.cnn1 = nn.Conv2d(c_mid, c_mid, 3, 1, 1)
        self.cnn2 = nn.Conv2d(c_mid, c_mid, 3, 1, 1)
        self.cnn3 = nn.ConvTranspose2d(c_mid, c_out, 4, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.leaky_relu(self.cnn0(x), 0.2)
        x = F.leaky_relu(self.cnn1(x), 0.2)
        x = F.leaky_relu(self.cnn2(x), 0.2)
        return self.cnn3(x)


class ResConv(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, 1, 1)
        self.beta = nn.Parameter(torch.ones(1, c, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(self.conv(x) * self.beta + x, 0.2)


def _conv_act(c_in: int, c_out: int) -> nn.Sequential:
    # Sequential(Conv, LeakyReLU) so the keys read conv0.<i>.0.weight like the published files.
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, 2, 1), nn.LeakyReLU(0.2))


class IFBlock(nn.Module):
    def __init__(self, c_in: int, c: int, n_res: int) -> None:
        super().__init__()
        self.conv0 = nn.Sequential(_conv_act(c_in, c // 2), _conv_act(c // 2, c))
        self.convblock = nn.Sequential(*[ResConv(c) for _ in range(n_res)])
        self.lastconv = nn.Sequential(nn.ConvTranspose2d(c, OUT_CH * 4, 4, 2, 1), nn.PixelShuffle(2))

    def forward(
        self, x: torch.Tensor, flow: torch.Tensor | None, scale: float
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        # Coarse blocks look at a downscaled input so a small network sees large motion.
        if scale != 1:
            x = F.interpolate(x, scale_factor=1 / scale, mode="bilinear", align_corners=False)
        if flow is not None:
            if scale != 1:
                flow = F.interpolate(flow, scale_factor=1 / scale, mode="bilinear", align_corners=False) / scale
            x = torch.cat((x, flow), 1)
        out = self.lastconv(self.convblock(self.conv0(x)))
        if scale != 1:
            out = F.interpolate(out, scale_factor=scale, mode="bilinear", align_corners=False)
        return out[:, :FLOW_CH] * scale, out[:, FLOW_CH : FLOW_CH + 1], out[:, FLOW_CH + 1 :]


@dataclass(frozen=True)
class IFNetConfig:
    widths: tuple[int, ...] = (192, 128, 96, 64, 32)  # 4.25's five blocks
    n_res: int = 8
    head_mid: int = 16
    head_out: int = 4


class IFNet(nn.Module):
    def __init__(self, cfg: IFNetConfig = IFNetConfig()) -> None:
        super().__init__()
        self.cfg = cfg
        f = cfg.head_out
        c_first = 3 + 3 + 2 * f + 1  # img0, img1, feat0, feat1, timestep
        c_next = 3 + 3 + 2 * f + 1 + 1 + CTX_CH + FLOW_CH  # warped imgs/feats, t, mask, ctx, flow
        self.encode = Head(cfg.head_mid, f)
        for k, c in enumerate(cfg.widths):
            self.add_module(f"block{k}", IFBlock(c_first if k == 0 else c_next, c, cfg.n_res))

    @property
    def pad_multiple(self) -> int:
        # coarsest block: scale 2**(n-1), then conv0 halves twice
        return 4 * 2 ** (len(self.cfg.widths) - 1)

    def forward(self, img0: torch.Tensor, img1: torch.Tensor, t: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
        """img0/img1: (N, 3, H, W) in [0, 1], H and W multiples of ``pad_multiple``; t: (N,) in (0, 1).
        Returns the frame at t, (N, 3, H, W)."""
        n, _, h, w = img0.shape
        tmap = t.view(n, 1, 1, 1).to(img0.dtype).expand(n, 1, h, w)
        f0, f1 = self.encode(img0), self.encode(img1)
        blocks = [getattr(self, f"block{k}") for k in range(len(self.cfg.widths))]
        flow: torch.Tensor | None = None
        mask = ctx = torch.empty(0)
        w0, w1 = img0, img1
        for k, block in enumerate(blocks):
            s = 2 ** (len(blocks) - 1 - k) / scale
            if flow is None:
                flow, mask, ctx = block(torch.cat((img0, img1, f0, f1, tmap), 1), None, s)
            else:
                wf0, wf1 = warp(f0, flow[:, :2]), warp(f1, flow[:, 2:4])
                x = torch.cat((w0, w1, wf0, wf1, tmap, mask, ctx), 1)
                d_flow, mask, ctx = block(x, flow, s)
                flow = flow + d_flow
            w0, w1 = warp(img0, flow[:, :2]), warp(img1, flow[:, 2:4])
        m = torch.sigmoid(mask)
        return w0 * m + w1 * (1 - m)


def config_from_state_dict(sd: dict[str, torch.Tensor]) -> IFNetConfig:
    """Read the architecture off the tensors' shapes; KeyError/IndexError mean it is not a RIFE 4.x file."""
    widths = []
    k = 0
    while f"block{k}.conv0.1.0.weight" in sd:
        widths.append(int(sd[f"block{k}.conv0.1.0.weight"].shape[0]))
        k += 1
    if not widths or "encode.cnn3.weight" not in sd:
        raise KeyError("no block0.conv0.1.0.weight / encode.cnn3.weight: not a RIFE 4.x (4.7+) IFNet")
    n_res = sum(1 for key in sd if key.startswith("block0.convblock.") and key.endswith(".beta"))
    return IFNetConfig(
        widths=tuple(widths),
        n_res=n_res,
        head_mid=int(sd["encode.cnn0.weight"].shape[0]),
        head_out=int(sd["encode.cnn3.weight"].shape[1]),  # ConvTranspose weight is (in, out, k, k)
    )


def load_ifnet(path: Path) -> IFNet:
    """Load a published ``flownet.pkl`` / ``.safetensors`` strictly; bad files fail with the key named."""
    sd = clean_state_dict(load_state_dict(path))
    try:
        cfg = config_from_state_dict(sd)
    except KeyError as e:
        raise ValueError(f"{path}: {e.args[0]}") from None
    model = IFNet(cfg)
    strict_load(model, sd, path)
    return model.eval()
