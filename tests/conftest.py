"""Shared fixtures. Tiny models are built once per test session, through the same code as
`vidserve weights make-tiny`, and loaded through the same loader as real weights."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image

# Tests must never reach a model hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def tiny_weights_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A weights dir holding every tiny model, built once per session."""
    from pipelines.tiny import make_tiny, tiny_ids

    root = tmp_path_factory.mktemp("weights")
    for model_id in tiny_ids():
        make_tiny(model_id, root)
    return root


@pytest.fixture(scope="session")
def color_images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Flat red and blue PNGs (80x60, so fitting to the target size is exercised)."""
    root = tmp_path_factory.mktemp("images")
    out = {}
    for name, rgb in (("red", (255, 0, 0)), ("blue", (0, 0, 255)), ("green", (0, 255, 0))):
        path = root / f"{name}.png"
        Image.new("RGB", (80, 60), rgb).save(path)
        out[name] = path
    from tests.video_files import write_video

    out["video"] = write_video(root / "source.mp4", 17, 32)  # 9 frames at 16 fps (video-to-video)
    return out


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``gpu`` skip on machines without CUDA (CI, laptops) and run on a GPU box."""
    if not any(item.get_closest_marker("gpu") for item in items):
        return
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if item.get_closest_marker("gpu"):
            item.add_marker(skip)
