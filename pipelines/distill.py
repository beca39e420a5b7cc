"""Step-distilled models on a loaded pipeline: the bundled LoRAs are checked (before the weights load)
and fused once at load time (before memory strategies and compile), and the timestep schedule each call
runs is recorded for the sidecar. The flow shift they were trained at is catalog data like any other
entry's (``pipelines.flow_shift``).

Bundled LoRAs are fused into the base weights and their adapter layers removed, so the loaded model
*is* the distilled model: per-request LoRAs (``pipelines.core.loras.apply_loras``) load on top of it and
unloading them gives back the distilled model, never the undistilled base.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.core.catalog import ModelEntry
from pipelines.core.errors import ModelUnavailable
from pipelines.weights import WeightsLocation

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoraKeyReport:
    """How a LoRA file's tensors map onto a model component, as diffusers would load them."""

    keys: int                              # tensors in the file
    mapped: dict[str, str]                 # converted (diffusers) key -> the file's key
    dropped: tuple[str, ...]               # the file's keys diffusers' converter maps to nothing
    no_module: tuple[str, ...]             # the file's keys whose converted module the component lacks
    bad_shape: tuple[str, ...]             # the file's keys whose shape does not fit the module's weight

    @property
    def unmapped(self) -> tuple[str, ...]:
        return self.dropped + self.no_module + self.bad_shape


_PROBE_BASE = 2.0  # probe values start here: 1.0 and 0.0 are what converters synthesise (identity, zeros)


def map_lora_keys(pipeline_class: str, header: dict[str, list[int]], params: dict[str, list[int]],
                  component: str = "transformer") -> LoraKeyReport:
    """Run diffusers' own LoRA key converter (``<pipeline>.lora_state_dict``: the Wan loader converts the
    original ``diffusion_model.*`` and musubi ``lora_unet_*`` formats) over *probe* tensors, one 1x1 tensor
    per key whose value is the key's index (alphas 1.0, so the converter's alpha/rank rescale is 1), then
    read back which file key each converted key came from and check it against the component's parameters
    (``params``: name -> shape, from the weights' safetensors headers). Costs milliseconds and no weights."""
    import diffusers
    import torch

    keys = list(header)
    probe = {k: torch.tensor(1.0) if k.endswith(".alpha") else torch.full((1, 1), _PROBE_BASE + i)
             for i, k in enumerate(keys)}
    converted = getattr(diffusers, pipeline_class).lora_state_dict(probe)
    mapped: dict[str, str] = {}
    for new_key, tensor in converted.items():
        value = float(tensor.flatten()[0]) if tensor.numel() else -1.0
        index = int(value - _PROBE_BASE)
        if value >= _PROBE_BASE and value == _PROBE_BASE + index and index < len(keys):
            mapped[new_key] = keys[index]
    used = set(mapped.values())
    # An alpha is consumed into its module's down/up weights: mapped when they are.
    dropped = tuple(k for k in keys if k not in used and not (
        k.endswith(".alpha") and any(u.startswith(k.removesuffix("alpha")) for u in used)))
    prefix = f"{component}."
    no_module: list[str] = []
    bad_shape: list[str] = []
    for new_key, old_key in mapped.items():
        module, _, kind = new_key.removeprefix(prefix).rpartition(".lora_")
        weight = params.get(f"{module}.weight")
        if not new_key.startswith(prefix) or weight is None:
            no_module.append(old_key)
            continue
        if not _fits(kind, header[old_key], weight):
            bad_shape.append(old_key)
    return LoraKeyReport(len(keys), mapped, dropped, tuple(no_module), tuple(bad_shape))


def _fits(kind: str, shape: list[int], weight: list[int]) -> bool:
    """lora_A is (rank, in_features), lora_B (out_features, rank), its bias (out_features,)."""
    if kind == "A.weight":
        return len(shape) == 2 and len(weight) >= 2 and shape[1] == weight[1]
    if kind in ("B.weight", "B.bias"):
        return bool(shape) and shape[0] == weight[0]
    return True


def check_bundled_loras(entry: ModelEntry, location: WeightsLocation) -> list[LoraKeyReport]:
    """Before the base weights load: every bundled LoRA must map, key for key, onto its component as
    diffusers 0.42 loads it. Raises ModelUnavailable naming the keys that do not (PEFT would only warn
    and load the rest, giving an undistilled model at distilled settings)."""
    from pipelines.core.loras import model_params, read_header

    reports = []
    pipeline_class = next(iter(entry.pipelines.values()))
    for lora in location.extra.get("bundled_loras", []):
        path = Path(lora["path"])
        try:
            header = read_header(path)
        except ValueError as exc:
            raise ModelUnavailable(entry.id, f"bundled LoRA {lora['file']}: {exc}", path) from exc
        params = model_params(location.path, lora["target"])
        if params is None:
            raise ModelUnavailable(entry.id, f"bundled LoRA {lora['file']}: no safetensors weights for "
                                   f"{lora['target']} at {location.path} to check it against", location.path)
        try:
            report = map_lora_keys(pipeline_class, header, params, "transformer")
        except (KeyError, ValueError, IndexError) as exc:  # the converter itself refuses the file
            raise ModelUnavailable(entry.id, f"bundled LoRA {lora['file']}: diffusers' {pipeline_class} LoRA "
                                   f"converter refuses it ({type(exc).__name__}: {exc})", path) from exc
        bad = report.unmapped
        if bad:
            log.error("%s: bundled LoRA %s keys that do not map onto %s: %s", entry.id, lora["file"],
                      lora["target"], ", ".join(bad))
            shown = ", ".join(bad[:_SHOWN]) + (f" and {len(bad) - _SHOWN} more" if len(bad) > _SHOWN else "")
            raise ModelUnavailable(
                entry.id, f"bundled LoRA {lora['file']}: {len(bad)} of {report.keys} keys do not map onto "
                f"{lora['target']} as diffusers loads it ({len(report.dropped)} dropped by its converter, "
                f"{len(report.no_module)} name no module of the model, {len(report.bad_shape)} have the wrong "
                f"shape): {shown}", path)
        reports.append(report)
    return reports


_SHOWN = 20


def fuse_bundled_loras(pipe: Any, entry: ModelEntry, loras: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Load each bundled LoRA as a named adapter, fuse it into its component at its strength, then
    drop the adapter layers. ``loras`` is ``WeightsLocation.extra["bundled_loras"]``. Returns the
    record (file, repo, target, strength, bytes, sha256) for the sidecar."""
    from pipelines.core.hashing import file_sha256

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

