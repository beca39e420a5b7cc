"""Subprocesses that never outlive the test run: a server a test starts with ``tied_popen`` gets
SIGKILL from the kernel when the test process dies (a hung test ended by pytest-timeout's thread
method exits the run with ``os._exit``, and no ``finally`` runs), and ``stop`` ends one for sure."""

from __future__ import annotations

import ctypes
import signal
import subprocess
import sys
from typing import Any

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """A ``preexec_fn``: SIGKILL this child when the thread that started it exits (Linux)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def tied_popen(cmd: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen(cmd, preexec_fn=die_with_parent, **kwargs)


def stop(proc: subprocess.Popen[Any], grace_s: float = 30.0) -> None:
    """SIGTERM, then SIGKILL after ``grace_s``; returns once the process is gone."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
