"""`vidserve weights pull`: the only code in vidserve that touches the network.

Downloads a catalog model's diffusers folder from the Hugging Face Hub into ``weights_dir/<id>``.
huggingface_hub resumes partial files and skips complete ones, so running it again is cheap.
The commit the revision resolved to is recorded in ``.vidserve-pull.json`` and then in every
sidecar made with these weights.

A LoRA distillation (an entry with a ``base_model``) pulls its base's folder unless that is already
present, then its bundled LoRA files, each from its repo at its pinned revision, into
``weights_dir/<id>/<file>``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from pipelines.core.catalog import ModelEntry
from pipelines.families import default_catalog
from pipelines.weights import PULL_MANIFEST, WeightsLocator, missing_files


def pull(model_id: str, weights_dir: Path, revision: str | None = None) -> Path:
    from huggingface_hub import HfApi, snapshot_download

    entry = default_catalog().get(model_id)
    if entry is not None and entry.base_model:
        return _pull_bundled(entry, weights_dir, revision)
    if entry is None or not entry.hub_repo:
        raise KeyError(f"{model_id!r} has no hub repo in the catalog")
    rev = revision or entry.revision
    # Resolve the revision to a commit first, then fetch exactly that commit: a branch that moves
    # during a resumed download cannot mix files from two commits.
    commit = HfApi().model_info(entry.hub_repo, revision=rev).sha or rev
    target = weights_dir / model_id
    # quality final: the latent upsampler is a component folder (*/*); its stage-2 LoRA sits at the root.
    stage2 = [entry.final_flow.stage2_lora] if entry.final_flow and entry.final_flow.stage2_lora else []
    snapshot_download(
        repo_id=entry.hub_repo,
        revision=commit,
        local_dir=target,
        # Component folders and the index only: some repos also hold multi-GB single-file checkpoints.
        allow_patterns=["model_index.json", "*/*", *stage2],
    )
    missing = missing_files(target)
    if missing:
        raise RuntimeError(f"downloaded {entry.hub_repo}@{commit} but it lacks: {', '.join(missing)}")
    (target / PULL_MANIFEST).write_text(json.dumps(
        {"repo": entry.hub_repo, "revision": rev, "commit": commit, "pulled_at": time.time()}, indent=2
    ))
    return target


def _pull_bundled(entry: ModelEntry, weights_dir: Path, revision: str | None) -> Path:
    from huggingface_hub import HfApi, hf_hub_download

    assert entry.base_model is not None
    if revision is not None:
        raise ValueError(f"--revision names one repo, but {entry.id} is {entry.base_model} plus "
                         f"{len(entry.bundled_loras)} LoRA file(s), each pinned in the catalog")
    if WeightsLocator(weights_dir).find(entry.base_model) is None:
        pull(entry.base_model, weights_dir)
    target = weights_dir / entry.id
    pulled = []
    for lora in entry.bundled_loras:
        if lora.repo is None:
            raise KeyError(f"{entry.id}: {lora.file} is built locally (`vidserve weights make-tiny`), not pulled")
        commit = HfApi().model_info(lora.repo, revision=lora.revision).sha or lora.revision
        hf_hub_download(repo_id=lora.repo, filename=lora.file, revision=commit, local_dir=target)
        if not (target / lora.file).is_file():
            raise RuntimeError(f"downloaded {lora.repo}@{commit} but {target / lora.file} is missing")
        pulled.append({"repo": lora.repo, "file": lora.file, "revision": lora.revision, "commit": commit})
    (target / PULL_MANIFEST).write_text(json.dumps(
        {"base_model": entry.base_model, "loras": pulled, "pulled_at": time.time()}, indent=2
    ))
    return target
