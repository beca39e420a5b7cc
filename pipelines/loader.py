"""Loading diffusers pipelines from local folders, and keeping them loaded between calls.

Always ``local_files_only=True``: serving never touches a model hub.
"""

from __future__ import annotations

import gc
import logging
import os
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import diffusers
import torch
import transformers

from pipelines.catalog import Family, Mode, ModelEntry
from pipelines.errors import ModelUnavailable
from pipelines.weights import WeightsLocation

log = logging.getLogger(__name__)

_DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}


def pick_device(device: str | None = None) -> torch.device:
    if device:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def pick_dtype(device: torch.device, dtype: str | None = None) -> torch.dtype:
    if dtype:
        if dtype not in _DTYPES:
            raise ValueError(f"dtype={dtype!r}: expected one of {', '.join(_DTYPES)}")
        return _DTYPES[dtype]
    # bf16 is the published inference dtype for Wan and LTX; CPUs run float32 (bf16 is slow there).
    return torch.bfloat16 if device.type == "cuda" else torch.float32


def _torch_dtype_for(entry: ModelEntry, dtype: torch.dtype) -> Any:
    # Wan's VAE is published to run in float32; a bf16 VAE visibly bands the decoded video.
    if entry.family in (Family.WAN21, Family.WAN22) and dtype != torch.float32:
        return {"default": dtype, "vae": torch.float32, "image_encoder": torch.float32}
    return dtype


@dataclass
class LoadedModel:
    entry: ModelEntry
    location: WeightsLocation
    pipelines: dict[str, Any]  # pipeline class name -> pipeline sharing the same components
    load_seconds: float


def load_pipeline(entry: ModelEntry, location: WeightsLocation, mode: Mode, device: torch.device,
                  dtype: torch.dtype) -> Any:
    cls = getattr(diffusers, entry.pipelines[mode])
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    # Loading bars from diffusers/transformers would interleave with our own progress output.
    diffusers.utils.logging.disable_progress_bar()
    transformers.utils.logging.disable_progress_bar()
    try:
        pipe = cls.from_pretrained(
            str(location.path), dtype=_torch_dtype_for(entry, dtype), local_files_only=True
        )
    except (OSError, ValueError) as exc:
        raise ModelUnavailable(entry.id, f"could not load weights at {location.path}: {exc}", location.path) from exc
    pipe.to(device)
    pipe.set_progress_bar_config(disable=True)
    return pipe


class PipelineCache:
    """Loaded models, least recently used evicted first. One pipeline call at a time per cache:
    diffusers pipelines keep per-call state on ``self``."""

    def __init__(self, device: torch.device, dtype: torch.dtype, max_models: int = 1) -> None:
        self.device = device
        self.dtype = dtype
        self.max_models = max(1, max_models)
        self._models: OrderedDict[str, LoadedModel] = OrderedDict()

    def loaded_ids(self) -> list[str]:
        return list(self._models)

    def is_resident(self, model_id: str, location: WeightsLocation) -> bool:
        held = self._models.get(model_id)
        return held is not None and held.location.path == location.path

    def get(self, entry: ModelEntry, location: WeightsLocation, mode: Mode) -> tuple[Any, float]:
        """The pipeline for ``mode`` and the seconds spent loading (0 when it was resident)."""
        cls_name = entry.pipelines[mode]
        held = self._models.get(entry.id)
        if held is not None and held.location.path != location.path:
            self.evict(entry.id)
            held = None
        if held is not None:
            self._models.move_to_end(entry.id)
            if cls_name not in held.pipelines:
                # Another mode of a resident model: same components, new pipeline object, no reload.
                base = next(iter(held.pipelines.values()))
                pipe = getattr(diffusers, cls_name).from_pipe(base)
                pipe.set_progress_bar_config(disable=True)
                held.pipelines[cls_name] = pipe
            return held.pipelines[cls_name], 0.0
        while len(self._models) >= self.max_models:
            self.evict(next(iter(self._models)))
        t0 = time.perf_counter()
        pipe = load_pipeline(entry, location, mode, self.device, self.dtype)
        seconds = time.perf_counter() - t0
        self._models[entry.id] = LoadedModel(entry, location, {cls_name: pipe}, seconds)
        log.info("loaded %s from %s in %.2fs on %s", entry.id, location.path, seconds, self.device)
        return pipe, seconds

    def adopt(self, entry: ModelEntry, location: WeightsLocation, mode: Mode, pipe: Any) -> None:
        """Hold a pipeline built elsewhere (e.g. synthetic benchmark weights) as if loaded."""
        while len(self._models) >= self.max_models:
            self.evict(next(iter(self._models)))
        self._models[entry.id] = LoadedModel(entry, location, {entry.pipelines[mode]: pipe}, 0.0)

    def evict(self, model_id: str) -> None:
        held = self._models.pop(model_id, None)
        if held is None:
            return
        held.pipelines.clear()
        gc.collect()
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
        log.info("evicted %s", model_id)
