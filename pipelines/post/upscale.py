"""Upscaling a stream of frames: a learned super-resolution model (tiled) or Lanczos, then an exact
resize/crop/letterbox to the target size.

The model runs on overlapping tiles so peak memory depends on the tile size, not the frame size:
each tile is cut with ``overlap`` pixels of context on every side and only its centre is kept, so
the output matches an untiled run wherever the network's receptive field fits inside the overlap.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from pipelines.post.spec import Fit, UpscaleSpec, parse_size
from pipelines.post.weights_io import clean_state_dict, find_weights, load_state_dict, strict_load

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)


def fit_geometry(
    src: tuple[int, int], dst: tuple[int, int], fit: Fit
) -> tuple[tuple[int, int, int, int], tuple[int, int]]:
    """For (w, h) src → dst: the source crop box (l, t, r, b) and the size to resize that crop to.
    cover: crop the source to the target aspect (centred), then resize to fill exactly.
    contain: keep the whole source, resize to fit inside; the caller pads to dst with black."""
    sw, sh = src
    dw, dh = dst
    if fit == "cover":
        scale = max(dw / sw, dh / sh)
        cw, ch = min(sw, round(dw / scale)), min(sh, round(dh / scale))
        left, top = (sw - cw) // 2, (sh - ch) // 2
        return (left, top, left + cw, top + ch), (dw, dh)
    scale = min(dw / sw, dh / sh)
    return (0, 0, sw, sh), (max(1, min(dw, round(sw * scale))), max(1, min(dh, round(sh * scale))))


def resize_exact(frame: np.ndarray, dst: tuple[int, int], fit: Fit) -> np.ndarray:
    """Lanczos to exactly dst (w, h); contain leaves black bars centred on the short side."""
    h, w = frame.shape[:2]
    if (w, h) == dst:
        return frame
    box, size = fit_geometry((w, h), dst, fit)
    img = Image.fromarray(frame)
    if box != (0, 0, w, h):
        img = img.crop(box)
    if img.size != size:
        img = img.resize(size, Image.Resampling.LANCZOS)
    out = np.asarray(img)
    if size == dst:
        return out
    canvas = np.zeros((dst[1], dst[0], 3), np.uint8)
    top, left = (dst[1] - size[1]) // 2, (dst[0] - size[0]) // 2
    canvas[top : top + size[1], left : left + size[0]] = out
    return canvas


class SRModel:
    """A loaded super-resolution network: ``upscale(frame)`` returns frame × ``scale``, uint8."""

    def __init__(self, module: Any, scale: int, arch: str, device: str | None = None,
                 tile: int = 256, overlap: int = 16) -> None:
        import torch

        self._torch = torch
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.dtype = torch.float16 if self.device.startswith("cuda") else torch.float32
        self.module = module.to(self.device, self.dtype).eval()
        self.scale, self.arch, self.tile, self.overlap = scale, arch, tile, overlap

    def _run(self, x: torch.Tensor) -> torch.Tensor:
        with self._torch.inference_mode():
            out: torch.Tensor = self.module(x)
            return out.clamp_(0, 1)

    def upscale(self, frame: np.ndarray) -> np.ndarray:
        torch = self._torch
        h, w = frame.shape[:2]
        s, tile, ov = self.scale, self.tile, self.overlap
        x = torch.from_numpy(frame).to(self.device).permute(2, 0, 1).unsqueeze(0).to(self.dtype) / 255
        if h <= tile and w <= tile:
            y = self._run(x)
        else:
            y = torch.empty((1, 3, h * s, w * s), device=self.device, dtype=self.dtype)
            for top in range(0, h, tile):
                for left in range(0, w, tile):
                    bottom, right = min(top + tile, h), min(left + tile, w)
                    # context around the tile, clamped at the frame edge
                    t0, l0 = max(top - ov, 0), max(left - ov, 0)
                    b0, r0 = min(bottom + ov, h), min(right + ov, w)
                    out = self._run(x[:, :, t0:b0, l0:r0])
                    y[:, :, top * s : bottom * s, left * s : right * s] = out[
                        :, :, (top - t0) * s : (bottom - t0) * s, (left - l0) * s : (right - l0) * s
                    ]
        return (y * 255).round_().to(torch.uint8)[0].permute(1, 2, 0).cpu().numpy()


def load_upscaler(path: Path, device: str | None = None, tile: int = 256, overlap: int = 16) -> SRModel:
    """Real-ESRGAN RRDBNet / SRVGGNetCompact load with the built-in classes (strictly); any other
    architecture (SwinIR, HAT, …) through spandrel when it is installed."""
    from pipelines.post.sr_arch import detect_sr

    raw = load_state_dict(path)
    sd = clean_state_dict(raw)
    found = detect_sr(sd)
    if found is not None:
        strict_load(found.model, sd, path)
        return SRModel(found.model, found.scale, found.arch, device, tile, overlap)
    try:
        import spandrel
    except ImportError:
        raise ValueError(
            f"{path}: not a Real-ESRGAN RRDBNet or SRVGGNetCompact state dict; other architectures need "
            "the optional 'spandrel' package"
        ) from None
    desc = spandrel.ModelLoader().load_from_state_dict(raw)
    return SRModel(desc.model, int(desc.scale), f"spandrel-{desc.architecture.id}", device, tile, overlap)


@dataclass(frozen=True)
class UpscalePlan:
    """What the stage will do to each frame; decided once from the first frame's size."""

    method: str  # e.g. "rrdbnet-x4", "srvgg-x4", "lanczos"
    src: tuple[int, int]
    dst: tuple[int, int]
    fit: Fit
    model_passes: int


