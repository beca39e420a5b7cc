"""Finding and checking local weights; loading never reaches the network."""

from __future__ import annotations

import hashlib
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines.core.errors import ModelUnavailable
from pipelines.core.spec import GenerationSpec
from pipelines.generate import VideoGenerator
from pipelines.tiny import make_tiny
from pipelines.weights import WeightsLocator, missing_files


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[object]]:
    """Any outbound connection attempt is recorded and refused."""
    attempts: list[object] = []

    def refuse(self: socket.socket, address: object) -> None:
        attempts.append(address)
        raise OSError(f"test forbids network: {address}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    yield attempts


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_missing_folder_names_the_path_and_never_downloads(tmp_path: Path, no_network: list[object]) -> None:
    gen = VideoGenerator(WeightsLocator(tmp_path / "empty"))
    with pytest.raises(ModelUnavailable) as info:
        gen.generate(GenerationSpec(model="wan2.1-t2v-1.3b", prompt="x"))
    assert str(tmp_path / "empty" / "wan2.1-t2v-1.3b") in str(info.value)
    assert "vidserve weights pull wan2.1-t2v-1.3b" in str(info.value)
    assert no_network == []
    assert gen.cache.loaded_ids() == []


def test_missing_component_is_named(tiny_weights_dir: Path, tmp_path: Path, no_network: list[object]) -> None:
    folder = _copy(tiny_weights_dir / "tiny-wan2.1-t2v", tmp_path / "w" / "tiny-wan2.1-t2v")
    shutil.rmtree(folder / "vae")
    for f in (folder / "transformer").glob("*.safetensors"):
        f.unlink()
    assert missing_files(folder) == ["transformer/<weights file: *.safetensors>", "vae/"]
    gen = VideoGenerator(WeightsLocator(tmp_path / "w"))
    with pytest.raises(ModelUnavailable) as info:
        gen.generate(GenerationSpec(model="tiny-wan2.1-t2v", prompt="x"))
    msg = str(info.value)
    assert "vae/" in msg and "transformer/" in msg and str(folder) in msg
    assert no_network == []


def test_sharded_weights_missing_shard(tiny_weights_dir: Path, tmp_path: Path) -> None:
    folder = _copy(tiny_weights_dir / "tiny-ltx-video", tmp_path / "tiny-ltx-video")
    (folder / "transformer" / "diffusion_pytorch_model.safetensors.index.json").write_text(
        '{"weight_map": {"a": "diffusion_pytorch_model-00001-of-00002.safetensors"}}'
    )
    assert missing_files(folder) == ["transformer/diffusion_pytorch_model-00001-of-00002.safetensors"]


def test_configured_path_and_hf_cache_are_found(tiny_weights_dir: Path, tmp_path: Path) -> None:
    # A configured path wins over weights_dir.
    elsewhere = _copy(tiny_weights_dir / "tiny-wan2.1-t2v", tmp_path / "models" / "mine")
    loc = WeightsLocator(tmp_path / "none", {"tiny-wan2.1-t2v": elsewhere}).require("tiny-wan2.1-t2v")
    assert loc.path == elsewhere and loc.source == "configured"
    # A Hugging Face cache snapshot of the catalog's repo at its revision is used in place.
    cache = tmp_path / "hub"
    repo = cache / "models--Wan-AI--Wan2.1-T2V-1.3B-Diffusers"
    commit = "0123456789abcdef0123456789abcdef01234567"
    _copy(tiny_weights_dir / "tiny-wan2.1-t2v", repo / "snapshots" / commit)
    (repo / "snapshots" / commit / "vidserve-tiny.json").unlink()
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    loc = WeightsLocator(tmp_path / "none", hf_cache=cache).require("wan2.1-t2v-1.3b")
    assert loc.source == "hf_cache" and loc.revision == commit and not loc.tiny


def test_weights_load_and_run_from_configured_path(tiny_weights_dir: Path, tmp_path: Path,
                                                    no_network: list[object]) -> None:
    elsewhere = _copy(tiny_weights_dir / "tiny-wan2.1-t2v", tmp_path / "m")
    gen = VideoGenerator(WeightsLocator(tmp_path / "none", {"tiny-wan2.1-t2v": elsewhere}))
    result = gen.generate(GenerationSpec(model="tiny-wan2.1-t2v", prompt="x", seed=1))
    assert result.weights.path == elsewhere and result.frames.shape[0] == 9
    assert no_network == []


def test_fingerprint_changes_with_a_component(tiny_weights_dir: Path, tmp_path: Path) -> None:
    folder = _copy(tiny_weights_dir / "tiny-ltx-video", tmp_path / "tiny-ltx-video")
    before = WeightsLocator(tmp_path).require("tiny-ltx-video").fingerprint
    cfg = folder / "scheduler" / "scheduler_config.json"
    cfg.write_text(cfg.read_text().replace('"shift": 1.0', '"shift": 2.0'))
    assert WeightsLocator(tmp_path).require("tiny-ltx-video").fingerprint != before


def test_make_tiny_is_deterministic(tmp_path: Path) -> None:
    def digest(folder: Path) -> dict[str, str]:
        return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(folder.rglob("*.safetensors"))}

    a = digest(make_tiny("tiny-wan2.2-i2v-a14b", tmp_path / "a"))
    b = digest(make_tiny("tiny-wan2.2-i2v-a14b", tmp_path / "b"))
    assert a and a == b
    assert "transformer_2/diffusion_pytorch_model.safetensors" in a


def test_every_tiny_catalog_model_has_a_builder_and_every_builder_an_entry() -> None:
    """tiny_ids() reads the catalog (no diffusers import); the families' builders must match it."""
    from pipelines.families import default_catalog
    from pipelines.tiny import _builders, tiny_ids

    built = [e.id for e in default_catalog().tiny() if not e.base_model]
    assert built and built == list(_builders())
    assert tiny_ids()[:len(built)] == built and len(tiny_ids()) > len(built)  # derived ones follow
