"""A worker that owns several GPUs and runs each job across all of them (context parallelism).

The worker process is rank 0: it talks to the engine as any worker does, and starts ranks
1..N-1 as its own child processes (``python -m server.engine.group``). All ranks join one
``torch.distributed`` group (NCCL between GPUs, gloo on CPUs) and a second, gloo-only group
that carries commands. Rank 0 sends every command that touches the model to the others before
running it itself (preload, generate); they run the same call with the same spec and drop the
result, so every collective inside diffusers finds all ranks. Post-stage work, encoding and
writing files stay on rank 0.

Failure handling: a rank that dies breaks the group. Rank 0 checks its ranks before each
command and after each job; a dead rank, or a job that failed in a way ranks may not share
(out of memory, an internal error), makes rank 0 exit, and the engine restarts the whole group
as it restarts any crashed worker. Ranks exit when rank 0 does (their command channel closes).

This module owns the rank processes and their command channel (``RankCommand`` messages, see
``server.engine.messages``); what a rank does with a command is ``server.engine.runtime.ranks``.
Torch-free at import: ``server.engine.worker`` imports this module in the API process.
"""

from __future__ import annotations

import logging
import os
import pickle
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

from server.engine.messages import RANK_COMMANDS, MalformedMessage, RankCommand
from server.engine.runtime.config import WorkerConfig

log = logging.getLogger(__name__)

# Commands wait in the gloo channel for as long as the server is idle.
_COMMAND_TIMEOUT_S = 365 * 24 * 3600.0
# A collective that a rank never joins (it died, or failed alone) fails after this.
_COLLECTIVE_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class RankArgs:
    cfg: WorkerConfig
    rank: int
    init_method: str
    parent_pid: int


class RankGroup:
    """Rank 0's handle on the group: starts the other ranks and sends them commands."""

    def __init__(self, cfg: WorkerConfig) -> None:
        from pipelines.parallel import free_port_init_method

        init_method = free_port_init_method()
        self.procs: list[subprocess.Popen[bytes]] = []
        for rank in range(1, cfg.context_parallel):
            proc = subprocess.Popen([sys.executable, "-m", "server.engine.group"], stdin=subprocess.PIPE)
            assert proc.stdin is not None
            proc.stdin.write(pickle.dumps(RankArgs(cfg, rank, init_method, os.getpid())))
            proc.stdin.close()
            self.procs.append(proc)
        self._pidfds = [os.pidfd_open(p.pid) for p in self.procs]
        self.channel = _join(cfg, 0, init_method)
        log.info("context-parallel group of %d ranks up (pids %s)", cfg.context_parallel, self.pids())

    def pids(self) -> list[int]:
        return [os.getpid(), *(p.pid for p in self.procs)]

    def dead_ranks(self, wait_s: float = 0.0) -> list[int]:
        """Ranks that exited. ``wait_s``: after a failed collective, give a dying rank's exit a
        moment to show (its sockets close a little before it can be reaped)."""
        deadline = time.monotonic() + wait_s
        while True:
            dead = [rank for rank, p in enumerate(self.procs, start=1) if p.poll() is not None]
            if dead or time.monotonic() >= deadline:
                return dead
            time.sleep(0.05)

    def sentinels(self) -> list[int]:
        """File descriptors that become readable when a rank exits (for ``multiprocessing.connection.wait``)."""
        return list(self._pidfds)

    def tell(self, command: RankCommand) -> None:
        """Send a command to every other rank (they run it as rank 0 runs it, right after)."""
        _broadcast(RANK_COMMANDS.encode(command), self.channel)


def _join(cfg: WorkerConfig, rank: int, init_method: str) -> Any:
    """Join the compute group and return the gloo command channel."""
    from datetime import timedelta

    import torch
    import torch.distributed as dist

    from pipelines.parallel import init_group, rank_device

    init_group(rank, cfg.context_parallel, init_method, torch.device(rank_device(cfg.device, rank)),
               timeout_s=_COLLECTIVE_TIMEOUT_S)
    return dist.new_group(backend="gloo", timeout=timedelta(seconds=_COMMAND_TIMEOUT_S))


def _broadcast(command: object | None, channel: Any) -> object:
    """Rank 0 sends ``command``; every other rank passes None and receives it."""
    import torch.distributed as dist

    box = [command]
    dist.broadcast_object_list(box, src=0, group=channel)
    return box[0]


def _exit_with_parent(parent_pid: int) -> None:
    """Belt and braces for a rank 0 killed while this rank computes (not waiting on a command)."""
    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def follower_main() -> None:
    """Ranks 1..N-1: run what rank 0 runs, until told to stop or rank 0 is gone."""
    args: RankArgs = pickle.loads(sys.stdin.buffer.read())
    cfg = args.cfg
    from server.engine.child import setup_child

    setup_child(f"{cfg.worker_id} rank={args.rank}", cfg.log_level, cuda_visible_devices=cfg.cuda_visible_devices)
    _exit_with_parent(args.parent_pid)
    from server.engine.runtime.generator import make_generator
    from server.engine.runtime.ranks import follow

    channel = _join(cfg, args.rank, args.init_method)
    gen = make_generator(cfg, args.rank)
    try:
        follow(gen, lambda: RANK_COMMANDS.decode(_broadcast(None, channel)))
    except MalformedMessage:
        # Refused, not skipped: this rank exits, rank 0 sees it dead and the engine restarts the group.
        log.exception("rank %d: malformed command from rank 0", args.rank)
        raise
    except Exception as exc:  # rank 0 is gone: its end of the channel closed
        log.info("command channel closed (%s); rank exiting", exc)


if __name__ == "__main__":
    follower_main()
