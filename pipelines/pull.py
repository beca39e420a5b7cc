"""`vidserve weights pull`: the only code in vidserve that touches the network.

Downloads a catalog model's diffusers folder from the Hugging Face Hub into ``weights_dir/<id>``.
huggingface_hub resumes partial files and skips complete ones, so running it again is cheap.
The commit the revision resolved to is recorded in ``.vidserve-pull.json`` and then in every
sidecar made with these weights.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from pipelines.catalog import default_catalog
from pipelines.weights import PULL_MANIFEST, missing_files


def pull(model_id: str, weights_dir: Path, revision: str | None = None) -> Path:
    from huggingface_hub import HfApi, snapshot_download

    entry = default_catalog().get(model_id)
    if entry is None or not entry.hub_repo:
        raise KeyError(f"{model_id!r} has no hub repo in the catalog")
    rev = revision or entry.revision
    # Resolve the revision to a commit first, then fetch exactly that commit: a branch that moves
    # during a resumed download cannot mix files from two commits.
    commit = HfApi().model_info(entry.hub_repo, revision=rev).sha or rev
    target = weights_dir / model_id
    snapshot_download(
        repo_id=entry.hub_repo,
        revision=commit,
        local_dir=target,
        # Component folders and the index only: some repos also hold multi-GB single-file checkpoints.
        allow_patterns=["model_index.json", "*/*"],
    )
    missing = missing_files(target)
    if missing:
        raise RuntimeError(f"downloaded {entry.hub_repo}@{commit} but it lacks: {', '.join(missing)}")
    (target / PULL_MANIFEST).write_text(json.dumps(
        {"repo": entry.hub_repo, "revision": rev, "commit": commit, "pulled_at": time.time()}, indent=2
    ))
    return target
