"""LocalEngine end to end: real spawn worker subprocesses running the tiny models on the CPU.

One engine with two CPU workers is shared by the module (starting workers is the slow part);
each test leaves it with both workers idle.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

import pytest

from pipelines import resolve
from pipelines.core.spec import GenerationSpec
from pipelines.encode import probe
from server.engine.base import (
    EngineEvent,
    EventType,
    InvalidInput,
    JobCancelled,
    ModelUnavailableError,
    Stage,
    WorkerCrashed,
    WorkItem,
    WorkResult,
)
from server.engine.local import LocalEngine

MODEL = "tiny-wan2.1-t2v"
MISSING_MODEL = "tiny-ltx-video"  # in the catalog, but not in this module's weights dir
T = TypeVar("T")


class Harness:
    """Runs coroutines on one event loop that lives as long as the module's engine."""

    def __init__(self, loop: asyncio.AbstractEventLoop, engine: LocalEngine, out: Path) -> None:
        self.loop = loop
        self.engine = engine
        self.out = out

    def __call__(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    def item(self, job_id: str, **spec: Any) -> WorkItem:
        return WorkItem(job_id, spec_dict(**spec), self.out / job_id, {"job_id": job_id})

    def settle(self) -> None:
        assert self(self.engine.wait_ready(timeout=60)), self.engine.workers()


def spec_dict(**over: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {"model": MODEL, "prompt": "a red cat walks", "seed": 7, "steps": 3} | over
    return resolve(GenerationSpec(**fields)).model_dump(mode="json")


@pytest.fixture(scope="module")
def engine_weights(tiny_weights_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Only one model present, so MISSING_MODEL is a genuinely missing folder.
    root = tmp_path_factory.mktemp("engine-weights")
    (root / MODEL).symlink_to(tiny_weights_dir / MODEL, target_is_directory=True)
    return root


@pytest.fixture(scope="module")
def h(engine_weights: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    engine = LocalEngine(engine_weights, devices=["cpu", "cpu"], start_timeout=90, stop_timeout=10)
    with running(engine, tmp_path_factory.mktemp("engine-out")) as harness:
        yield harness


@contextlib.contextmanager
def running(engine: LocalEngine, out: Path) -> Iterator[Harness]:
    """The engine started on its own event loop, stopped (and the loop closed) afterwards."""
    loop = asyncio.new_event_loop()
    harness = Harness(loop, engine, out)
    try:
        harness(engine.start())
        yield harness
    finally:
        harness(engine.stop())
        loop.close()


def test_events_arrive_in_order_and_the_video_decodes(h: Harness) -> None:
    h.settle()
    events: list[EngineEvent] = []
    threads: set[int] = set()

    def on_event(ev: EngineEvent) -> None:
        threads.add(threading.get_ident())
        events.append(ev)

    item = h.item("order", width=96, height=64, num_frames=13, steps=4)
    result = h(h.engine.run(item, on_event))

    assert threads == {threading.get_ident()}  # delivered on the event loop thread
    kinds = [e.type for e in events]
    assert kinds[0] == EventType.STARTED and kinds[-1] == EventType.COMPLETED
    assert kinds.count(EventType.STARTED) == 1 and kinds.count(EventType.COMPLETED) == 1
    stages = [e.data["stage"] for e in events if e.type == EventType.STAGE]
    if stages[0] == Stage.LOADING:  # only when the model was not resident yet
        stages = stages[1:]
    assert stages == [Stage.TEXT_ENCODING, Stage.DENOISING, Stage.DECODING, Stage.ENCODING]
    steps = [e for e in events if e.type == EventType.STEP]
    assert [(e.data["step"], e.data["total"]) for e in steps] == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert all(e.data["step_seconds"] > 0 for e in steps)
    # Steps come after "denoising" and before "decoding".
    order = [e.data.get("stage", e.type) for e in events]
    assert order.index(Stage.DENOISING) < order.index(EventType.STEP) < order.index(Stage.DECODING)
    assert [e.at for e in events] == sorted(e.at for e in events)
    assert all(e.job_id == "order" for e in events)

    assert isinstance(result, WorkResult)
    assert events[-1].data == asdict(result)
    assert result.job_id == "order" and result.worker_id in {"worker-0", "worker-1"}
    assert result.peak_memory_bytes is None  # CPU
    assert {"load_s", "text_encode_s", "denoise_s", "decode_s", "encode_s", "total_s"} <= set(result.timings)
    video = Path(result.files["video"])
    assert video == (h.out / "order" / "video.mp4").resolve()
    info = probe(video)
    assert (info.frames, info.width, info.height) == (13, 96, 64)
    sidecar = json.loads(Path(result.files["sidecar"]).read_text())
    assert sidecar["job_id"] == "order"  # sidecar_extra reached the sidecar
    assert sidecar["spec"]["steps"] == 4
    assert Path(result.files["thumbnail"]).is_file() and Path(result.files["last_frame"]).is_file()


def test_model_stays_resident_between_jobs(h: Harness) -> None:
    h.settle()
    first = h(h.engine.run(h.item("resident-1"), lambda ev: None))
    second = h(h.engine.run(h.item("resident-2", seed=8), lambda ev: None))
    # The engine prefers the worker that already holds the model, and that worker does not reload it.
    assert second.worker_id == first.worker_id
    assert second.timings["load_s"] == 0.0
    info = {w.worker_id: w for w in h.engine.workers()}[first.worker_id]
    assert info.loaded_models == [MODEL] and info.alive and info.busy_job is None
    assert info.memory_total_bytes is None  # CPU workers report no device memory


def test_two_workers_run_two_jobs_at_once(h: Harness) -> None:
    h.settle()
    events: dict[str, list[EngineEvent]] = {"a": [], "b": []}
    idle_seen: list[int] = []

    def listener(name: str) -> Callable[[EngineEvent], None]:
        def on_event(ev: EngineEvent) -> None:
            events[name].append(ev)
            if ev.type == EventType.STEP:
                idle_seen.append(h.engine.idle_workers())
        return on_event

    async def both() -> tuple[WorkResult, WorkResult]:
        return await asyncio.gather(
            h.engine.run(h.item("a", steps=15), listener("a")),
            h.engine.run(h.item("b", steps=15), listener("b")),
        )

    ra, rb = h(both())
    assert {ra.worker_id, rb.worker_id} == {"worker-0", "worker-1"}
    start_a, end_a = events["a"][0].at, events["a"][-1].at
    start_b, end_b = events["b"][0].at, events["b"][-1].at
    assert start_a < end_b and start_b < end_a, "the two jobs did not overlap"
    assert min(idle_seen) == 0
    assert probe(Path(ra.files["video"])).frames == 9 and probe(Path(rb.files["video"])).frames == 9


def test_cancel_stops_a_running_job_at_the_next_step(h: Harness) -> None:
    h.settle()
    steps: list[int] = []
    cancelled: list[asyncio.Task[bool]] = []
    asked_at: list[float] = []

    def on_event(ev: EngineEvent) -> None:
        if ev.type == EventType.STEP:
            steps.append(ev.data["step"])
            if not cancelled:
                asked_at.append(time.monotonic())
                cancelled.append(asyncio.get_running_loop().create_task(h.engine.cancel("cancel-me")))

    with pytest.raises(JobCancelled, match="cancelled after step") as err:
        h(h.engine.run(h.item("cancel-me", steps=200), on_event))
    waited = time.monotonic() - asked_at[0]

    assert cancelled[0].result() is True
    assert err.value.code == "cancelled"
    # "At the next step": the child checks the flag after every step. The flag is set when the parent
    # *reads* step 1, and on a busy machine (load 7+) the parent's loop reads step events late, with
    # more already in the pipe: the slack is for those, far short of the 200 steps the job would run.
    assert max(steps) <= 60, f"ran {max(steps)} of 200 steps after a cancel at step 1"
    assert waited < 5.0
    assert not (h.out / "cancel-me" / "video.mp4").exists()
    assert h(h.engine.cancel("cancel-me")) is False  # no longer running
    h.settle()  # the worker went back to idle


def test_invalid_spec_is_invalid_input_and_the_worker_goes_on(h: Harness) -> None:
    h.settle()
    bad_width = spec_dict() | {"width": 60}
    with pytest.raises(InvalidInput, match="width=60") as err:
        h(h.engine.run(WorkItem("bad-width", bad_width, h.out / "bad-width"), lambda ev: None))
    assert err.value.code == "invalid_input"
    with pytest.raises(InvalidInput, match="steps"):
        bad_type = spec_dict() | {"steps": "many"}
        h(h.engine.run(WorkItem("bad-type", bad_type, h.out / "bad-type"), lambda ev: None))
    h.settle()
    assert h.engine.idle_workers() == 2


def test_missing_model_folder_is_model_unavailable(h: Harness) -> None:
    h.settle()
    spec = resolve(GenerationSpec(model=MISSING_MODEL, prompt="x", seed=1, steps=2)).model_dump(mode="json")
    with pytest.raises(ModelUnavailableError, match=MISSING_MODEL) as err:
        h(h.engine.run(WorkItem("missing", spec, h.out / "missing"), lambda ev: None))
    assert err.value.code == "model_unavailable"
    assert "no weights found" in err.value.message


def test_killed_worker_fails_its_job_and_is_restarted(h: Harness) -> None:
    h.settle()
    killed: dict[str, Any] = {}

    def on_event(ev: EngineEvent) -> None:
        if ev.type == EventType.STARTED:
            killed.update(worker=ev.data["worker_id"], pid=ev.data["pid"])
        if ev.type == EventType.STEP and "at" not in killed:
            killed["at"] = time.monotonic()
            os.kill(killed["pid"], signal.SIGKILL)

    with pytest.raises(WorkerCrashed, match="SIGKILL") as err:
        h(h.engine.run(h.item("killed", steps=60), on_event))
    assert time.monotonic() - killed["at"] < 5.0  # seen through the sentinel, not a timeout
    assert err.value.retryable
    assert h.engine.ready()  # the other worker kept serving

    h.settle()  # the dead worker was restarted
    new_pid = h.engine.worker_pid(killed["worker"])
    assert new_pid is not None and new_pid != killed["pid"]

    async def both() -> list[WorkResult]:
        return await asyncio.gather(*(h.engine.run(h.item(f"after-{i}"), lambda ev: None) for i in range(2)))

    results = h(both())
    assert {r.worker_id for r in results} == {"worker-0", "worker-1"}
    assert all(probe(Path(r.files["video"])).frames == 9 for r in results)


def test_preloaded_worker_then_stop_fails_the_running_job(engine_weights: Path, tmp_path: Path) -> None:
    loop = asyncio.new_event_loop()
    engine = LocalEngine(engine_weights, devices=["cpu"], preload=[MODEL, "no-such-model"], start_timeout=90)
    try:
        loop.run_until_complete(engine.start())
        pid = engine.worker_pid("worker-0")
        assert pid is not None and engine.ready()
        # Preloading happens after "ready"; a model that is not in the catalog is skipped, not fatal.
        deadline = time.monotonic() + 30
        while engine.workers()[0].loaded_models != [MODEL] and time.monotonic() < deadline:
            loop.run_until_complete(asyncio.sleep(0.05))
        assert engine.workers()[0].loaded_models == [MODEL]
        warm = loop.run_until_complete(engine.run(WorkItem("w", spec_dict(), tmp_path / "w"), lambda ev: None))
        assert warm.timings["load_s"] == 0.0

        async def run_then_stop() -> None:
            first_step = asyncio.Event()

            def on_event(ev: EngineEvent) -> None:
                if ev.type == EventType.STEP:
                    first_step.set()

            job = asyncio.ensure_future(engine.run(WorkItem("s", spec_dict(steps=60), tmp_path / "s"), on_event))
            await first_step.wait()
            await engine.stop()
            with pytest.raises(WorkerCrashed, match="engine stopped"):
                await job

        loop.run_until_complete(run_then_stop())
        assert not engine.ready() and engine.idle_workers() == 0
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    finally:
        loop.run_until_complete(engine.stop())
        loop.close()


def test_the_engine_module_does_not_import_torch() -> None:
    code = (
        "import sys; from pathlib import Path; from server.engine.local import LocalEngine; "
        "LocalEngine(Path('w'), devices=['cpu']); "
        "bad = [m for m in ('torch', 'diffusers', 'transformers') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


_ORPHAN_PARENT = """
import asyncio, sys, time
from pathlib import Path
from server.engine.local import LocalEngine

async def main():
    engine = LocalEngine(Path(sys.argv[1]), devices=["cpu"], start_timeout=90)
    await engine.start()
    print(engine.worker_pid("worker-0"), flush=True)
    await asyncio.sleep(600)

asyncio.run(main())
"""


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")  # a zombie has exited; reaping it is init's job


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_workers_exit_when_the_parent_is_killed(engine_weights: Path) -> None:
    # An orphaned worker would hold its GPU memory forever.
    parent = subprocess.Popen([sys.executable, "-c", _ORPHAN_PARENT, str(engine_weights)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        worker = int(parent.stdout.readline())
        assert not _gone(worker)
        parent.kill()
        parent.wait(10)
        deadline = time.monotonic() + 15
        while not _gone(worker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _gone(worker), f"worker {worker} outlived its parent"
    finally:
        if parent.poll() is None:
            parent.kill()
