"""The family registry and adapters: every entry has a family that serves it, families are
torch-free to ask, the tiny models keep their family's real VAE compression, and so a request at a
real size on a tiny model runs in seconds."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from pipelines.core.catalog import Mode, ModelEntry
from pipelines.core.memory import latent_tokens
from pipelines.core.spec import GenerationSpec, resolve
from pipelines.families import ADAPTERS, adapter_for, check_sequence_split, default_catalog
from pipelines.generate import VideoGenerator
from pipelines.weights import WeightsLocator

# The family's real checkpoint whose compression the tiny model must keep.
TINY_AND_REAL = [("tiny-wan2.1-t2v", "wan2.1-t2v-1.3b"), ("tiny-ltx-video", "ltx-video-2b-0.9.5"),
                 ("tiny-ltx-2", "ltx-2-19b"), ("tiny-wan-vace", "wan2.1-vace-1.3b"),
                 ("tiny-skyreels-v2-df", "skyreels-v2-df-1.3b-540p"),
                 ("tiny-hunyuanvideo1.5-t2v", "hunyuanvideo1.5-480p-t2v"),
                 ("tiny-hunyuanvideo1.5-i2v", "hunyuanvideo1.5-480p-i2v")]


def _entry(model_id: str) -> ModelEntry:
    entry = default_catalog().get(model_id)
    assert entry is not None
    return entry


def test_every_entry_is_served_by_exactly_one_registered_family() -> None:
    served = [name for a in ADAPTERS for name in a.families]
    assert len(served) == len(set(served)), f"two adapters claim one family: {served}"
    for entry in default_catalog().entries():
        assert entry in adapter_for(entry).entries()


def test_an_unregistered_family_is_named_in_the_error() -> None:
    entry = _entry("tiny-wan2.1-t2v").model_copy(update={"family": "no-such-family"})
    with pytest.raises(KeyError, match="no-such-family"):
        adapter_for(entry)


def test_asking_the_families_imports_no_torch() -> None:
    """The API resolves and splits sequences through the registry without loading torch."""
    code = ("import sys; from pipelines.families import default_catalog, adapter_for; "
            "[adapter_for(e).cache_thresholds for e in default_catalog().entries()]; "
            "assert 'torch' not in sys.modules and 'diffusers' not in sys.modules, sorted(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_ltx_first_last_sequence_carries_the_last_image_latent_frame() -> None:
    entry = _entry("tiny-ltx-video")
    catalog = default_catalog()
    text = resolve(GenerationSpec(model=entry.id, width=96, height=64, num_frames=9), catalog)
    adapter = adapter_for(entry)
    assert adapter.sequence_tokens(entry, text) == latent_tokens(entry, 96, 64, 9) == 2 * 3 * 2
    flf = text.model_copy(update={"mode": Mode.FIRST_LAST_FRAME})
    assert adapter.sequence_tokens(entry, flf) == 12 + 3 * 2
    check_sequence_split(entry, flf, 2)  # 18 tokens split over 2
    with pytest.raises(Exception, match="18 video tokens"):
        check_sequence_split(entry, flf, 4)


@pytest.mark.parametrize(("tiny", "real"), TINY_AND_REAL)
def test_tiny_vae_compresses_like_its_family(tiny_weights_dir: Path, tiny: str, real: str) -> None:
    """Measured on the saved tiny VAE itself: encode a clip and compare the latent's shape with the
    real checkpoint's published ratios (the figures the memory planner and token counts use)."""
    import json

    import diffusers

    index = json.loads((tiny_weights_dir / tiny / "model_index.json").read_text())
    vae = getattr(diffusers, index["vae"][1]).from_pretrained(str(tiny_weights_dir / tiny / "vae"))
    arch = _entry(real).architecture
    assert _entry(tiny).architecture.vae_spatial == arch.vae_spatial
    assert _entry(tiny).architecture.vae_temporal == arch.vae_temporal
    frames, height, width = 17, 128, 192
    with torch.inference_mode():
        latent = vae.encode(torch.zeros(1, 3, frames, height, width)).latent_dist.mode()
    assert tuple(latent.shape[2:]) == ((frames - 1) // arch.vae_temporal + 1, height // arch.vae_spatial,
                                       width // arch.vae_spatial)


def test_a_real_size_image_to_video_on_tiny_ltx_runs_in_seconds(
    tiny_weights_dir: Path, color_images: dict[str, Path]
) -> None:
    """issue 13: 1024x576 image-to-video on tiny-ltx-video spent 167 s denoising when its VAE
    compressed 4x; at LTX's 32x the sequence is 1024/32 x 576/32 x 2 latent frames."""
    gen = VideoGenerator(WeightsLocator(tiny_weights_dir))
    spec = GenerationSpec(model="tiny-ltx-video", prompt="a boat", image=color_images["red"], width=1024,
                          height=576, num_frames=9, steps=2, seed=3)
    t0 = time.perf_counter()
    result = gen.generate(spec)
    wall = time.perf_counter() - t0
    assert result.frames.shape == (9, 576, 1024, 3)
    assert latent_tokens(_entry("tiny-ltx-video"), 1024, 576, 9) == 32 * 18 * 2
    # Generous for a busy 2-core machine; the 4x VAE needed 167 s of denoising alone.
    assert result.timings["denoise_s"] < 15, result.timings
    assert wall < 90, result.timings


def test_a_real_size_text_to_video_on_tiny_wan_runs_in_seconds(tiny_weights_dir: Path) -> None:
    gen = VideoGenerator(WeightsLocator(tiny_weights_dir))
    spec = GenerationSpec(model="tiny-wan2.1-t2v", prompt="a boat", width=832, height=480, num_frames=9,
                          steps=2, seed=3)
    result = gen.generate(spec)
    assert result.frames.shape == (9, 480, 832, 3)
    assert result.timings["denoise_s"] < 30, result.timings


def test_core_imports_nothing_above_it() -> None:
    """pipelines/core is the torch-free floor: it imports no torch, no diffusers and nothing in
    ``pipelines`` outside itself (the families and the generic code import it, never the reverse)."""
    import ast

    core = Path(__file__).resolve().parents[2] / "pipelines" / "core"
    found = []
    for path in sorted(core.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                top = name.split(".")[0]
                if top in ("torch", "diffusers", "transformers") or (
                        top == "pipelines" and not name.startswith("pipelines.core")):
                    found.append(f"{path.name}: {name}")
    assert not found


def test_the_readme_library_import_works() -> None:
    """`from pipelines import GenerationSpec, VideoGenerator` (the README's library example) in a fresh
    interpreter: the package's lazy attributes must not recurse into themselves."""
    code = ("from pipelines import GenerationSpec, VideoGenerator, VideoResult\n"
            "import pipelines\nassert callable(VideoGenerator) and GenerationSpec and VideoResult\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
