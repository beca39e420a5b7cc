"""A context-parallel worker end to end: the local engine's worker runs every job across two
CPU ranks (gloo) and behaves like any worker: same video as one process, cancels, restarts
when a rank dies, without losing a job that was not running."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from pipelines.core.spec import GenerationSpec
from pipelines.generate import VideoGenerator
from pipelines.weights import WeightsLocator
from server.engine.base import EngineEvent, EventType, JobCancelled, WorkerCrashed, WorkResult
from server.engine.local import LocalEngine
from tests.engine.test_local_engine import Harness, running, spec_dict
from tests.pipelines.test_context_parallel import assert_same_video_across_processes


@pytest.fixture(scope="module")
def h(tiny_weights_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    engine = LocalEngine(tiny_weights_dir, devices=["cpu"], context_parallel=2, start_timeout=120, stop_timeout=10)
    with running(engine, tmp_path_factory.mktemp("cp-out")) as harness:
        yield harness


def _run(h: Harness, job_id: str, on_event: Any = None, **spec: Any) -> WorkResult:
    return h(h.engine.run(h.item(job_id, **spec), on_event or (lambda ev: None)))


def test_a_job_runs_across_both_ranks_and_makes_the_single_process_video(h: Harness,
                                                                         tiny_weights_dir: Path) -> None:
    h.settle()
    (info,) = h.engine.workers()
    assert info.device == "cpu x2" and len(info.rank_pids) == 2 and info.rank_pids[0] == h.engine.worker_pid(
        info.worker_id)
    result = _run(h, "cp-one")
    sidecar = json.loads(Path(result.files["sidecar"]).read_text())
    assert sidecar["optimizations"]["context_parallel"] == {"kind": "ulysses", "degree": 2, "rank": 0}

    alone = VideoGenerator(WeightsLocator(tiny_weights_dir), device="cpu").generate(
        GenerationSpec(**{k: v for k, v in spec_dict().items() if k in GenerationSpec.model_fields}))
    # Two rank processes against this one: not bit-identical (float sums in another order), so the
    # bound that tests/pipelines/test_context_parallel.py states and justifies, on the last frame
    # the worker wrote losslessly (PNG); the MP4 is lossy, and the sidecar only has a hash.
    last = np.asarray(Image.open(result.files["last_frame"]).convert("RGB"))
    assert sidecar["output"]["frames"] == len(alone.frames)
    assert_same_video_across_processes(last, alone.frames[-1], "the group's last frame vs one process")


def test_a_cancel_stops_every_rank_and_the_group_serves_the_next_job(h: Harness) -> None:
    h.settle()
    pids = h.engine.workers()[0].rank_pids
    asked: list[asyncio.Task[bool]] = []
    steps: list[int] = []

    def on_event(ev: EngineEvent) -> None:
        if ev.type == EventType.STEP:
            steps.append(ev.data["step"])
            if not asked:
                asked.append(asyncio.get_running_loop().create_task(h.engine.cancel("cp-cancel")))

    with pytest.raises(JobCancelled, match="cancelled after step"):
        _run(h, "cp-cancel", on_event, steps=60)
    assert max(steps) < 60
    # No rank was left waiting in a collective: the same processes run the next job.
    result = _run(h, "cp-after-cancel")
    assert Path(result.files["video"]).is_file()
    assert h.engine.workers()[0].rank_pids == pids


def test_a_rank_killed_mid_job_is_a_retryable_crash_and_the_group_restarts(h: Harness) -> None:
    h.settle()
    old = h.engine.workers()[0].rank_pids
    killed: list[float] = []

    def on_event(ev: EngineEvent) -> None:
        if ev.type == EventType.STEP and not killed:
            killed.append(time.monotonic())
            os.kill(old[1], signal.SIGKILL)

    with pytest.raises(WorkerCrashed) as err:
        _run(h, "cp-killed", on_event, steps=200)
    assert err.value.retryable
    assert time.monotonic() - killed[0] < 30
    h.settle()
    new = h.engine.workers()[0].rank_pids
    assert len(new) == 2 and not set(new) & set(old)
    assert Path(_run(h, "cp-after-kill").files["video"]).is_file()


def test_a_rank_that_dies_while_idle_restarts_the_group_before_the_next_job(h: Harness) -> None:
    h.settle()
    old = h.engine.workers()[0].rank_pids
    os.kill(old[1], signal.SIGKILL)
    _wait_for_a_new_group(h, old)
    assert Path(_run(h, "cp-after-idle-kill").files["video"]).is_file()


def _wait_for_a_new_group(h: Harness, old: list[int]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        now = h.engine.workers()[0]
        if now.alive and now.rank_pids and not set(now.rank_pids) & set(old):
            return
        h(asyncio.sleep(0.2))
    pytest.fail(f"the group was not restarted: {h.engine.workers()}")


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "State:\tZ" in state  # exited, waiting to be reaped by whoever adopted it


def test_when_rank_0_dies_the_other_ranks_exit_too_and_free_their_devices(h: Harness) -> None:
    h.settle()
    old = h.engine.workers()[0].rank_pids
    os.kill(old[0], signal.SIGKILL)
    deadline = time.monotonic() + 30
    while not _gone(old[1]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _gone(old[1]), f"rank 1 (pid {old[1]}) outlived rank 0"
    _wait_for_a_new_group(h, old)  # and the engine brought up a whole new group
