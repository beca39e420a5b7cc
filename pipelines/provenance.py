"""Library versions and device description recorded in every sidecar."""

from __future__ import annotations

import platform
import sys
from functools import cache
from importlib import metadata
from typing import Any

_PACKAGES = ("vidserve", "torch", "diffusers", "transformers", "accelerate", "av", "numpy", "pillow")


@cache
def versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": sys.version.split()[0]}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def environment() -> dict[str, Any]:
    env: dict[str, Any] = {"versions": versions(), "platform": platform.platform(), "gpus": []}
    if "torch" in sys.modules:  # only describe GPUs when torch is already in use; never import it here
        torch = sys.modules["torch"]
        if torch.cuda.is_available():
            env["cuda"] = torch.version.cuda
            env["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return env
