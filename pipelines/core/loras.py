"""LoRA adapters: a local folder of ``.safetensors`` files, checked against a model without loading it,
and switched on a loaded pipeline between jobs through diffusers' PEFT integration.

The check reads only safetensors headers (names and shapes): every LoRA module must be a module of
the model's transformer with matching in/out features. Torch-free at import; ``apply_loras`` runs in
the worker on a loaded pipeline.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import struct
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from pipelines.core.catalog import ModelEntry
from pipelines.core.errors import InvalidSpec
from pipelines.core.validation import NoBoolNumbers

log = logging.getLogger(__name__)

MAX_LORAS = 4
MAX_HEADER_BYTES = 64 * 1024 * 1024
# Wan 2.2 A14B: ``transformer`` is the high-noise expert, ``transformer_2`` the low-noise one.
Expert = Literal["high_noise", "low_noise", "both"]
_TARGETS: dict[str, tuple[str, ...]] = {
    "high_noise": ("transformer",), "low_noise": ("transformer_2",), "both": ("transformer", "transformer_2"),
}
_A, _B = ".lora_A.weight", ".lora_B.weight"


class LoraRequest(NoBoolNumbers):
    """What a request names: a file in the LoRA folder (stem or file name) and its strength."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    strength: float = Field(default=1.0, ge=-4.0, le=4.0)
    # Two-expert models only; default "both".
    expert: Expert | None = None


