"""Step-distilled models on a loaded pipeline: the scheduler shift and the bundled LoRAs are applied
once at load time (before memory strategies and compile), and the timestep schedule each call runs is
recorded for the sidecar.

Bundled LoRAs are fused into the base weights and their adapter layers removed, so the loaded model
*is* the distilled model: per-request LoRAs (``pipelines.loras.apply_loras``) load on top of it and
unloading them gives back the distilled model, never the undistilled base.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from pipelines.catalog import ModelEntry
from pipelines.errors import ModelUnavailable

log = logging.getLogger(__name__)


def set_scheduler_shift(pipe: Any, shift: float) -> dict[str, Any]:
    """Rebuild the pipeline's scheduler with ``shift``: ``flow_shift`` on UniPC/DPM (Wan's published
    scheduler), ``shift`` on FlowMatchEuler. Returns what was set, for the load record."""
    scheduler = pipe.scheduler
    config = dict(scheduler.config)
    key = "flow_shift" if "flow_shift" in config else "shift" if "shift" in config else None
    if key is None:
        raise ValueError(f"{type(scheduler).__name__} has no flow shift to set")
    if config.get("use_dynamic_shifting"):
        # A resolution-dependent shift would silently override the fixed one the distillation needs.
        raise ValueError(f"{type(scheduler).__name__} uses dynamic shifting; a fixed shift of {shift} would be ignored")
    before = config[key]
    pipe.scheduler = type(scheduler).from_config(scheduler.config, **{key: shift})
    return {"class": type(scheduler).__name__, key: shift, f"{key}_published": before}


def fuse_bundled_loras(pipe: Any, entry: ModelEntry, loras: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Load each bundled LoRA as a named adapter, fuse it into its component at its strength, then
    drop the adapter layers. ``loras`` is ``WeightsLocation.extra["bundled_loras"]``. Returns the
    record (file, repo, target, strength, bytes, sha256) for the sidecar."""
    from pipelines.outputs import file_sha256

    record: list[dict[str, Any]] = []
    for i, lora in enumerate(loras):
        path = Path(lora["path"])
        name = f"vidserve_bundled_{i}"
        kwargs: dict[str, Any] = {"adapter_name": name}
        if lora["target"] == "transformer_2":
            kwargs["load_into_transformer_2"] = True
        try:
            pipe.load_lora_weights(str(path), **kwargs)
            pipe.fuse_lora(components=[lora["target"]], lora_scale=float(lora["strength"]), adapter_names=[name])
        except (KeyError, ValueError, RuntimeError, OSError) as exc:
            raise ModelUnavailable(
                entry.id, f"bundled LoRA {lora['file']} could not be fused into {lora['target']}: "
                f"{type(exc).__name__}: {exc}", path,
            ) from exc
        record.append({k: lora[k] for k in ("file", "repo", "revision", "target", "strength")}
                      | {"bytes": path.stat().st_size, "sha256": file_sha256(path)})
        log.info("bundled LoRA %s fused into %s of %s at strength %s", lora["file"], lora["target"], entry.id,
                 lora["strength"])
    if loras:
        # The fused deltas stay in the base weights; only the (now redundant) adapter layers go.
        pipe.unload_lora_weights()
    return record


def schedule_record(entry: ModelEntry, steps: int, pipe: Any) -> dict[str, Any]:
    """What schedule a finished call ran: the scheduler's own timesteps, and whether they are the
    entry's published ones (a request with another step count runs the pipeline's default schedule)."""
    ran = [round(float(t), 4) for t in getattr(pipe.scheduler, "timesteps", [])]
    published = entry.defaults.timesteps
    out: dict[str, Any] = {"steps": steps, "timesteps": ran}
    if published is not None:
        used = entry.schedule_for(steps) is not None
        out["source"] = "published" if used else "pipeline default"
        if not used:
            out["note"] = (f"steps={steps} differs from the {len(published)}-step schedule {entry.id} was distilled "
                           f"on {list(published)}; ran the pipeline's default schedule for {steps} steps")
    return out

