"""One job across several devices: diffusers context parallelism (Ulysses or ring attention).

A context-parallel group is ``degree`` processes, one per GPU, started with ``torch.distributed``.
Every rank loads the same pipeline and runs the same call with the same seed; the transformer's
sequence is split across the ranks inside diffusers (``ModelMixin.enable_parallelism``), so each
rank holds 1/degree of the activations and does 1/degree of the attention work. Rank 0 writes the
video; the others drop their identical copy.

Ranks must make the same control-flow decisions at the same step or they wait on each other in a
collective forever. So a stop request is agreed on (rank 0's answer is broadcast every step) and
step caching is off (its skip decision is taken per rank on a shard of the activations).

Off by default: a worker with one GPU never imports ``torch.distributed``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from pipelines.families.base import FamilyAdapter

log = logging.getLogger(__name__)

KINDS = ("ulysses", "ring")
# Backends diffusers can run context-parallel, and of those the ones that return the log-sum-exp
# ring attention needs to merge partial results (diffusers' "native" SDPA cannot).
_RING_CAPABLE = ("flash", "flash_hub", "_flash_3_hub", "_native_cudnn", "sage", "sage_hub")


@dataclass(frozen=True)
class ContextParallel:
    """``degree`` devices per job. ``kind``: "ulysses" (all-to-all; heads must divide by degree)
    or "ring" (KV passed around; needs a log-sum-exp capable backend, i.e. a GPU kernel)."""

    degree: int
    kind: str = "ulysses"

    def __post_init__(self) -> None:
        if self.degree < 2:
            raise ValueError(f"context_parallel={self.degree}: a context-parallel group needs at least 2 devices")
        if self.kind not in KINDS:
            raise ValueError(f"context_parallel_kind={self.kind!r}: expected one of {', '.join(KINDS)}")

    def record(self) -> dict[str, Any]:
        return {"kind": self.kind, "degree": self.degree}


def init_group(rank: int, world: int, init_method: str, device: torch.device,
               timeout_s: float = 600.0) -> None:
    """Join the group: NCCL between GPUs, gloo on CPUs. ``timeout_s`` bounds a collective that a
    failed rank never joins; past it the survivors fail instead of hanging."""
    import torch.distributed as dist

    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(backend, init_method=init_method, rank=rank, world_size=world,
                            timeout=timedelta(seconds=timeout_s))
    log.info("rank %d/%d joined the context-parallel group (%s) on %s", rank, world, backend, device)


def leave_group() -> None:
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()


def backend_supports(backend: str, cp: ContextParallel) -> bool:
    """Whether diffusers can run ``backend`` context-parallel in ``cp``'s kind."""
    from diffusers.models.attention_dispatch import AttentionBackendName, _AttentionBackendRegistry

    try:
        name = AttentionBackendName(backend)
    except ValueError:
        return False
    if not _AttentionBackendRegistry._is_context_parallel_available(name):
        return False
    return cp.kind == "ulysses" or backend in _RING_CAPABLE


@contextlib.contextmanager
def _cpu_device_index() -> Iterator[None]:
    """diffusers picks a rank's device as ``rank % torch.accelerator.device_count()``, which divides
    by zero on a CPU-only torch. On a CPU group every rank is ``cpu`` anyway: count one device
    while the group is set up. (GPU groups never take this path.)"""
    if torch.accelerator.is_available():
        yield
        return
    count = torch.accelerator.device_count
    torch.accelerator.device_count = lambda: 1
    try:
        yield
    finally:
        torch.accelerator.device_count = count


def enable(pipe: Any, cp: ContextParallel, attention_backend: str, family: FamilyAdapter) -> dict[str, Any]:
    """Shard each transformer's sequence across the group, with the family's plan where it has its
    own. Call on every rank, after the attention backend is set (diffusers checks it supports
    context parallelism)."""
    import torch.distributed as dist
    from diffusers import ContextParallelConfig

    if not dist.is_initialized():
        raise RuntimeError("context parallelism needs torch.distributed: start the ranks with init_group()")
    if dist.get_world_size() != cp.degree:
        raise RuntimeError(f"context_parallel={cp.degree} but the group has {dist.get_world_size()} ranks")
    if not backend_supports(attention_backend, cp):
        raise ValueError(f"attention backend {attention_backend!r} cannot run {cp.kind} context parallelism"
                         + ("; ring needs flash, cuDNN or sage attention on a GPU" if cp.kind == "ring" else ""))
    modules = [m for m in (getattr(pipe, "transformer", None), getattr(pipe, "transformer_2", None))
               if m is not None]
    with _cpu_device_index():
        for module in modules:
            # Each model gets its own config object: diffusers records its mesh on it.
            config = (ContextParallelConfig(ulysses_degree=cp.degree) if cp.kind == "ulysses"
                      else ContextParallelConfig(ring_degree=cp.degree))
            module.enable_parallelism(config=config, cp_plan=family.context_parallel_plan(module))
            family.prepare_context_parallel(module)
    return cp.record() | {"rank": dist.get_rank()}


def agreed(should_stop: Callable[[], bool], device: torch.device) -> Callable[[], bool]:
    """``should_stop`` as rank 0 answers it, broadcast to every rank: all ranks stop at the same
    step (one rank leaving the loop alone would leave the others waiting in a collective)."""
    import torch.distributed as dist

    flag_device = device if device.type == "cuda" else torch.device("cpu")

    def stop() -> bool:
        flag = torch.tensor([1 if (dist.get_rank() == 0 and should_stop()) else 0], dtype=torch.int32,
                            device=flag_device)
        dist.broadcast(flag, src=0)
        return bool(flag.item())

    return stop


def rank_device(base: str, rank: int) -> str:
    """The device rank ``rank`` runs on: its own GPU (the group sees exactly its GPUs), or the CPU."""
    return f"cuda:{rank}" if base.startswith("cuda") else "cpu"


def free_port_init_method() -> str:
    """A TCP rendezvous on a free loopback port, chosen by rank 0."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"tcp://127.0.0.1:{port}"

