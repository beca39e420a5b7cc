"""Finding and checking local weights. Torch-free and offline: nothing here touches the network.

A model folder is in diffusers layout: ``model_index.json`` plus one folder per component.
It is looked for, in order, at a configured path for the model id, at ``weights_dir/<id>``,
and in the Hugging Face cache (``$HF_HUB_CACHE`` or ``~/.cache/huggingface/hub``) for the
catalog's hub repo and revision. An entry with a ``base_model`` (a LoRA distillation) uses its
base's folder (after a configured path of its own) and needs its bundled LoRA files, found at
``weights_dir/<id>/<file>`` or in the Hugging Face cache of the LoRA's repo.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipelines.core.catalog import BundledLora, Catalog, ModelEntry
from pipelines.core.errors import ModelUnavailable
from pipelines.families import default_catalog

PULL_MANIFEST = ".vidserve-pull.json"
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")
# Components whose folder holds no weights, and the files any one of which makes them complete.
_CONFIG_ONLY = {
    "scheduler": ("scheduler_config.json",),
    "guider": ("guider_config.json",),  # diffusers guiders (HunyuanVideo 1.5): a config, no weights
    "tokenizer": ("tokenizer.json", "tokenizer_config.json", "spiece.model", "vocab.json"),
    "tokenizer_2": ("tokenizer.json", "tokenizer_config.json", "spiece.model", "vocab.json"),
    "image_processor": ("preprocessor_config.json",),
    "feature_extractor": ("preprocessor_config.json",),
}


@dataclass(frozen=True)
class WeightsLocation:
    """Where a model's weights were found, and what identifies them."""

    model_id: str
    path: Path
    source: str  # "configured" | "weights_dir" | "hf_cache"
    revision: str | None = None
    fingerprint: str = ""
    tiny: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def hf_cache_dir() -> Path:
    env = os.environ.get("HF_HUB_CACHE")
    if env:
        return Path(env)
    home = os.environ.get("HF_HOME")
    return Path(home) / "hub" if home else Path.home() / ".cache" / "huggingface" / "hub"


class WeightsLocator:
    """Finds model folders for catalog entries and checks they are complete."""

    def __init__(
        self,
        weights_dir: Path,
        model_paths: Mapping[str, Path] | None = None,
        catalog: Catalog | None = None,
        hf_cache: Path | None = None,
    ) -> None:
        self.weights_dir = Path(weights_dir)
        self.model_paths = {k: Path(v) for k, v in (model_paths or {}).items()}
        self.catalog = catalog or default_catalog()
        self.hf_cache = hf_cache or hf_cache_dir()

    def candidates(self, entry: ModelEntry) -> list[tuple[str, Path]]:
        out: list[tuple[str, Path]] = []
        if entry.id in self.model_paths:
            out.append(("configured", self.model_paths[entry.id]))
        base = self.catalog.base_of(entry)
        if base is not entry:
            return out + self.candidates(base)
        out.append(("weights_dir", self.weights_dir / entry.id))
        if entry.hub_repo:
            repo_dir = cache_repo_dir(self.hf_cache, entry.hub_repo)
            commit = _cache_commit(repo_dir, entry.revision)
            if commit:
                out.append(("hf_cache", repo_dir / "snapshots" / commit))
        return out

    def lora_candidates(self, entry: ModelEntry, lora: BundledLora) -> list[Path]:
        """Where a bundled LoRA file may be, in order."""
        out = [self.weights_dir / entry.id / lora.file]
        if lora.repo:
            repo_dir = cache_repo_dir(self.hf_cache, lora.repo)
            commit = _cache_commit(repo_dir, lora.revision)
            if commit:
                out.append(repo_dir / "snapshots" / commit / lora.file)
        return out

    def bundled_loras(self, entry: ModelEntry) -> list[tuple[BundledLora, Path | None]]:
        """Each bundled LoRA of ``entry`` and the file found for it (None when absent)."""
        return [(lora, next((p for p in self.lora_candidates(entry, lora) if p.is_file()), None))
                for lora in entry.bundled_loras]

    def find(self, model_id: str) -> WeightsLocation | None:
        """The first complete folder for ``model_id``, or None when none is present."""
        entry = self._entry(model_id)
        loras = self.bundled_loras(entry)
        if any(path is None for _, path in loras):
            return None
        for source, path in self.candidates(entry):
            if (path / "model_index.json").is_file() and not missing_files(path):
                return _describe(entry, path, source, loras)
        return None

    def require(self, model_id: str) -> WeightsLocation:
        """Like ``find`` but raises ModelUnavailable naming the path and the missing piece."""
        entry = self._entry(model_id)
        fetch = "run `vidserve weights make-tiny`" if entry.tiny else f"run `vidserve weights pull {entry.id}`"
        tried = self.candidates(entry)
        for source, path in tried:
            if not (path / "model_index.json").is_file():
                continue
            missing = missing_files(path)
            if missing:
                raise ModelUnavailable(
                    entry.id, f"weights at {path} are incomplete: missing {', '.join(missing)}", path
                )
            loras = self.bundled_loras(entry)
            for lora, found in loras:
                if found is None:
                    where = self.lora_candidates(entry, lora)
                    origin = f" (from {lora.repo})" if lora.repo else ""
                    raise ModelUnavailable(
                        entry.id, f"bundled LoRA {lora.file}{origin} not found (looked in "
                        f"{', '.join(str(p) for p in where)}); {fetch}", where[0],
                    )
            return _describe(entry, path, source, loras)
        looked = ", ".join(str(p) for _, p in tried)
        hint = fetch if entry.tiny else f"{fetch} or place a diffusers-layout folder there"
        if entry.base_model:
            hint += f" (the weights of {entry.base_model})"
        raise ModelUnavailable(entry.id, f"no weights found (looked in {looked}); {hint}", tried[0][1])

    def present(self) -> list[WeightsLocation]:
        return [loc for e in self.catalog.entries() if (loc := self.find(e.id)) is not None]

    def _entry(self, model_id: str) -> ModelEntry:
        entry = self.catalog.get(model_id)
        if entry is None:
            raise ModelUnavailable(model_id, f"not in the catalog; known: {', '.join(self.catalog.ids())}")
        return entry


