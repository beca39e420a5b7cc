"""The engines' wire: every channel refuses what is not one of its messages (loudly, naming it), a
real worker process refuses a malformed command and exits, and a stored spec is decoded into a
ResolvedSpec and checked, never resolved again."""

from __future__ import annotations

import ctypes
import multiprocessing as mp
from pathlib import Path
from typing import Any

import pytest

from pipelines import resolve
from pipelines.core.spec import GenerationSpec
from server.engine.base import EngineEvent, EventType, InvalidInput, WorkItem, WorkResult
from server.engine.failures import Failure
from server.engine.messages import (
    ACTOR_JOBS,
    ACTOR_REPORTS,
    BRIDGE_COMMANDS,
    BRIDGE_REPORTS,
    RANK_COMMANDS,
    WORKER_COMMANDS,
    WORKER_REPORTS,
    Channel,
    JobDecoder,
    JobDone,
    JobEvent,
    JobFailed,
    MalformedMessage,
    RunJob,
    Stop,
    WorkerReady,
    WorkerStatus,
)
from server.engine.runtime.config import WorkerConfig
from server.engine.worker import EXIT_MALFORMED_COMMAND, worker_main

CHANNELS: list[Channel[Any]] = [WORKER_COMMANDS, WORKER_REPORTS, BRIDGE_COMMANDS, BRIDGE_REPORTS, ACTOR_JOBS,
                                ACTOR_REPORTS, RANK_COMMANDS]


def tiny_spec(**overrides: Any) -> dict[str, Any]:
    spec = resolve(GenerationSpec(model="tiny-wan2.1-t2v", prompt="p", seed=1, steps=2)).model_dump(mode="json")
    return spec | overrides


@pytest.mark.parametrize("channel", CHANNELS, ids=lambda c: c.name)
@pytest.mark.parametrize("raw", [("progress", 1, 2), {"kind": "stop"}, "stop", None], ids=repr)
def test_every_channel_refuses_what_is_not_its_message(channel: Channel[Any], raw: object) -> None:
    with pytest.raises(MalformedMessage, match="refused") as err:
        channel.decode(raw)
    assert channel.name in str(err.value)
    assert type(raw).__name__ in str(err.value)


def test_a_message_of_another_direction_is_refused() -> None:
    done = JobDone(WorkResult("j", {}, {}, None, "w"), 0.0)
    with pytest.raises(MalformedMessage, match="JobDone"):
        WORKER_COMMANDS.decode(done)  # a report sent down the command direction
    with pytest.raises(MalformedMessage, match="expected one of WorkerReady"):
        WORKER_REPORTS.decode(Stop())
    with pytest.raises(MalformedMessage, match="cannot send"):
        BRIDGE_REPORTS.encode(Stop())  # type: ignore[arg-type]


def test_messages_cross_as_themselves() -> None:
    ev = JobEvent(EngineEvent("j", EventType.STEP, {"step": 1, "total": 2}, 1.0))
    failed = JobFailed("j", Failure("out_of_memory", "no room"))
    assert WORKER_REPORTS.decode(WORKER_REPORTS.encode(ev)) is ev
    assert BRIDGE_REPORTS.decode(failed) is failed
    assert failed.failure.error().code == "out_of_memory"


def test_job_done_hands_the_completed_event_with_the_result() -> None:
    result = WorkResult("j", {"video": "/x/video.mp4"}, {"total_s": 1.0}, None, "worker-0")
    ev = JobDone(result, 5.0).event()
    assert (ev.job_id, ev.type, ev.at) == ("j", EventType.COMPLETED, 5.0)
    assert WorkResult(**ev.data) == result


# -- decoding a stored spec ------------------------------------------------------------------------


def test_a_stored_spec_is_decoded_as_stored(tmp_path: Path) -> None:
    stored = tiny_spec()
    job = JobDecoder()(WorkItem("ok", stored, tmp_path))
    assert isinstance(job, RunJob)
    assert job.spec.model_dump(mode="json") == stored  # nothing filled in or changed


