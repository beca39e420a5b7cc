"""vidserve's model layer as a library: ``VideoGenerator(...).generate(spec, on_step=, should_stop=)``.

Layers, each importing only those below it:
- ``pipelines.core``: torch-free catalog types, specs, validation, images, LoRA checks, memory planner;
- ``pipelines.families``: one package per model family (its catalog entries, pipeline calls, tiny
  models) and the registry that makes the default catalog;
- the generic machinery (``generate``, ``loader``, ``speed``, ``outputs``, ...), which asks a
  family's adapter whenever something differs between families.

Importing this package does not import torch; the torch-heavy parts load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pipelines.core.catalog import Catalog, Mode, ModelEntry
from pipelines.core.errors import GenerationCancelled, InvalidSpec, ModelUnavailable, OutOfMemory, VidserveError
from pipelines.core.spec import GenerationSpec, ResolvedSpec
from pipelines.core.spec import resolve as _resolve
from pipelines.families import default_catalog

if TYPE_CHECKING:
    from pipelines.generate import VideoGenerator, generate
    from pipelines.result import VideoResult

__all__ = [
    "Catalog", "GenerationCancelled", "GenerationSpec", "InvalidSpec", "Mode", "ModelEntry", "ModelUnavailable",
    "OutOfMemory", "ResolvedSpec", "VideoGenerator", "VideoResult", "VidserveError", "default_catalog",
    "generate", "resolve",
]


def resolve(spec: GenerationSpec, catalog: Catalog | None = None) -> ResolvedSpec:
    """``pipelines.core.spec.resolve`` against ``catalog``, the default catalog when none is given."""
    return _resolve(spec, catalog or default_catalog())


def __getattr__(name: str) -> Any:
    if name in ("VideoGenerator", "generate"):
        import importlib

        # import_module, not ``from pipelines import generate``: that asks this very __getattr__ again
        # before the submodule exists (endless recursion).
        return getattr(importlib.import_module("pipelines.generate"), name)
    if name == "VideoResult":
        from pipelines.result import VideoResult

        return VideoResult
    raise AttributeError(name)