def missing_files(folder: Path) -> list[str]:
    """Paths (relative to ``folder``) that the model index promises but the folder lacks."""
    index_path = folder / "model_index.json"
    try:
        index = json.loads(index_path.read_text())
    except (OSError, ValueError):
        return ["model_index.json (unreadable)"]
    missing: list[str] = []
    for name, value in index.items():
        if name.startswith("_") or not isinstance(value, list) or len(value) != 2 or None in value:
            continue
        comp = folder / name
        if not comp.is_dir():
            missing.append(f"{name}/")
            continue
        if name in _CONFIG_ONLY:
            if not any((comp / f).is_file() for f in _CONFIG_ONLY[name]):
                missing.append(f"{name}/{_CONFIG_ONLY[name][0]}")
            continue
        if not (comp / "config.json").is_file():
            missing.append(f"{name}/config.json")
        missing.extend(f"{name}/{f}" for f in _missing_weights(comp))
    return missing


def _missing_weights(comp: Path) -> list[str]:
    indexes = sorted(comp.glob("*.index.json"))
    if indexes:
        shards: set[str] = set()
        for idx in indexes:
            try:
                shards.update(json.loads(idx.read_text()).get("weight_map", {}).values())
            except (OSError, ValueError):
                return [f"{idx.name} (unreadable)"]
        return sorted(s for s in shards if not (comp / s).is_file())
    if any(p.suffix in _WEIGHT_SUFFIXES for p in comp.iterdir()):
        return []
    return ["<weights file: *.safetensors>"]


def fingerprint(folder: Path) -> str:
    """sha256 over the model index, component configs and shard indexes: identifies a weights set
    cheaply (no hashing of multi-GB tensors) and changes when any component is swapped."""
    h = hashlib.sha256()
    files = [folder / "model_index.json"]
    files += sorted(folder.glob("*/config.json")) + sorted(folder.glob("*/*.index.json"))
    files += sorted(folder.glob("*/*_config.json"))
    for f in files:
        if f.is_file():
            h.update(str(f.relative_to(folder)).encode())
            h.update(f.read_bytes())
    # Single-file components: include size and name so a changed tensor file changes the print.
    for f in sorted(folder.glob("*/*.safetensors")):
        h.update(f"{f.relative_to(folder)}:{f.stat().st_size}".encode())
    return h.hexdigest()


def _describe(entry: ModelEntry, path: Path, source: str,
              loras: list[tuple[BundledLora, Path | None]] | None = None) -> WeightsLocation:
    revision: str | None = None
    extra: dict[str, Any] = {}
    digest = fingerprint(path)
    if entry.base_model:
        extra["base_model"] = entry.base_model
    if loras:
        # Name and size stand in for the content, as for single-file components in ``fingerprint``;
        # the loader hashes each file once when it fuses it.
        extra["bundled_loras"] = [
            {"file": lora.file, "path": str(found), "repo": lora.repo, "revision": lora.revision,
             "target": lora.target, "strength": lora.strength}
            for lora, found in loras
        ]
        h = hashlib.sha256(digest.encode())
        for lora, found in loras:
            h.update(f"{lora.file}:{lora.target}:{lora.strength}:{found.stat().st_size if found else -1}".encode())
        digest = h.hexdigest()
    manifest = path / PULL_MANIFEST
    if manifest.is_file():
        try:
            data = json.loads(manifest.read_text())
            revision = data.get("commit")
            extra["pulled_from"] = data.get("repo")
        except (OSError, ValueError):
            pass
    if source == "hf_cache":
        revision = path.name
    tiny = (path / "vidserve-tiny.json").is_file()
    if tiny:
        revision = "tiny-random"
    return WeightsLocation(entry.id, path, source, revision, digest, tiny, extra)


def cache_repo_dir(hf_cache: Path, repo_id: str) -> Path:
    """The cache folder of a hub repo. The Hub treats repo ids case-insensitively (``-Diffusers`` and
    ``-diffusers`` name the same repo) but the cache folder keeps the spelling it was downloaded under,
    so an exact match is tried first, then any folder that differs only in letter case."""
    name = "models--" + repo_id.replace("/", "--")
    exact = hf_cache / name
    if exact.is_dir() or not hf_cache.is_dir():
        return exact
    folded = name.casefold()
    matches = sorted(p for p in hf_cache.iterdir() if p.name.casefold() == folded and p.is_dir())
    return matches[0] if matches else exact


def _cache_commit(repo_dir: Path, revision: str) -> str | None:
    """The cached snapshot for ``revision`` (a branch or a commit); for a pinned commit the cache does
    not hold, the one its ``main`` points at (its commit is what the sidecar then records)."""
    for rev in (revision, "main"):
        ref = repo_dir / "refs" / rev
        if ref.is_file():
            commit = ref.read_text().strip()
            if (repo_dir / "snapshots" / commit).is_dir():
                return commit
        if (repo_dir / "snapshots" / rev).is_dir():
            return rev
    return None
