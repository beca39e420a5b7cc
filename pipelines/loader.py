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

from pipelines.core.catalog import Mode, ModelEntry
from pipelines.core.errors import ModelUnavailable
from pipelines.core.memory import MemoryStrategy
from pipelines.families import adapter_for
from pipelines.parallel import ContextParallel
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


@dataclass(frozen=True)
class LoadOptions:
    """How models are set up at load time (the server's settings, the same for every request)."""

    attention: str | None = None  # None or "auto": the best backend that passes its self-check
    compile: bool = False         # regional torch.compile of the repeated transformer blocks
    # Split each job's sequence across a torch.distributed group (pipelines.parallel); None = one device.
    context_parallel: ContextParallel | None = None
    # How fp8 weight storage is done when the memory plan asks for it (pipelines.speed.store_fp8).
    fp8: str = "auto"


@dataclass
class LoadedModel:
    entry: ModelEntry
    location: WeightsLocation
    pipelines: dict[str, Any]  # pipeline class name -> pipeline sharing the same components
    load_seconds: float
    strategy: MemoryStrategy = MemoryStrategy.NONE
    record: dict[str, Any] | None = None  # what was applied: strategy, attention backend, compile


def load_pipeline(entry: ModelEntry, location: WeightsLocation, mode: Mode, device: torch.device,
                  dtype: torch.dtype, strategy: MemoryStrategy = MemoryStrategy.NONE,
                  options: LoadOptions | None = None) -> tuple[Any, dict[str, Any]]:
    """Load on the CPU, then place on ``device`` by the memory strategy; returns (pipe, record)."""
    options = options or LoadOptions()
    cls = getattr(diffusers, entry.pipelines[mode])
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    # Loading bars from diffusers/transformers would interleave with our own progress output.
    diffusers.utils.logging.disable_progress_bar()
    transformers.utils.logging.disable_progress_bar()
    if location.extra.get("bundled_loras"):  # before the weights load: a LoRA that cannot map fails in seconds
        from pipelines.distill import check_bundled_loras

        check_bundled_loras(entry, location)
    try:
        pipe = cls.from_pretrained(
            str(location.path), dtype=adapter_for(entry).load_dtype(dtype), local_files_only=True
        )
    except (OSError, ValueError) as exc:
        raise ModelUnavailable(entry.id, f"could not load weights at {location.path}: {exc}", location.path) from exc
    return pipe, setup_pipeline(pipe, entry, device, dtype, strategy, options, location)


def setup_pipeline(pipe: Any, entry: ModelEntry, device: torch.device, dtype: torch.dtype,
                   strategy: MemoryStrategy, options: LoadOptions, location: WeightsLocation) -> dict[str, Any]:
    """Everything vidserve does to a pipeline after reading it: a distilled model's scheduler shift
    and fused LoRAs, memory strategy and placement, attention backend, context parallelism, regional
    compile. Returns what was applied."""
    from pipelines.speed import apply_attention_backend, apply_memory_strategy, compile_blocks

    pipe.set_progress_bar_config(disable=True)
    # The distilled model is set up first (a loaded pipeline is still on the CPU in the load dtype):
    # the memory strategy (fp8 storage, offload), context parallelism and compile then apply to the
    # weights with the LoRAs fused in.
    distill: dict[str, Any] = {}
    d = entry.defaults
    if d.flow_shift is not None:  # the default-size value; every call sets its own (pipelines.flow_shift)
        from pipelines.flow_shift import set_flow_shift

        set_flow_shift(pipe, d.flow_shift)
    if location.extra.get("bundled_loras"):
        from pipelines.distill import fuse_bundled_loras

        distill["bundled_loras"] = fuse_bundled_loras(pipe, entry, location.extra["bundled_loras"])
    applied, fp8 = apply_memory_strategy(pipe, strategy, device, dtype, options.fp8)
    record: dict[str, Any] = {"memory_strategy": applied, "fp8_weights": fp8} | distill
    cp = options.context_parallel
    try:
        record["attention_backend"] = apply_attention_backend(pipe, device, dtype, options.attention, cp)
        if cp is not None:
            from pipelines.parallel import enable

            record["context_parallel"] = enable(pipe, cp, record["attention_backend"], adapter_for(entry))
    except ValueError as exc:  # e.g. ring attention asked for where no kernel can run it
        raise ModelUnavailable(entry.id, f"cannot set up {entry.id} on {device}: {exc}", location.path) from exc
    record["compiled"] = compile_blocks(pipe) if options.compile else False
    return record


class PipelineCache:
    """Loaded models, least recently used evicted first. One pipeline call at a time per cache:
    diffusers pipelines keep per-call state on ``self``."""

    def __init__(self, device: torch.device, dtype: torch.dtype, max_models: int = 1,
                 options: LoadOptions | None = None) -> None:
        self.device = device
        self.dtype = dtype
        self.max_models = max(1, max_models)
        self.options = options or LoadOptions()
        self._models: OrderedDict[str, LoadedModel] = OrderedDict()

    def loaded_ids(self) -> list[str]:
        return list(self._models)

    def is_resident(self, model_id: str, location: WeightsLocation,
                    strategy: MemoryStrategy = MemoryStrategy.NONE) -> bool:
        held = self._models.get(model_id)
        order = list(MemoryStrategy)
        return (held is not None and held.location.path == location.path
                and order.index(held.strategy) >= order.index(strategy))

    def location_of(self, model_id: str) -> WeightsLocation | None:
        held = self._models.get(model_id)
        return held.location if held else None

    def record(self, model_id: str) -> dict[str, Any]:
        held = self._models.get(model_id)
        return dict(held.record or {}) if held else {}

    def get(self, entry: ModelEntry, location: WeightsLocation, mode: Mode,
            strategy: MemoryStrategy = MemoryStrategy.NONE) -> tuple[Any, float]:
        """The pipeline for ``mode`` and the seconds spent loading (0 when it was resident).
        A resident model set up with a less frugal memory strategy than asked is reloaded."""
        cls_name = entry.pipelines[mode]
        held = self._models.get(entry.id)
        order = list(MemoryStrategy)
        if held is not None and (held.location.path != location.path
                                 or order.index(held.strategy) < order.index(strategy)):
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
        pipe, record = load_pipeline(entry, location, mode, self.device, self.dtype, strategy, self.options)
        seconds = time.perf_counter() - t0
        self._models[entry.id] = LoadedModel(entry, location, {cls_name: pipe}, seconds, strategy, record)
        log.info("loaded %s from %s in %.2fs on %s (%s)", entry.id, location.path, seconds, self.device, record)
        return pipe, seconds

    def adopt(self, entry: ModelEntry, location: WeightsLocation, mode: Mode, pipe: Any,
              strategy: MemoryStrategy = MemoryStrategy.NONE) -> None:
        """Hold a pipeline built elsewhere (e.g. synthetic benchmark weights) as if loaded, set up
        exactly as a loaded one (memory strategy, attention backend, compile)."""
        while len(self._models) >= self.max_models:
            self.evict(next(iter(self._models)))
        record = setup_pipeline(pipe, entry, self.device, self.dtype, strategy, self.options, location)
        self._models[entry.id] = LoadedModel(entry, location, {entry.pipelines[mode]: pipe}, 0.0, strategy, record)

    def evict(self, model_id: str) -> None:
        held = self._models.pop(model_id, None)
        if held is None:
            return
        held.pipelines.clear()
        gc.collect()
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
        log.info("evicted %s", model_id)
