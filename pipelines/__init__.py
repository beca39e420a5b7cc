"""vidserve's model layer as a library: ``VideoGenerator(...).generate(spec, on_step=, should_stop=)``.

Importing this package does not import torch; the torch-heavy parts load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pipelines.catalog import Catalog, Mode, ModelEntry, default_catalog
from pipelines.errors import GenerationCancelled, InvalidSpec, ModelUnavailable, OutOfMemory, VidserveError
from pipelines.spec import GenerationSpec, ResolvedSpec, resolve

if TYPE_CHECKING:
    from pipelines.generate import VideoGenerator, VideoResult, generate

__all__ = [
    "Catalog", "GenerationCancelled", "GenerationSpec", "InvalidSpec", "Mode", "ModelEntry", "ModelUnavailable",
    "OutOfMemory", "ResolvedSpec", "VideoGenerator", "VideoResult", "VidserveError", "default_catalog",
    "generate", "resolve",
]


def __getattr__(name: str) -> Any:
    if name in ("VideoGenerator", "VideoResult", "generate"):
        from pipelines import generate as _g

        return getattr(_g, name)
    raise AttributeError(name)
