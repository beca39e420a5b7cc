"""The shape of a video picked once: an aspect ratio and a resolution mapped onto a model's sizes.

Torch-free, next to the catalog: the API maps ``aspect_ratio``/``resolution`` to width/height
before a job exists, ``/v1/models`` lists every shape a model has, and the fit warnings say how much
of a keyframe an aspect-ratio mismatch crops or letterboxes.

Mapping rule: keep the model's trained pixel count for the tier (its default size for its own tier,
the published size of a size class such as Wan 2.1 14B's 832x480 "480p", else that tier's 16:9 pixel
count), give the requested ratio, round both sides to the model's size multiple. A ratio within 5%
of the trained size's is that size itself (or its portrait swap).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from pipelines.core.catalog import ModelEntry
from pipelines.core.errors import InvalidSpec

ASPECT_RATIOS: dict[str, tuple[int, int]] = {
    "16:9": (16, 9), "9:16": (9, 16), "1:1": (1, 1), "4:3": (4, 3), "3:4": (3, 4), "21:9": (21, 9),
}
# Short side of each tier; its pixel count is that of a 16:9 frame with this short side.
RESOLUTIONS: dict[str, int] = {"480p": 480, "720p": 720, "1080p": 1080}
_SNAP_TO_DEFAULT = 0.05   # |log ratio| under which the trained size is used as is
_TIER_TOLERANCE = 1.15    # a model "has" a tier whose pixel count is at most this much over its own


@dataclass(frozen=True)
class Shape:
    """A size the server picked, and what it was picked from (shown on the job)."""

    aspect_ratio: str | None
    resolution: str | None
    width: int
    height: int

    @property
    def size(self) -> str:
        return f"{self.width}x{self.height}"

    def as_json(self) -> dict[str, str | int | None]:
        return {"aspect_ratio": self.aspect_ratio, "resolution": self.resolution, "size": self.size,
                "width": self.width, "height": self.height}


def _tier_pixels(resolution: str) -> float:
    short = RESOLUTIONS[resolution]
    return short * short * 16 / 9


def native_resolution(entry: ModelEntry) -> str | None:
    """The tier the model was trained at (nearest by pixel count), None for a model below 480p (tiny)."""
    pixels = entry.defaults.width * entry.defaults.height
    if pixels * _TIER_TOLERANCE < _tier_pixels("480p"):
        return None
    return min(RESOLUTIONS, key=lambda r: abs(math.log(pixels / _tier_pixels(r))))


def _trained_sizes(entry: ModelEntry) -> dict[str, tuple[int, int]]:
    """Tier -> the size the model was trained or published at: its default for its own tier, and the
    sizes of its published size classes (``flow_shift_by_size``)."""
    d = entry.defaults
    sizes = {c.name: (c.width, c.height) for c in d.flow_shift_by_size if c.name in RESOLUTIONS}
    native = native_resolution(entry)
    if native is not None:
        sizes[native] = (d.width, d.height)
    return sizes


def resolutions_of(entry: ModelEntry) -> list[str]:
    """Tiers the model has: its own, the smaller ones, and any size class its authors publish."""
    native = native_resolution(entry)
    published = _trained_sizes(entry)
    limit = _tier_pixels(native) if native is not None else 0.0
    return [r for r in RESOLUTIONS if (native is not None and _tier_pixels(r) <= limit * 1.001) or r in published]


def _round_to(value: float, multiple: int, lo: int, hi: int) -> int:
    side = max(multiple, round(value / multiple) * multiple)
    return min(max(side, math.ceil(lo / multiple) * multiple), hi // multiple * multiple)


def pick_shape(entry: ModelEntry, aspect_ratio: str | None, resolution: str | None) -> Shape:
    """The model's nearest valid size for the shape; InvalidSpec naming the field otherwise."""
    if aspect_ratio is not None and aspect_ratio not in ASPECT_RATIOS:
        raise InvalidSpec("aspect_ratio", aspect_ratio, f"accepted values: {', '.join(ASPECT_RATIOS)}")
    d, rules = entry.defaults, entry.rules
    has = resolutions_of(entry)
    if resolution is not None and resolution not in has:
        offered = ", ".join(has) if has else "none (give aspect_ratio alone: the model's own pixel count)"
        known = "" if resolution in RESOLUTIONS else f"; known tiers: {', '.join(RESOLUTIONS)}"
        raise InvalidSpec("resolution", resolution, f"{entry.id} has: {offered}{known}")
    if aspect_ratio is not None:
        a, b = ASPECT_RATIOS[aspect_ratio]
        ratio = a / b
    else:
        ratio = d.width / d.height
    trained = (d.width, d.height) if resolution is None else _trained_sizes(entry).get(resolution)
    pixels = trained[0] * trained[1] if trained else _tier_pixels(resolution or "480p")
    if trained:
        tw, th = trained
        if abs(math.log(ratio * th / tw)) < _SNAP_TO_DEFAULT:
            return Shape(aspect_ratio, resolution, tw, th)
        if abs(math.log(ratio * tw / th)) < _SNAP_TO_DEFAULT:
            return Shape(aspect_ratio, resolution, th, tw)
    m = rules.size_multiple
    width = _round_to(math.sqrt(pixels * ratio), m, rules.min_side, rules.max_side)
    height = _round_to(math.sqrt(pixels / ratio), m, rules.min_side, rules.max_side)
    return Shape(aspect_ratio, resolution, width, height)


def shapes_of(entry: ModelEntry) -> list[Shape]:
    """Every (aspect ratio, resolution) the model has, with the size each maps to (``/v1/models``)."""
    tiers: list[str | None] = [*resolutions_of(entry)] or [None]
    return [pick_shape(entry, ar, res) for res in tiers for ar in ASPECT_RATIOS]


@dataclass(frozen=True)
class FitReport:
    """How an input image met the target size."""

    field: str
    image_size: tuple[int, int]
    target_size: tuple[int, int]
    fit: Literal["cover", "contain"]
    lost_fraction: float  # cover: share of the image cropped away; contain: share of the frame that is bars

    def message(self) -> str:
        (iw, ih), (tw, th) = self.image_size, self.target_size
        wider = iw / ih > tw / th
        if self.fit == "cover":
            where = "left and right" if wider else "top and bottom"
            what = f"{self.lost_fraction:.0%} of the image cropped ({where})"
        else:
            where = "top and bottom" if wider else "left and right"
            what = f"{self.lost_fraction:.0%} of the frame letterboxed in black ({where})"
        return (f"{self.field}: {iw}x{ih} (aspect {iw / ih:.2f}) differs from the video's {tw}x{th} "
                f"(aspect {tw / th:.2f}); fitted by {self.fit}: {what}")


def fit_report(field: str, image_size: tuple[int, int], target_size: tuple[int, int],
               fit: Literal["cover", "contain"], tolerance: float = 0.01) -> FitReport | None:
    """A report when the image's aspect ratio differs from the target's by more than ``tolerance``."""
    (iw, ih), (tw, th) = image_size, target_size
    img_ratio, target_ratio = iw / ih, tw / th
    if abs(math.log(img_ratio / target_ratio)) <= tolerance:
        return None
    # Cover keeps target_ratio of the image's longer relative side; contain fills that share of the frame.
    kept = min(img_ratio, target_ratio) / max(img_ratio, target_ratio)
    return FitReport(field, image_size, target_size, fit, 1.0 - kept)
