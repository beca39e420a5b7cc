"""A Hugging Face cache that holds a repo under another letter case (``-Diffusers`` vs ``-diffusers``: the
Hub treats them as one repo, the cache folder keeps the spelling it was downloaded under) is found."""

from __future__ import annotations

import json
from pathlib import Path

from pipelines.families import default_catalog
from pipelines.weights import WeightsLocator, cache_repo_dir

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _cache_with(root: Path, folder: str, commit: str = COMMIT) -> Path:
    """An HF cache layout: models--org--name/refs/main -> snapshots/<commit>/ holding a diffusers folder."""
    repo = root / folder
    snap = repo / "snapshots" / commit
    (snap / "scheduler").mkdir(parents=True)
    (snap / "model_index.json").write_text(json.dumps({"_class_name": "WanImageToVideoPipeline",
                                                       "scheduler": ["diffusers", "UniPCMultistepScheduler"]}))
    (snap / "scheduler" / "scheduler_config.json").write_text("{}")
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text(COMMIT)
    return snap


def test_repo_cached_under_another_case_is_found(tmp_path: Path) -> None:
    catalog = default_catalog()
    entry = catalog.get("wan2.1-flf2v-14b-720p")
    assert entry is not None and entry.hub_repo == "Wan-AI/Wan2.1-FLF2V-14B-720P-diffusers"
    cache = tmp_path / "hub"
    snap = _cache_with(cache, "models--Wan-AI--Wan2.1-FLF2V-14B-720P-Diffusers")  # upper-case D on disk
    locator = WeightsLocator(tmp_path / "weights", hf_cache=cache)
    found = locator.find(entry.id)
    assert found is not None and found.path == snap and found.source == "hf_cache" and found.revision == COMMIT


def test_exact_spelling_wins_and_absent_stays_absent(tmp_path: Path) -> None:
    cache = tmp_path / "hub"
    exact = _cache_with(cache, "models--Org--Name-diffusers").parent.parent
    _cache_with(cache, "models--org--name-DIFFUSERS")
    assert cache_repo_dir(cache, "Org/Name-diffusers") == exact
    assert cache_repo_dir(cache, "Org/Other") == cache / "models--Org--Other"
    assert cache_repo_dir(tmp_path / "no-cache", "Org/Name") == tmp_path / "no-cache" / "models--Org--Name"


def test_pinned_commit_snapshot_is_preferred(tmp_path: Path) -> None:
    entry = default_catalog().get("wan2.1-flf2v-14b-720p")
    assert entry is not None and len(entry.revision) == 40  # pinned
    cache = tmp_path / "hub"
    folder = "models--Wan-AI--Wan2.1-FLF2V-14B-720P-diffusers"
    _cache_with(cache, folder)                              # main -> another commit
    pinned = _cache_with(cache, folder, entry.revision)     # and the pinned one
    found = WeightsLocator(tmp_path / "weights", hf_cache=cache).find(entry.id)
    assert found is not None and found.path == pinned and found.revision == entry.revision
