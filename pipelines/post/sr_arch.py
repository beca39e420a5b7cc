"""The two Real-ESRGAN generators, with the published key names, and detection from a state dict.

``spandrel`` would load these and many more, but it imports torchvision at import time and there is
no torchvision build for every torch we run on (CPU torch 2.13 has none), so the two models the
server promises are built in here; anything else goes to spandrel when it is installed
(see ``upscale.load_upscaler``).

- RRDBNet (ESRGAN, Wang et al. 2018; Real-ESRGAN x4plus/x2plus): conv_first, 23 residual-in-residual
  dense blocks (body.N.rdbK.convM), conv_body, two nearest-×2 + conv upsamplers, conv_hr, conv_last.
  The x2 model sees pixel-unshuffled input (12 channels) and reuses the ×4 tail.
- SRVGGNetCompact (Real-ESRGAN general x4v3, animevideo): a plain conv/PReLU stack (body.N) ending in
  PixelShuffle, plus a nearest-upsampled copy of the input as the residual base.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


class RDB(nn.Module):
    """Residual dense block: each conv sees every earlier feature map; output scaled by 0.2 (ESRGAN's
    residual scaling, which keeps a 23-block stack stable)."""

    def __init__(self, nf: int, gc: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(nf, gc, 3, 1, 1)
        self.conv2 = nn.Conv2d(nf + gc, gc, 3, 1, 1)
        self.conv3 = nn.Conv2d(nf + 2 * gc, gc, 3, 1, 1)
        self.conv4 = nn.Conv2d(nf + 3 * gc, gc, 3, 1, 1)
        self.conv5 = nn.Conv2d(nf + 4 * gc, nf, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = [x]
        for conv in (self.conv1, self.conv2, self.conv3, self.conv4):
            feats.append(F.leaky_relu(conv(torch.cat(feats, 1)), 0.2))
        return self.conv5(torch.cat(feats, 1)) * 0.2 + x


class RRDB(nn.Module):
    def __init__(self, nf: int, gc: int) -> None:
        super().__init__()
        self.rdb1, self.rdb2, self.rdb3 = RDB(nf, gc), RDB(nf, gc), RDB(nf, gc)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rdb3(self.rdb2(self.rdb1(x))) * 0.2 + x


class RRDBNet(nn.Module):
    def __init__(self, scale: int = 4, nf: int = 64, gc: int = 32, n_blocks: int = 23) -> None:
        super().__init__()
        self.scale = scale
        # x2/x1 models trade resolution for channels first so the ×4 tail gives the right size
        self.unshuffle = {4: 1, 2: 2, 1: 4}[scale]
        self.conv_first = nn.Conv2d(3 * self.unshuffle**2, nf, 3, 1, 1)
        self.body = nn.Sequential(*[RRDB(nf, gc) for _ in range(n_blocks)])
        self.conv_body = nn.Conv2d(nf, nf, 3, 1, 1)
        self.conv_up1 = nn.Conv2d(nf, nf, 3, 1, 1)
        self.conv_up2 = nn.Conv2d(nf, nf, 3, 1, 1)
        self.conv_hr = nn.Conv2d(nf, nf, 3, 1, 1)
        self.conv_last = nn.Conv2d(nf, 3, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.unshuffle > 1:
            x = F.pixel_unshuffle(x, self.unshuffle)
        feat = self.conv_first(x)
        feat = feat + self.conv_body(self.body(feat))
        feat = F.leaky_relu(self.conv_up1(F.interpolate(feat, scale_factor=2, mode="nearest")), 0.2)
        feat = F.leaky_relu(self.conv_up2(F.interpolate(feat, scale_factor=2, mode="nearest")), 0.2)
        return self.conv_last(F.leaky_relu(self.conv_hr(feat), 0.2))


class SRVGGNetCompact(nn.Module):
    def __init__(self, scale: int = 4, nf: int = 64, n_conv: int = 32) -> None:
        super().__init__()
        self.scale = scale
        layers: list[nn.Module] = [nn.Conv2d(3, nf, 3, 1, 1), nn.PReLU(nf)]
        for _ in range(n_conv):
            layers += [nn.Conv2d(nf, nf, 3, 1, 1), nn.PReLU(nf)]
        layers.append(nn.Conv2d(nf, 3 * scale * scale, 3, 1, 1))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.pixel_shuffle(self.body(x), self.scale)
        # the network learns only the residual over a nearest upscale
        return out + F.interpolate(x, scale_factor=self.scale, mode="nearest")


@dataclass(frozen=True)
class DetectedSR:
    arch: str  # "rrdbnet" | "srvgg"
    scale: int
    model: nn.Module


def detect_sr(sd: dict[str, torch.Tensor]) -> DetectedSR | None:
    """Build the matching (untrained) module from key names and shapes, or None if neither matches."""
    if "conv_first.weight" in sd and "body.0.rdb1.conv1.weight" in sd and "conv_up2.weight" in sd:
        in_ch = int(sd["conv_first.weight"].shape[1])
        scale = {3: 4, 12: 2, 48: 1}.get(in_ch)
        if scale is None:
            return None
        nf = int(sd["conv_first.weight"].shape[0])
        gc = int(sd["body.0.rdb1.conv1.weight"].shape[0])
        n_blocks = len({k.split(".")[1] for k in sd if k.startswith("body.")})
        return DetectedSR("rrdbnet", scale, RRDBNet(scale, nf, gc, n_blocks))
    if "body.0.weight" in sd and "body.1.weight" in sd and sd["body.1.weight"].dim() == 1:
        idx = sorted({int(k.split(".")[1]) for k in sd if k.startswith("body.")})
        last = sd[f"body.{idx[-1]}.weight"]
        nf = int(sd["body.0.weight"].shape[0])
        scale = math.isqrt(int(last.shape[0]) // 3)
        n_conv = (len(idx) - 3) // 2  # first conv + act, n_conv (conv + act), last conv
        if scale * scale * 3 != last.shape[0] or scale < 1:
            return None
        return DetectedSR("srvgg", scale, SRVGGNetCompact(scale, nf, n_conv))
    return None