@pytest.mark.parametrize(("overrides", "named"), [
    ({"width": 60}, "width=60"),
    ({"num_frames": 10}, "num_frames=10"),
    ({"steps": "many"}, "steps='many'"),
    ({"model": "no-such-model"}, "model='no-such-model'"),
    ({"pipeline_class": "LTXPipeline"}, "pipeline_class='LTXPipeline'"),
    ({"seed": -1}, "seed=-1"),
    ({"image": "/nonexistent/first.png", "mode": "text-to-video"}, "image="),
])
def test_a_stored_spec_that_fails_its_checks_is_invalid_input(tmp_path: Path, overrides: dict[str, Any],
                                                              named: str) -> None:
    with pytest.raises(InvalidInput, match=named.replace("(", r"\(")) as err:
        JobDecoder()(WorkItem("bad", tiny_spec(**overrides), tmp_path))
    assert err.value.code == "invalid_input"


def test_a_repost_decodes_its_source_spec_without_the_catalog_checks(tmp_path: Path) -> None:
    # A re-post runs no generation: the source job's spec is a record, checked only for its shape.
    stale = tiny_spec(pipeline_class="LTXPipeline")
    job = JobDecoder()(WorkItem("re", stale, tmp_path, source_frames=tmp_path / "frames.npz"))
    assert job.reposts and job.spec.pipeline_class == "LTXPipeline"
    with pytest.raises(InvalidInput, match="steps"):
        JobDecoder()(WorkItem("re", tiny_spec(steps="many"), tmp_path, source_frames=tmp_path / "frames.npz"))


# -- a real worker process ---------------------------------------------------------------------------


def test_a_worker_refuses_a_malformed_command_and_exits(tmp_path: Path) -> None:
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=True)
    cancel = ctx.RawValue(ctypes.c_bool, False)
    cfg = WorkerConfig(worker_id="worker-m", device="cpu", cuda_visible_devices="", weights_dir=tmp_path)
    proc = ctx.Process(target=worker_main, args=(cfg, child, cancel), daemon=True)
    proc.start()
    child.close()
    try:
        assert parent.poll(120), "the worker never reported ready"
        assert isinstance(WORKER_REPORTS.decode(parent.recv()), WorkerReady)
        parent.send(("run", {"job_id": "old-style"}))  # the string-tagged tuple this wire used to carry
        proc.join(60)
        assert proc.exitcode == EXIT_MALFORMED_COMMAND
        with pytest.raises(EOFError):  # it ran nothing and reported nothing: the pipe just closed
            parent.recv()
    finally:
        if proc.is_alive():
            proc.kill()
            proc.join(10)


def _rogue_worker(cfg: WorkerConfig, conn: Any, cancel: Any) -> None:
    """A worker process that comes up properly, then answers a job in the old tuple protocol."""
    import os
    import time

    conn.send(WorkerReady(WorkerStatus(pid=os.getpid())))
    while True:
        command = conn.recv()
        if isinstance(command, RunJob):
            conn.send(("event", command.job_id, "progress"))
        time.sleep(0.01)


def test_the_engine_refuses_a_malformed_report_fails_the_job_and_replaces_the_worker(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    from server.engine import local
    from server.engine.base import EngineError

    monkeypatch.setattr(local, "worker_main", _rogue_worker)  # the child program; the engine is the real one

    async def scenario() -> tuple[EngineError, int | None, int | None]:
        engine = local.LocalEngine(tmp_path, devices=["cpu"], start_timeout=60)
        await engine.start()
        try:
            first = engine.worker_pid("worker-0")
            with pytest.raises(EngineError) as err:
                await engine.run(WorkItem("rogue", tiny_spec(), tmp_path / "rogue"), lambda ev: None)
            assert await engine.wait_ready(timeout=30)
            return err.value, first, engine.worker_pid("worker-0")
        finally:
            await engine.stop()

    error, first, second = asyncio.run(scenario())
    assert type(error) is EngineError and error.code == "internal"  # not a crash to retry
    assert "worker -> engine: refused tuple" in error.message and "'progress'" in error.message
    assert second not in (None, first)  # killed and started again
