"""The flow shift on a loaded pipeline's scheduler: set before every call to the value the request
resolved (the catalog's for its size class, or its own override), so a value one job set never leaks
into the next, and the weights' own ``scheduler_config.json`` value never silently wins."""

from __future__ import annotations

from typing import Any

from pipelines.core.catalog import ModelEntry
from pipelines.core.spec import ResolvedSpec


def shift_key(scheduler: Any) -> str | None:
    """``flow_shift`` on UniPC/DPM (Wan's published scheduler), ``shift`` on FlowMatchEuler."""
    config = scheduler.config
    return "flow_shift" if "flow_shift" in config else "shift" if "shift" in config else None


def set_flow_shift(pipe: Any, shift: float) -> dict[str, Any]:
    """Give ``pipe`` a scheduler with ``shift`` (rebuilt from its config only when the value differs;
    building one is cheap and holds no weights). Returns what is set, for the record."""
    scheduler = pipe.scheduler
    key = shift_key(scheduler)
    if key is None:
        raise ValueError(f"{type(scheduler).__name__} has no flow shift to set")
    if scheduler.config.get("use_dynamic_shifting"):
        # A resolution-dependent shift would silently override the fixed one asked for.
        raise ValueError(f"{type(scheduler).__name__} uses dynamic shifting; a fixed shift of {shift} would be ignored")
    if float(scheduler.config[key]) != float(shift):
        pipe.scheduler = type(scheduler).from_config(scheduler.config, **{key: shift})
    return {"class": type(pipe.scheduler).__name__, key: float(pipe.scheduler.config[key])}


def apply_flow_shift(pipe: Any, entry: ModelEntry, spec: ResolvedSpec) -> dict[str, Any]:
    """Set the request's flow shift on ``pipe`` before its call; returns the sidecar record."""
    shift = spec.flow_shift if spec.flow_shift is not None else entry.flow_shift_for(spec.width, spec.height)
    if shift is None:  # LTX-Video: the scheduler's own (resolution-dependent) shift
        config = pipe.scheduler.config
        return {"class": type(pipe.scheduler).__name__, "flow_shift": "scheduler's own",
                "use_dynamic_shifting": bool(config.get("use_dynamic_shifting", False))}
    return set_flow_shift(pipe, shift)
