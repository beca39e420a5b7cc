"""Tiny random-weight pipelines built from the real diffusers classes, saved in diffusers layout.

Each family package builds its own (``FamilyAdapter.tiny_builders``); this module saves and
versions them. No hub: the tokenizer is built locally with `tokenizers`. Seeded per component, so the same
call gives the same weights. They load back through `pipelines.loader` like real weights.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pipelines.core.catalog import ModelEntry
from pipelines.families import ADAPTERS, default_catalog

log = logging.getLogger(__name__)

TINY_MARKER = "vidserve-tiny.json"
# Bump when the tiny architectures change, so stale folders are rebuilt. 2: LTX has two blocks
# (step caching needs a first block and at least one more). 3: LTX's VAE compresses 32x, as the real one,
# and Wan's rotary table spans real sizes (rope_max_seq_len 1024, as published).
# 4: tiny-ltx-2 has a latent_upsampler/ (quality final). 5: SkyReels-V2 DF joins.
TINY_VERSION = 5


def _builders() -> dict[str, Callable[[], Any]]:
    """Every family's tiny builders (each family package owns its own: ``tiny_builders``)."""
    return {model_id: build for adapter in ADAPTERS for model_id, build in adapter.tiny_builders().items()}


def tiny_ids() -> list[str]:
    """Every tiny model: the built ones, then those made from them (bundled LoRAs, schedules).
    Read from the catalog, without importing the builders (diffusers, torch): `vidserve weights
    make-tiny <not a tiny id>` answers in a second. Each built one has a family builder (tested)."""
    tiny = default_catalog().tiny()
    return [e.id for e in tiny if not e.base_model] + [e.id for e in tiny if e.base_model]


def build_tiny_pipeline(model_id: str) -> Any:
    builders = _builders()
    if model_id not in builders:
        raise KeyError(f"no tiny builder for {model_id!r}; tiny models: {', '.join(builders)}")
    return builders[model_id]()


def is_current_tiny(folder: Path) -> bool:
    marker = folder / TINY_MARKER
    if not marker.is_file():
        return False
    try:
        return bool(json.loads(marker.read_text()).get("version") == TINY_VERSION)
    except (OSError, ValueError):
        return False


def make_tiny(model_id: str, weights_dir: Path, force: bool = False) -> Path:
    """Build and save one tiny model under ``weights_dir/model_id``; returns the folder.

    Written to a temporary sibling then renamed, so a crash never leaves a half-written model.
    """
    entry: ModelEntry | None = default_catalog().get(model_id)
    if entry is None or not entry.tiny:
        raise KeyError(f"{model_id!r} is not a tiny catalog model; tiny models: {', '.join(tiny_ids())}")
    if entry.base_model:
        return _make_tiny_derived(entry, weights_dir, force)
    target = weights_dir / model_id
    if target.exists() and is_current_tiny(target) and not force:
        return target
    weights_dir.mkdir(parents=True, exist_ok=True)
    import transformers

    transformers.utils.logging.disable_progress_bar()  # "Writing model shards" bars for 300 KB files
    pipe = build_tiny_pipeline(model_id)
    extras = {name: build() for adapter in ADAPTERS
              for name, build in adapter.tiny_components().get(model_id, {}).items()}
    with _replacing(target) as tmp:
        pipe.save_pretrained(tmp, safe_serialization=True)
        for name, module in extras.items():  # components beside the pipeline (LTX-2's latent upsampler)
            module.save_pretrained(tmp / name, safe_serialization=True)
        (tmp / TINY_MARKER).write_text(json.dumps({"model": model_id, "version": TINY_VERSION, "random": True}))
    log.info("built tiny model %s at %s", model_id, target)
    return target


@contextlib.contextmanager
def _replacing(target: Path) -> Iterator[Path]:
    """A fresh folder beside ``target`` to write into; it replaces ``target`` only when the block
    succeeds, so a half-built model is never found there."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        yield tmp
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _make_tiny_derived(entry: ModelEntry, weights_dir: Path, force: bool) -> Path:
    """A tiny model made of another tiny model's weights: builds the base if needed, then writes the
    bundled LoRA files (random, seeded, made on the base's own components) to ``weights_dir/<id>``."""
    from pipelines.tiny_lora import make_tiny_lora

    assert entry.base_model is not None
    base = make_tiny(entry.base_model, weights_dir)
    target = weights_dir / entry.id
    if target.exists() and is_current_tiny(target) and not force:
        return target
    with _replacing(target) as tmp:
        for i, lora in enumerate(entry.bundled_loras):
            make_tiny_lora(base, tmp / lora.file, component=lora.target, seed=100 + i)
        (tmp / TINY_MARKER).write_text(json.dumps({"model": entry.id, "version": TINY_VERSION, "random": True,
                                                   "base_model": entry.base_model}))
    log.info("built tiny model %s at %s (weights of %s)", entry.id, target, entry.base_model)
    return target
