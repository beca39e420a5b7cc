"""Real architectures at their published sizes with random weights, built directly on the device.

Throughput and memory do not depend on weight values, so these measure speed and VRAM where the
real weights are not on disk. Results made with them are labelled ``"weights": "synthetic"``. Each
family package holds its published configs (``FamilyAdapter.synthetic_pipeline``).
"""

from __future__ import annotations

from typing import Any

import torch

from pipelines.families import ADAPTERS, adapter_for, default_catalog


def synthetic_ids() -> list[str]:
    """The models whose transformer builds at its published size."""
    return [model_id for adapter in ADAPTERS for model_id in adapter.synthetic_ids()]


def synthetic_pipeline_ids() -> list[str]:
    """The models whose whole pipeline builds at its published size (what ``--synthetic`` runs)."""
    return [model_id for adapter in ADAPTERS for model_id in adapter.synthetic_pipeline_ids()]


def build_transformer(model_id: str) -> Any:
    """The transformer alone at its published size (random weights, current default device and dtype)."""
    return adapter_for(_entry(model_id)).synthetic_transformer(model_id)


def build_pipeline(model_id: str, device: str | torch.device, dtype: torch.dtype) -> Any:
    """A whole pipeline at published size with random weights, allocated on ``device`` in ``dtype``."""
    if model_id not in synthetic_pipeline_ids():
        raise KeyError(f"no synthetic pipeline for {model_id!r}; available: {', '.join(synthetic_pipeline_ids())}")
    entry = _entry(model_id)
    previous = torch.get_default_dtype()
    torch.manual_seed(0)
    try:
        # Construct in the target dtype on the device: a 14B model never exists in fp32 on the host.
        torch.set_default_dtype(dtype)
        with torch.device(device):
            return adapter_for(entry).synthetic_pipeline(entry)
    finally:
        torch.set_default_dtype(previous)


def _entry(model_id: str) -> Any:
    entry = default_catalog().get(model_id)
    if entry is None:
        raise KeyError(f"no synthetic config for {model_id!r}; available: {', '.join(synthetic_ids())}")
    return entry