class LoraRef(BaseModel):
    """A resolved LoRA: what runs and what the sidecar records."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    path: Path
    sha256: str
    bytes: int
    strength: float
    targets: tuple[str, ...] = ("transformer",)

    def adapter_name(self, target: str) -> str:
        # Content-addressed: the same file is the same adapter whatever it is called.
        return f"lora_{self.sha256[:16]}_{target}"


# --- torch-free checks -------------------------------------------------------------------------------------


def read_header(path: Path) -> dict[str, list[int]]:
    """Tensor name -> shape from a safetensors file header, without reading tensor data."""
    try:
        with path.open("rb") as f:
            raw = f.read(8)
            if len(raw) != 8:
                raise ValueError("file shorter than a safetensors header")
            (size,) = struct.unpack("<Q", raw)
            if size > MAX_HEADER_BYTES:
                raise ValueError(f"header of {size} bytes")
            header = json.loads(f.read(size))
    except (OSError, ValueError) as exc:
        raise ValueError(f"not a readable safetensors file ({exc})") from exc
    if not isinstance(header, dict):
        raise ValueError("safetensors header is not an object")
    return {k: list(v.get("shape", [])) for k, v in header.items() if k != "__metadata__" and isinstance(v, dict)}


def lora_modules(header: dict[str, list[int]]) -> dict[str, tuple[list[int], list[int]]]:
    """Module name -> (lora_A shape, lora_B shape) for diffusers/PEFT-format keys
    (``transformer.<module>.lora_A.weight``); raises ValueError for other formats."""
    out: dict[str, tuple[list[int], list[int]]] = {}
    for key, shape in header.items():
        if key.endswith(_A):
            module = key[: -len(_A)].removeprefix("transformer.")
            b = header.get(key[: -len(_A)] + _B)
            if b is None:
                raise ValueError(f"{key} has no matching lora_B")
            out[module] = (shape, b)
    if not out:
        sample = next(iter(header), "(no tensors)")
        raise ValueError(f"no diffusers/PEFT LoRA keys (like 'transformer.<module>.lora_A.weight'); found e.g. "
                         f"{sample!r}. Convert the file to diffusers format first")
    return out


@lru_cache(maxsize=32)
def _params(component_dir: str, stamp: tuple[tuple[str, int], ...]) -> dict[str, list[int]]:
    params: dict[str, list[int]] = {}
    for name, _ in stamp:
        params.update(read_header(Path(component_dir) / name))
    return params


def model_params(weights_path: Path, component: str = "transformer") -> dict[str, list[int]] | None:
    """Parameter name -> shape of a model component, from its safetensors headers (None if absent)."""
    folder = weights_path / component
    if not folder.is_dir():
        return None
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        return None
    stamp = tuple((f.name, f.stat().st_mtime_ns) for f in files)
    return _params(str(folder), stamp)


def misfit(modules: dict[str, tuple[list[int], list[int]]], params: dict[str, list[int]]) -> str | None:
    """Why a LoRA does not fit a component, or None when every module exists with matching features."""
    missing = [m for m in modules if f"{m}.weight" not in params]
    if missing:
        return f"{len(missing)} of {len(modules)} LoRA modules are not in the model (e.g. {missing[0]!r})"
    for m, (a, b) in modules.items():
        w = params[f"{m}.weight"]
        if len(a) < 2 or len(b) < 2 or len(w) < 2 or a[1] != w[1] or b[0] != w[0]:
            return f"module {m!r}: LoRA A{a}/B{b} does not match the model's weight {w}"
    return None


@dataclass(frozen=True)
class LoraFile:
    name: str
    path: Path
    bytes: int
    sha256: str


class LoraLibrary:
    """The LoRA folder. File hashes are cached by (size, mtime), so listing stays cheap."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._hashes: dict[tuple[str, int, int], str] = {}
        self._lock = threading.Lock()

    def files(self) -> list[LoraFile]:
        if not self.folder.is_dir():
            return []
        out = []
        for path in sorted(self.folder.rglob("*.safetensors")):
            if path.is_file():
                name = path.relative_to(self.folder).with_suffix("").as_posix()
                out.append(LoraFile(name, path, path.stat().st_size, self.sha256(path)))
        return out

    def find(self, name: str) -> Path | None:
        stem = name.removesuffix(".safetensors")
        if not stem or ".." in Path(stem).parts or Path(stem).is_absolute():
            return None
        path = self.folder / f"{stem}.safetensors"
        return path if path.is_file() else None

    def sha256(self, path: Path) -> str:
        st = path.stat()
        key = (str(path), st.st_size, st.st_mtime_ns)
        with self._lock:
            if key in self._hashes:
                return self._hashes[key]
        h = hashlib.sha256()
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        digest = h.hexdigest()
        with self._lock:
            self._hashes[key] = digest
        return digest

    def describe(self, lora: LoraFile, models: list[tuple[ModelEntry, Path]]) -> dict[str, Any]:
        """The ``GET /v1/loras`` entry: file facts and which present models its keys fit."""
        info: dict[str, Any] = {"object": "lora", "name": lora.name, "file": lora.path.name, "bytes": lora.bytes,
                                "sha256": lora.sha256}
        try:
            modules = lora_modules(read_header(lora.path))
        except ValueError as exc:
            return info | {"format": "unsupported", "error": str(exc), "models": [], "families": []}
        ranks = sorted({a[0] for a, _ in modules.values() if a})
        fits = []
        for entry, path in models:
            params = model_params(path)
            if params is not None and misfit(modules, params) is None:
                fits.append(entry)
        return info | {"format": "diffusers", "modules": len(modules), "rank": ranks[0] if len(ranks) == 1 else ranks,
                       "models": [e.id for e in fits], "families": sorted({e.family for e in fits})}


