"""Frame-rate conversion as a stream: pairs of source frames in, in-between frames out.

The timing (which output frame lies where) is shared by every method and lives in ``retime``; a
method only answers "the frames at positions ts between a and b". Methods:
- ``rife``: the learned RIFE 4.x network from a local weights file (GPU fp16, or CPU fp32);
- ``classical``: OpenCV DIS optical flow both ways, warp both frames to t and blend (CPU, no weights);
- ``nearest``: repeat/drop frames, used to meet an output fps when no interpolation was asked for.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Iterator, Sequence
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from pipelines.post.spec import InterpolateSpec
from pipelines.post.timing import as_rate
from pipelines.post.weights_io import find_weights

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)
RIFE_FILES = ("flownet.safetensors", "flownet.pkl", "flownet.pth")


class Synth(Protocol):
    method: str

    def between(self, a: np.ndarray, b: np.ndarray, ts: Sequence[float]) -> list[np.ndarray]:
        """Frames at fractions ``ts`` (each in (0, 1)) of the way from ``a`` to ``b``; uint8 (H, W, 3)."""
        ...


def retime(frames: Iterable[np.ndarray], fps_in: float | Fraction, fps_out: float | Fraction,
           synth: Synth) -> Iterator[np.ndarray]:
    """Output frame k is at time k/fps_out; holds two source frames at a time, whatever the clip length."""
    step = as_rate(fps_in) / as_rate(fps_out)  # source frames per output frame
    it = iter(frames)
    a = next(it, None)
    if a is None:
        return
    i = 0
    for b in it:
        ks = range(math.ceil(i / step), math.ceil((i + 1) / step))
        ts = [k * step - i for k in ks]
        if ts and ts[0] == 0:
            yield a
            ts = ts[1:]
        if ts:
            yield from synth.between(a, b, [float(t) for t in ts])
        a, i = b, i + 1
    if (i / step).denominator == 1:  # the last source frame lands exactly on an output slot
        yield a


class NearestSynth:
    method = "nearest"

    def between(self, a: np.ndarray, b: np.ndarray, ts: Sequence[float]) -> list[np.ndarray]:
        return [a if t < 0.5 else b for t in ts]


class ClassicalSynth:
    """Optical flow both ways (DIS, which copes with larger motion than Farneback), then backward
    warping with a symmetric estimate of the motion through each output pixel:
    m(x) ≈ (F01(x) − F10(x)) / 2, so I_t(x) = (1−t)·I0(x − t·m) + t·I1(x + (1−t)·m).
    Using both directions keeps a moving object whole at t where one-way flow would tear it."""

    method = "classical-dis-flow"

    def __init__(self) -> None:
        import cv2

        self._cv2 = cv2
        self._dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)  # type: ignore[attr-defined]

    def between(self, a: np.ndarray, b: np.ndarray, ts: Sequence[float]) -> list[np.ndarray]:
        cv2 = self._cv2
        ga = cv2.cvtColor(a, cv2.COLOR_RGB2GRAY)
        gb = cv2.cvtColor(b, cv2.COLOR_RGB2GRAY)
        f01 = self._dis.calc(ga, gb, None)
        f10 = self._dis.calc(gb, ga, None)
        m = (f01 - f10) * 0.5
        h, w = ga.shape
        gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
        out = []
        for t in ts:
            wa = cv2.remap(a, gx - t * m[..., 0], gy - t * m[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            wb = cv2.remap(b, gx + (1 - t) * m[..., 0], gy + (1 - t) * m[..., 1], cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE)
            out.append(cv2.addWeighted(wa, 1 - t, wb, t, 0))
        return out


class RifeSynth:
    """RIFE on frame pairs, all timesteps of a pair batched (``batch`` at a time)."""

    def __init__(self, path: Path, device: str | None = None, scale: float = 1.0, batch: int = 4) -> None:
        import torch

        from pipelines.post.rife import load_ifnet

        self._torch = torch
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        # fp16 halves memory and doubles speed on GPU; CPU kernels for fp16 convs are slow or missing
        self.dtype = torch.float16 if self.device.startswith("cuda") else torch.float32
        self.model = load_ifnet(path).to(self.device, self.dtype)
        self.scale, self.batch = scale, batch
        self.path = path
        # the folder names the version (weights/post/rife-4.25/flownet.pkl); the sidecar records it
        self.method = path.parent.name if path.parent.name.startswith("rife") else f"rife ({path.name})"

    def _to_tensor(self, img: np.ndarray, pad_h: int, pad_w: int) -> torch.Tensor:
        torch = self._torch
        x = torch.from_numpy(img).to(self.device).permute(2, 0, 1).unsqueeze(0).to(self.dtype) / 255
        # replicate padding up to the network's multiple; cropped off again afterwards
        return self._torch.nn.functional.pad(x, (0, pad_w, 0, pad_h), mode="replicate")

    def between(self, a: np.ndarray, b: np.ndarray, ts: Sequence[float]) -> list[np.ndarray]:
        torch = self._torch
        h, w = a.shape[:2]
        mult = max(1, int(self.model.pad_multiple / self.scale))
        ph, pw = (-h) % mult, (-w) % mult
        xa, xb = self._to_tensor(a, ph, pw), self._to_tensor(b, ph, pw)
        out: list[np.ndarray] = []
        with torch.inference_mode():
            for s in range(0, len(ts), self.batch):
                chunk = ts[s : s + self.batch]
                n = len(chunk)
                t = torch.tensor(chunk, device=self.device, dtype=self.dtype)
                y = self.model(xa.expand(n, -1, -1, -1), xb.expand(n, -1, -1, -1), t, self.scale)
                y = (y[:, :, :h, :w].clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
                out.extend(y)
        return out


def make_synth(spec: InterpolateSpec, weights_dir: Path, device: str | None = None) -> Synth:
    """The learned model when asked for or when its weights are present; else the classical fallback."""
    if spec.method in ("auto", "rife"):
        path = find_weights(weights_dir, spec.model, RIFE_FILES)
        if path is not None:
            return RifeSynth(path, device=device, scale=spec.scale, batch=spec.batch)
        if spec.method == "rife":
            from pipelines.core.errors import ModelUnavailable

            raise ModelUnavailable(spec.model, f"no RIFE weights under {weights_dir} (flownet.pkl/.safetensors)")
        log.info("no RIFE weights for %r under %s; using classical optical flow", spec.model, weights_dir)
    return ClassicalSynth()


def target_fps(spec: InterpolateSpec, fps_in: float | Fraction) -> Fraction:
    if spec.factor is not None:
        return as_rate(fps_in) * spec.factor
    assert spec.fps is not None  # check_post guarantees one of the two
    return as_rate(spec.fps)
