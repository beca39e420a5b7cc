"""The shape picked once: aspect ratio + resolution onto each model's valid sizes (no torch)."""

from __future__ import annotations

import pytest

from pipelines import resolve
from pipelines.core.errors import InvalidSpec
from pipelines.core.shapes import ASPECT_RATIOS, fit_report, native_resolution, pick_shape, resolutions_of, shapes_of
from pipelines.core.spec import GenerationSpec
from pipelines.families import default_catalog

CATALOG = default_catalog()


def entry(model_id: str):  # type: ignore[no-untyped-def]
    found = CATALOG.get(model_id)
    assert found is not None
    return found


def test_trained_size_for_its_own_ratio_and_the_portrait_swap() -> None:
    wan = entry("wan2.1-t2v-1.3b")
    assert native_resolution(wan) == "480p"
    assert pick_shape(wan, "16:9", None).size == "832x480"
    assert pick_shape(wan, "9:16", "480p").size == "480x832"
    ltx = entry("ltx-video-13b-0.9.7-distilled")
    assert pick_shape(ltx, "16:9", "720p").size == "1216x704"


def test_every_shape_fits_the_model_rules_and_keeps_the_ratio() -> None:
    for e in CATALOG.entries():
        for shape in shapes_of(e):
            assert shape.width % e.rules.size_multiple == 0 and shape.height % e.rules.size_multiple == 0, shape
            assert e.rules.min_side <= min(shape.width, shape.height)
            if shape.aspect_ratio and not e.tiny:
                a, b = ASPECT_RATIOS[shape.aspect_ratio]
                assert abs(shape.width / shape.height - a / b) / (a / b) < 0.08, (e.id, shape)


def test_a_published_size_class_is_the_size_of_its_tier() -> None:
    wan14 = entry("wan2.1-t2v-14b")
    assert resolutions_of(wan14) == ["480p", "720p"]
    assert pick_shape(wan14, "16:9", "480p").size == "832x480"  # the 480p class Wan publishes for 14B
    assert pick_shape(wan14, "9:16", "720p").size == "720x1280"


def test_a_smaller_tier_scales_the_pixel_count_down() -> None:
    ltx13 = entry("ltx-video-13b-0.9.7-distilled")
    assert resolutions_of(ltx13) == ["480p", "720p"]
    assert pick_shape(ltx13, "16:9", "480p").size == "864x480"  # 16:9 at 480p's pixel count, multiples of 32
    wan14 = entry("wan2.1-t2v-14b")
    small, big = pick_shape(wan14, "1:1", "480p"), pick_shape(wan14, "1:1", "720p")
    assert small.width * small.height < big.width * big.height
    assert small.width == small.height


def test_unknown_ratio_and_missing_tier_name_the_field_and_the_choices() -> None:
    wan = entry("wan2.1-t2v-1.3b")
    with pytest.raises(InvalidSpec, match=r"aspect_ratio='5:4'.*16:9, 9:16"):
        pick_shape(wan, "5:4", None)
    with pytest.raises(InvalidSpec, match=r"resolution='1080p'.*has: 480p"):
        pick_shape(wan, "16:9", "1080p")
    with pytest.raises(InvalidSpec, match=r"resolution='480p'.*none"):
        pick_shape(entry("tiny-ltx-video"), "16:9", "480p")


def test_generation_spec_takes_a_shape_but_not_with_a_size() -> None:
    rs = resolve(GenerationSpec(model="wan2.1-t2v-1.3b", aspect_ratio="9:16"), CATALOG)
    assert (rs.width, rs.height) == (480, 832)
    with pytest.raises(InvalidSpec, match="not both"):
        resolve(GenerationSpec(model="wan2.1-t2v-1.3b", aspect_ratio="9:16", width=832), CATALOG)


def test_fit_report_says_how_much_is_cropped_or_letterboxed() -> None:
    assert fit_report("image", (1664, 960), (832, 480), "cover") is None  # same ratio: nothing to say
    cover = fit_report("image", (100, 100), (200, 100), "cover")
    assert cover is not None and cover.lost_fraction == pytest.approx(0.5)
    assert "50% of the image cropped (top and bottom)" in cover.message()
    contain = fit_report("image", (100, 100), (200, 100), "contain")
    assert contain is not None and "50% of the frame letterboxed" in contain.message()