def resolve_loras(requests: list[LoraRequest], library: LoraLibrary, entry: ModelEntry,
                  weights_path: Path | None) -> tuple[LoraRef, ...]:
    """Requests -> LoraRefs, each checked against the model's transformer(s). Raises InvalidSpec."""
    if len(requests) > MAX_LORAS:
        raise InvalidSpec("loras", len(requests), f"at most {MAX_LORAS} LoRAs per request")
    experts = entry.architecture.experts
    refs: list[LoraRef] = []
    for i, req in enumerate(requests):
        field = f"loras[{i}]"
        path = library.find(req.name)
        if path is None:
            known = ", ".join(f.name for f in library.files()) or "none"
            raise InvalidSpec(f"{field}.name", req.name, f"no such LoRA in {library.folder} (available: {known})")
        if req.expert not in (None, "high_noise") and experts < 2:
            raise InvalidSpec(f"{field}.expert", req.expert, f"{entry.id} has one expert; omit expert")
        targets = _TARGETS[req.expert or "both"] if experts >= 2 else ("transformer",)
        try:
            modules = lora_modules(read_header(path))
        except ValueError as exc:
            raise InvalidSpec(f"{field}.name", req.name, str(exc)) from exc
        for target in targets:
            params = model_params(weights_path, target) if weights_path is not None else None
            if params is None:
                continue  # weights absent here: the model check at the edge reports that
            reason = misfit(modules, params)
            if reason is not None:
                raise InvalidSpec(f"{field}.name", req.name, f"does not fit {entry.id} ({target}): {reason}")
        if any(r.path == path and set(r.targets) & set(targets) for r in refs):
            raise InvalidSpec(f"{field}.name", req.name, "named twice for the same expert")
        refs.append(LoraRef(name=req.name.removesuffix(".safetensors"), path=path.resolve(),
                            sha256=library.sha256(path), bytes=path.stat().st_size, strength=req.strength,
                            targets=targets))
    return tuple(refs)


def check_refs(refs: tuple[LoraRef, ...], experts: int) -> None:
    """What ``pipelines.core.spec.resolve`` checks again in the worker (files present, values sane)."""
    if len(refs) > MAX_LORAS:
        raise InvalidSpec("loras", len(refs), f"at most {MAX_LORAS} LoRAs per request")
    for i, ref in enumerate(refs):
        if not ref.path.is_file():
            raise InvalidSpec(f"loras[{i}].name", ref.name, f"LoRA file {ref.path} is missing")
        if not math.isfinite(ref.strength):
            raise InvalidSpec(f"loras[{i}].strength", ref.strength, "must be a finite number")
        if "transformer_2" in ref.targets and experts < 2:
            raise InvalidSpec(f"loras[{i}].expert", "low_noise", "the model has one expert")


# --- the worker side: switching adapters on a loaded pipeline ---------------------------------------------


def _present(pipe: Any) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for comp in ("transformer", "transformer_2"):
        model = getattr(pipe, comp, None)
        if model is not None and getattr(model, "peft_config", None):
            out[comp] = set(model.peft_config)
    return out


def apply_loras(pipe: Any, refs: tuple[LoraRef, ...]) -> bool:
    """Make ``refs`` (and only them) the active adapters of ``pipe``'s transformer(s), loading and
    deleting adapters as needed; the base weights are never reloaded. With no refs, every LoRA layer
    is removed (``unload_lora_weights``), which gives back the exact base model. True if anything changed."""
    present = _present(pipe)
    if not refs:
        if present:
            pipe.unload_lora_weights()
            log.info("LoRAs unloaded (base model)")
            return True
        return False
    wanted: dict[str, dict[str, float]] = {}  # component -> adapter -> strength
    for ref in refs:
        for target in ref.targets:
            wanted.setdefault(target, {})[ref.adapter_name(target)] = ref.strength
    changed = False
    for comp, names in present.items():
        stale = names - set(wanted.get(comp, {}))
        if stale:
            getattr(pipe, comp).delete_adapters(sorted(stale))
            changed = True
    for ref in refs:
        for target in ref.targets:
            name = ref.adapter_name(target)
            if name in present.get(target, set()):
                continue
            kwargs: dict[str, Any] = {"adapter_name": name}
            if target == "transformer_2":
                kwargs["load_into_transformer_2"] = True
            pipe.load_lora_weights(str(ref.path), **kwargs)
            log.info("LoRA %s (%s) loaded into %s", ref.name, ref.sha256[:12], target)
            changed = True
    for comp in ("transformer", "transformer_2"):
        model = getattr(pipe, comp, None)
        if model is None or not getattr(model, "peft_config", None):
            continue
        strengths = wanted.get(comp, {})
        if strengths:  # a component whose adapters were all stale has none left: it runs as base
            model.set_adapters(list(strengths), list(strengths.values()))
    return changed
