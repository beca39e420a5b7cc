"""Wan VACE conditioning: how a resolved spec becomes ``WanVACEPipeline``'s video, mask and references.

VACE conditions on a frame sequence and a mask of the same length (white: generate, black: keep):
- video-to-video: the source video resampled to ``fps`` and fitted to the size; no mask regenerates
  every pixel under the source's guidance, a mask regenerates only its white region (inpaint; a
  mask whose white is the border outpaints);
- image / first+last frame: the image(s) at frame 0 (and the last frame), grey elsewhere, a mask that
  keeps those frames and generates the rest (diffusers' own VACE first/last example);
- reference images (any mode): extra frames VACE prepends in latent space and drops after decoding.
"""

from __future__ import annotations

from typing import Any

from PIL import Image

from pipelines.core.catalog import Mode
from pipelines.core.images import fit_image, load_rgb
from pipelines.core.source_video import load_source_frames
from pipelines.core.spec import ResolvedSpec

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tiff"})
# diffusers' example uses 128: PIL grey that the video processor maps to ~0 in [-1, 1].
_GREY = (128, 128, 128)


def vace_kwargs(spec: ResolvedSpec, first: Image.Image | None, last: Image.Image | None) -> dict[str, Any]:
    """``video``, ``mask`` and ``reference_images`` for one call (only those that apply)."""
    w, h, n = spec.width, spec.height, spec.num_frames
    kw: dict[str, Any] = {}
    if spec.mode is Mode.VIDEO_TO_VIDEO:
        assert spec.video is not None  # resolve() checked it
        kw["video"] = load_source_frames(spec.video, spec.fps, n, w, h, spec.image_fit)
        if spec.mask is not None:
            kw["mask"] = _mask_frames(spec, n)
    elif spec.mode in (Mode.IMAGE_TO_VIDEO, Mode.FIRST_LAST_FRAME):
        assert first is not None
        grey = Image.new("RGB", (w, h), _GREY)
        keep, make = Image.new("L", (w, h), 0), Image.new("L", (w, h), 255)
        if spec.mode is Mode.FIRST_LAST_FRAME:
            assert last is not None
            kw["video"] = [first, *[grey] * (n - 2), last]
            kw["mask"] = [keep, *[make] * (n - 2), keep]
        else:
            kw["video"] = [first, *[grey] * (n - 1)]
            kw["mask"] = [keep, *[make] * (n - 1)]
    if spec.reference_images:
        kw["reference_images"] = [load_rgb(p) for p in spec.reference_images]
    return kw


def _mask_frames(spec: ResolvedSpec, n: int) -> list[Image.Image]:
    """The mask as ``n`` greyscale frames: one image repeated, or a mask video resampled like the source."""
    assert spec.mask is not None
    if spec.mask.suffix.lower() in IMAGE_SUFFIXES:
        one = fit_image(load_rgb(spec.mask), spec.width, spec.height, spec.image_fit).convert("L")
        return [one] * n
    frames = load_source_frames(spec.mask, spec.fps, n, spec.width, spec.height, spec.image_fit)
    return [f.convert("L") for f in frames]
