"""Spec rules against the catalog: torch-free, so these run without loading any model."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pipelines import resolve
from pipelines.core.catalog import Mode
from pipelines.core.errors import InvalidSpec
from pipelines.core.spec import GenerationSpec, frames_for_seconds
from pipelines.families import default_catalog


def _fails(field: str, value: object, **kw: object) -> InvalidSpec:
    with pytest.raises(InvalidSpec) as info:
        resolve(GenerationSpec(**kw))  # type: ignore[arg-type]
    assert info.value.field == field
    # The message names the value too; a long one (a deep temporary path) is cut to its first 77 characters.
    shown = str(value) if len(str(value)) <= 80 else str(value)[:77]
    assert shown in str(info.value), str(info.value)
    return info.value


def test_catalog_is_torch_free_and_covers_required_models() -> None:
    # A fresh interpreter: the API imports these and must not pull torch in.

    code = "import pipelines, pipelines.core.spec, pipelines.core.catalog, sys; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
    ids = set(default_catalog().ids())
    for required in ("wan2.1-t2v-1.3b", "wan2.1-t2v-14b", "wan2.1-i2v-14b-480p", "wan2.1-i2v-14b-720p",
                     "wan2.1-flf2v-14b-720p", "wan2.2-ti2v-5b", "wan2.2-t2v-a14b", "wan2.2-i2v-a14b",
                     "ltx-video-2b-0.9.5", "ltx-video-13b-0.9.7-distilled"):
        assert required in ids
    for entry in default_catalog().entries():
        assert (entry.defaults.num_frames - 1) % entry.rules.frames_multiple == 0, entry.id
        assert entry.defaults.width % entry.rules.size_multiple == 0, entry.id
        assert entry.defaults.height % entry.rules.size_multiple == 0, entry.id
        # Every real model can be pulled: its own repo, or a base entry's plus a repo for each bundled LoRA.
        pullable = entry.hub_repo or (entry.base_model and all(b.repo for b in entry.bundled_loras))
        assert entry.tiny or pullable, entry.id


def test_defaults_fill_in_and_mode_is_inferred(color_images: dict[str, Path]) -> None:
    rs = resolve(GenerationSpec(model="wan2.1-t2v-1.3b", prompt="a cat", seed=7))
    assert (rs.width, rs.height, rs.num_frames, rs.fps, rs.steps) == (832, 480, 81, 16, 50)
    assert rs.mode is Mode.TEXT_TO_VIDEO and rs.seed == 7 and rs.pipeline_class == "WanPipeline"
    rs = resolve(GenerationSpec(model="tiny-ltx-video", image=color_images["red"], last_image=color_images["blue"]))
    assert rs.mode is Mode.FIRST_LAST_FRAME and rs.pipeline_class == "LTXConditionPipeline"
    assert 0 <= rs.seed < 2**32  # a random seed is chosen and recorded


def test_frames_rules_per_family() -> None:
    err = _fails("num_frames", 80, model="wan2.1-t2v-1.3b", num_frames=80)
    assert "4k+1" in str(err) and "81" in str(err)
    _fails("num_frames", 85, model="ltx-video-2b-0.9.5", num_frames=85)  # 4k+1 but LTX wants 8k+1
    assert resolve(GenerationSpec(model="ltx-video-2b-0.9.5", num_frames=97)).num_frames == 97


def test_size_rules_per_family() -> None:
    err = _fails("width", 840, model="wan2.1-t2v-1.3b", width=840)
    assert "multiple of 16" in str(err)
    _fails("height", 496, model="ltx-video-2b-0.9.5", height=496)  # 16-aligned but not 32
    _fails("width", 16, model="wan2.1-t2v-1.3b", width=16)


def test_unknown_model_and_unserved_mode(color_images: dict[str, Path]) -> None:
    err = _fails("model", "sora-9", model="sora-9")
    assert "wan2.1-t2v-1.3b" in str(err)  # lists what is served
    err = _fails("mode", "image-to-video", model="wan2.1-t2v-1.3b", image=color_images["red"])
    assert "text-to-video" in str(err)
    _fails("mode", "image-to-video", model="wan2.1-flf2v-14b-720p", mode="image-to-video",
           image=color_images["red"])


def test_missing_and_undecodable_images(tmp_path: Path, color_images: dict[str, Path]) -> None:
    _fails("image", None, model="tiny-ltx-video", mode="image-to-video")
    _fails("last_image", None, model="tiny-ltx-video", mode="first-last-frame", image=color_images["red"])
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"\x89PNG\r\n\x1a\n this is not a png")
    err = _fails("image", str(junk), model="tiny-ltx-video", image=junk)
    assert "not a decodable image" in str(err)
    truncated = tmp_path / "cut.png"
    truncated.write_bytes(color_images["red"].read_bytes()[:40])
    _fails("image", str(truncated), model="tiny-ltx-video", image=truncated)
    _fails("image", str(tmp_path / "absent.png"), model="tiny-ltx-video", image=tmp_path / "absent.png")


def test_numeric_bounds() -> None:
    _fails("steps", 0, model="tiny-wan2.1-t2v", steps=0)
    _fails("guidance_scale", float("nan"), model="tiny-wan2.1-t2v", guidance_scale=float("nan"))
    _fails("seed", -1, model="tiny-wan2.1-t2v", seed=-1)
    _fails("guidance_scale_2", 2.0, model="tiny-wan2.1-t2v", guidance_scale_2=2.0)  # one expert only
    assert resolve(GenerationSpec(model="tiny-wan2.2-t2v-a14b", guidance_scale_2=2.0)).guidance_scale_2 == 2.0


def test_frames_for_seconds_rounds_up_to_the_rule() -> None:
    wan = default_catalog().get("wan2.1-t2v-1.3b")
    ltx = default_catalog().get("ltx-video-2b-0.9.5")
    assert wan is not None and ltx is not None
    assert frames_for_seconds(wan, 5) == 81  # 5 s at 16 fps
    assert frames_for_seconds(ltx, 5) == 121  # 5 s at 24 fps -> 8k+1
    assert (frames_for_seconds(ltx, 4) - 1) % 8 == 0
