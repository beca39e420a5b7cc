"""Reading post-model weight files (.pth/.pkl/.pt via torch, .safetensors) and loading them strictly."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

# Published files wrap the weights: BasicSR saves {"params_ema": ...} or {"params": ...},
# RIFE's training saved a DataParallel model so every key starts with "module.".
_WRAPPERS = ("params_ema", "params", "state_dict", "model")


def load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    path = Path(path)
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    # weights_only: a weights file must never run code when opened
    obj = torch.load(str(path), map_location="cpu", weights_only=True)
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: expected a state dict, found {type(obj).__name__}")
    return obj


def clean_state_dict(obj: dict) -> dict[str, torch.Tensor]:
    for key in _WRAPPERS:
        if key in obj and isinstance(obj[key], dict):
            obj = obj[key]
            break
    return {(k[len("module.") :] if k.startswith("module.") else k): v for k, v in obj.items() if torch.is_tensor(v)}


def strict_load(model: nn.Module, sd: dict[str, torch.Tensor], path: Path) -> None:
    """Refuse a file with missing, unexpected or misshaped keys, naming them: a silently half-loaded
    model produces garbage frames that look like a quality problem, not a loading problem."""
    own = model.state_dict()
    missing = sorted(set(own) - set(sd))
    unexpected = sorted(set(sd) - set(own))
    shapes = [
        f"{k} {tuple(sd[k].shape)} != {tuple(v.shape)}" for k, v in own.items() if k in sd and sd[k].shape != v.shape
    ]
    problems = []
    if missing:
        problems.append(f"missing keys {missing[:5]}{' …' if len(missing) > 5 else ''}")
    if unexpected:
        problems.append(f"unexpected keys {unexpected[:5]}{' …' if len(unexpected) > 5 else ''}")
    if shapes:
        problems.append(f"misshaped {shapes[:5]}")
    if problems:
        raise ValueError(f"{path}: weights do not match {type(model).__name__}: {'; '.join(problems)}")
    model.load_state_dict(sd, strict=True)


WEIGHT_SUFFIXES = (".safetensors", ".pth", ".pkl", ".pt")


def find_weights(weights_dir: Path, name: str, preferred: tuple[str, ...] = ()) -> Path | None:
    """A post model's weights file, or None. ``name`` is a file path, a file or folder under
    ``weights_dir``, or a prefix of folders there ("rife" finds "rife-4.25"; the highest version wins).
    Never downloads: a missing file means the caller uses its fallback."""
    direct = Path(name)
    if direct.is_file():
        return direct
    weights_dir = Path(weights_dir)
    candidates = [weights_dir / name, *(weights_dir / f"{name}{s}" for s in WEIGHT_SUFFIXES)]
    if weights_dir.is_dir():
        # sort by version numbers, not text, so rife-4.25 beats rife-4.6
        def version_key(p: Path) -> list[int]:
            import re

            return [int(x) for x in re.findall(r"\d+", p.name)]

        candidates += sorted(weights_dir.glob(f"{name}*"), key=version_key, reverse=True)
    for c in candidates:
        if c.is_file() and c.suffix in WEIGHT_SUFFIXES:
            return c
        if c.is_dir():
            for fname in preferred:
                if (c / fname).is_file():
                    return c / fname
            files = sorted(p for p in c.iterdir() if p.suffix in WEIGHT_SUFFIXES)
            if len(files) == 1:
                return files[0]
    return None