def plan_size(src: tuple[int, int], spec: UpscaleSpec) -> tuple[int, int]:
    if spec.size is not None:
        return parse_size("upscale.size", spec.size)
    assert spec.factor is not None
    return src[0] * spec.factor, src[1] * spec.factor


class UpscaleStage:
    def __init__(self, spec: UpscaleSpec, weights_dir: Path, device: str | None = None) -> None:
        self.spec = spec
        self.model: SRModel | None = None
        if spec.method in ("auto", "model"):
            path = find_weights(weights_dir, spec.model)
            if path is not None:
                self.model = load_upscaler(path, device, spec.tile, spec.overlap)
            elif spec.method == "model":
                from pipelines.core.errors import ModelUnavailable

                raise ModelUnavailable(spec.model, f"no upscaler weights under {weights_dir}")
            else:
                log.info("no upscaler weights for %r under %s; using Lanczos", spec.model, weights_dir)

    def plan(self, src: tuple[int, int]) -> UpscalePlan:
        dst = plan_size(src, self.spec)
        need = max(dst[0] / src[0], dst[1] / src[1]) if self.spec.fit == "cover" else min(
            dst[0] / src[0], dst[1] / src[1])
        # Run the model only when it adds detail (target bigger than source); one pass of a ×4
        # model then Lanczos down is sharper than Lanczos up, and a second pass is rarely worth it.
        if self.model is None or need <= 1:
            return UpscalePlan("lanczos", src, dst, self.spec.fit, 0)
        return UpscalePlan(f"{self.model.arch}-x{self.model.scale}", src, dst, self.spec.fit, 1)

    def frame(self, frame: np.ndarray, plan: UpscalePlan) -> np.ndarray:
        if plan.model_passes and self.model is not None:
            frame = self.model.upscale(frame)
        return resize_exact(frame, plan.dst, plan.fit)

    def stream(self, frames: Iterable[np.ndarray], plans: list[UpscalePlan]) -> Iterator[np.ndarray]:
        """Upscale lazily; the plan made from the first frame is appended to ``plans`` for the record."""
        plan: UpscalePlan | None = None
        for f in frames:
            if plan is None:
                plan = self.plan((f.shape[1], f.shape[0]))
                plans.append(plan)
            yield self.frame(f, plan)
