"""Which devices the local engine puts workers on, found without importing torch.

The API process must stay torch-free, so GPUs are counted from ``CUDA_VISIBLE_DEVICES`` or
``nvidia-smi -L``, and each worker is pinned to one GPU through its own ``CUDA_VISIBLE_DEVICES``.
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DevicePlan:
    label: str                 # what operators see: "cuda:0", "cpu"
    device: str                # what the child passes to VideoGenerator: "cuda" or "cpu"
    cuda_visible_devices: str  # the child's CUDA_VISIBLE_DEVICES; "" hides every GPU
    ranks: int = 1             # devices the worker runs each job across (context parallelism)


def visible_gpus(env: Mapping[str, str] | None = None, smi_output: str | None = None) -> list[str]:
    """The GPU ids this process may use, as CUDA_VISIBLE_DEVICES values (indices or UUIDs)."""
    env = os.environ if env is None else env
    listed = env.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        out: list[str] = []
        for part in listed.split(","):
            part = part.strip()
            # CUDA stops at the first invalid entry; "-1" is the usual way to hide every GPU.
            if not part or part.startswith("-"):
                break
            out.append(part)
        return out
    if smi_output is None:
        smi_output = _nvidia_smi()
    return [str(i) for i, line in enumerate(ln for ln in smi_output.splitlines() if ln.startswith("GPU "))]


def _nvidia_smi() -> str:
    try:
        done = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20, check=True)
    except (OSError, subprocess.SubprocessError) as exc:
        log.info("no NVIDIA GPU found (nvidia-smi -L: %s); using the CPU", exc)
        return ""
    return done.stdout


def plan_devices(devices: list[str] | None, gpus: list[str]) -> list[DevicePlan]:
    """One plan per worker. ``devices=None``: one worker per visible GPU, or one CPU worker.

    Explicit entries are "cpu", "cuda" (= "cuda:0") or "cuda:N", N counted among the visible GPUs."""
    if devices is None:
        if gpus:
            return [DevicePlan(f"cuda:{i}", "cuda", gid) for i, gid in enumerate(gpus)]
        return [DevicePlan("cpu", "cpu", "")]
    if not devices:
        raise ValueError("devices=[]: give at least one device, or None to detect them")
    plans: list[DevicePlan] = []
    for name in devices:
        if name == "cpu":
            plans.append(DevicePlan("cpu", "cpu", ""))
            continue
        kind, _, index = name.partition(":")
        if kind != "cuda" or not (index or "0").isdigit():
            raise ValueError(f"devices: {name!r} is not 'cpu', 'cuda' or 'cuda:N'")
        n = int(index or "0")
        if gpus and n >= len(gpus):
            raise ValueError(f"devices: {name!r} but only {len(gpus)} GPU(s) are visible")
        # No GPU seen (e.g. nvidia-smi missing from PATH): trust the operator's index.
        plans.append(DevicePlan(f"cuda:{n}", "cuda", gpus[n] if gpus else str(n)))
    return plans


def group_devices(plans: list[DevicePlan], size: int) -> list[DevicePlan]:
    """Workers of ``size`` devices each, for context parallelism: consecutive GPUs form one worker
    ("cuda:0+1", CUDA_VISIBLE_DEVICES="0,1"); a CPU worker runs ``size`` CPU ranks."""
    if size == 1:
        return plans
    gpus = [p for p in plans if p.device == "cuda"]
    if gpus and len(gpus) % size:
        raise ValueError(f"context_parallel={size} but {len(gpus)} GPU(s) were given to the workers: use a multiple "
                         f"of {size} (CUDA_VISIBLE_DEVICES or devices), or context_parallel=1")
    out = [DevicePlan(f"cpu x{size}", p.device, "", size) for p in plans if p.device == "cpu"]
    for i in range(0, len(gpus), size):
        chunk = gpus[i:i + size]
        indices = "+".join(p.label.removeprefix("cuda:") for p in chunk)
        out.append(DevicePlan(f"cuda:{indices}", "cuda", ",".join(p.cuda_visible_devices for p in chunk), size))
    return out


def cpu_threads_per_worker(plans: list[DevicePlan], cpu_count: int | None = None) -> int | None:
    """Split the cores between CPU workers so they do not each grab all of them; None = torch default."""
    n_cpu = sum(p.ranks for p in plans if p.device == "cpu")
    if n_cpu <= 1:
        return None
    return max(1, (cpu_count or os.cpu_count() or 1) // n_cpu)
