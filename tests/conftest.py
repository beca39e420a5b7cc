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
# Under pytest-xdist the test processes share the cores: each gets its share of torch's threads (the
# worker processes a test starts inherit it), or they oversubscribe the cores and spin on each other.
_TEST_PROCESSES = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if _TEST_PROCESSES > 1:
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, len(os.sched_getaffinity(0)) // _TEST_PROCESSES)))


@pytest.fixture(scope="session")
def tiny_weights_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A weights dir holding every tiny model, built once per run: under pytest-xdist the first
    worker to get here builds it in the run's shared temporary folder and the others wait for it.
    Tests only read it (they copy a model before changing one)."""
    from filelock import FileLock

    from pipelines.tiny import make_tiny, tiny_ids

    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # popen-gwN's parent: one per run, shared by its workers
    root = base / "tiny-weights"
    with FileLock(str(base / "tiny-weights.lock")):
        done = root / ".complete"
        if not done.exists():
            root.mkdir(exist_ok=True)
            for model_id in tiny_ids():
                make_tiny(model_id, root)
            done.touch()
    return root


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto`` (the default, pyproject.toml): one test process per core this process may use,
    at most 4. Each test process starts its own worker subprocesses and Ray clusters, so more than
    that buys memory pressure, not speed."""
    return max(1, min(4, len(os.sched_getaffinity(0))))


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
    """How pytest-xdist (``--dist loadgroup``) shares the tests out: a file's tests stay in one test
    process, so its module-scoped servers start once; every test under ``tests/ray`` goes to one
    process too, since they share a session-scoped Ray cluster that two processes would each start.
    That group, the longest, goes out first, so it does not finish alone at the end.

    Tests marked ``gpu`` skip on machines without CUDA (CI, laptops) and run on a GPU box."""
    ray_dir = Path(__file__).parent / "ray"
    root = Path(__file__).parent.parent
    for item in items:
        path = Path(item.path)
        group = "ray" if ray_dir in path.parents else str(path.relative_to(root))
        item.add_marker(pytest.mark.xdist_group(group))
    items.sort(key=lambda item: ray_dir not in Path(item.path).parents)  # stable: the rest keep their order
    if not any(item.get_closest_marker("gpu") for item in items):
        return
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if item.get_closest_marker("gpu"):
            item.add_marker(skip)
