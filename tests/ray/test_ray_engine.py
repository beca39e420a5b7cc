"""RayEngine on a real local Ray cluster: throughput 1 vs 2 workers, spreading, routing, cancel.

Each engine's bridge child is the Ray driver; its actors run the tiny models on the CPU, one per
``vgpu`` node, one torch thread each (the machine has 2 cores).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import psutil
import pytest

from pipelines import resolve
from pipelines.core.memory import MemoryStrategy
from pipelines.core.spec import GenerationSpec
from pipelines.encode import probe
from server.engine.base import EngineEvent, EventType, JobCancelled, WorkerCrashed, WorkItem, WorkResult
from server.engine.ray_engine import RayEngine
from tests.ray.conftest import RESOURCE, GpuCluster

pytestmark = pytest.mark.ray

T = TypeVar("T")
WAN, LTX = "tiny-wan2.1-t2v", "tiny-ltx-video"


def spec(model: str = WAN, **over: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {"model": model, "prompt": "a red cat walks", "seed": 7, "steps": 4} | over
    return resolve(GenerationSpec(**fields)).model_dump(mode="json")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.get_event_loop_policy().get_event_loop().run_until_complete(coro)


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    lp = asyncio.new_event_loop()
    asyncio.set_event_loop(lp)
    yield lp
    lp.close()
    asyncio.set_event_loop(None)


def make_engine(cluster: GpuCluster, weights: Path, workers: int, max_models: int = 1,
                event_timeout_s: float = 20) -> RayEngine:
    # A memory-strategy floor the actors must apply: the settings reach every worker, Ray's too.
    return RayEngine(cluster.address, weights, workers=workers, resource=RESOURCE, cpu_threads=1,
                     max_models=max_models, start_timeout=90, event_timeout_s=event_timeout_s, heartbeat_s=1.0,
                     generator_options={"memory_strategy": MemoryStrategy.VAE_TILING})


Span = tuple[str, float, float]  # worker id, started, completed (event times)


async def run_mix(engine: RayEngine, out: Path, tag: str, n: int) -> tuple[float, list[WorkResult], list[Span]]:
    """n jobs alternating two models, at most as many at once as the engine has workers (as the
    dispatcher does); returns the wall time, the results and when each job ran where."""
    slots = asyncio.Semaphore(len(engine.workers()))
    items = [WorkItem(f"{tag}-{i}", spec(WAN if i % 2 == 0 else LTX, steps=12, width=96, height=96), out / f"{tag}-{i}")
             for i in range(n)]
    spans: list[Span] = []

    async def one(item: WorkItem) -> WorkResult:
        times: dict[EventType, float] = {}

        def note(ev: EngineEvent) -> None:
            times.setdefault(ev.type, ev.at)

        async with slots:
            result = await engine.run(item, note)
        spans.append((result.worker_id, times[EventType.STARTED], times[EventType.COMPLETED]))
        return result

    t0 = time.perf_counter()
    results = await asyncio.gather(*(one(it) for it in items))
    return time.perf_counter() - t0, list(results), spans


def test_two_workers_outrun_one_and_spread_jobs(gpu_cluster: GpuCluster, tiny_weights_dir: Path, tmp_path: Path,
                                                 loop: asyncio.AbstractEventLoop,
                                                 record_property: Any) -> None:
    walls: dict[int, float] = {}
    for workers in (1, 2):
        # Both models fit in each worker: the figure is about parallel workers, not model reloads.
        engine = make_engine(gpu_cluster, tiny_weights_dir, workers, max_models=2)
        run(engine.start())
        try:
            run(run_mix(engine, tmp_path, f"warm{workers}", workers * 2))  # models loaded where routing puts them
            walls[workers], results, spans = run(run_mix(engine, tmp_path, f"w{workers}", 6))
            used = {r.worker_id for r in results}
            assert len(used) == workers, used
            # Jobs on different workers really ran at the same time (timing-independent check).
            overlapping = [(a, b) for a in spans for b in spans if a[0] != b[0] and a[1] < b[2] and b[1] < a[2]]
            assert bool(overlapping) == (workers > 1), spans
            for r in results:
                info = probe(Path(r.files["video"]))
                assert info.frames > 1 and Path(r.files["sidecar"]).is_file()
                sidecar = json.loads(Path(r.files["sidecar"]).read_text())
                assert sidecar["optimizations"]["memory_plan"]["strategy"] == "vae_tiling"
                assert Path(r.files["video"]).parent.parent == tmp_path  # written on the API node
        finally:
            run(engine.stop())
    ratio = walls[1] / walls[2]
    print(f"\n6-job mix: 1 worker {walls[1]:.2f}s, 2 workers {walls[2]:.2f}s: throughput ratio {ratio:.2f}x")
    # The figure is recorded, not asserted: how much faster two workers are depends on what else the
    # machine runs (beside the suite's other test processes, two workers were once 4x slower than one
    # on 2 cores). What is guaranteed, that jobs on two workers run at the same time, is checked above;
    # benchmarks/ray_serving_bench.py measures the throughput.
    record_property("throughput_ratio_2_vs_1", round(ratio, 3))


@pytest.fixture(scope="module")
def engine2(gpu_cluster: GpuCluster, tiny_weights_dir: Path,
            loop: asyncio.AbstractEventLoop) -> Iterator[RayEngine]:
    gpu_cluster.ensure_gpu_nodes(2)
    engine = make_engine(gpu_cluster, tiny_weights_dir, 2, event_timeout_s=6)
    run(engine.start())
    yield engine
    run(engine.stop())


def test_routing_prefers_the_worker_holding_the_model(engine2: RayEngine, tmp_path: Path) -> None:
    async def one(i: int, model: str) -> str:
        result = await engine2.run(WorkItem(f"route-{i}", spec(model), tmp_path / f"route-{i}"), lambda ev: None)
        return result.worker_id

    # One at a time: the first WAN and LTX jobs land on different workers (neither evicts the
    # other's model), and every later job goes where its model already is.
    order = [WAN, LTX, WAN, LTX, LTX, WAN]
    used = [run(one(i, m)) for i, m in enumerate(order)]
    by_model = {m: {w for w, mm in zip(used, order, strict=True) if mm == m} for m in (WAN, LTX)}
    assert len(by_model[WAN]) == 1 and len(by_model[LTX]) == 1 and by_model[WAN] != by_model[LTX], used
    held = {w.worker_id: w.loaded_models for w in engine2.workers()}
    assert held[next(iter(by_model[WAN]))] == [WAN] and held[next(iter(by_model[LTX]))] == [LTX], held


def test_the_actors_run_at_normal_priority_not_rays_nice_15(engine2: RayEngine) -> None:
    """Ray's workers renice themselves to 15; beside one nice-0 CPU hog an actor at 15 got ~2% of a
    core and took minutes to import torch (seen in a whole-suite run beside a hog). Ours stay at 0."""
    assert len(engine2.workers()) == 2
    actors = []
    for proc in psutil.process_iter(["cmdline"]):
        cmd = proc.info["cmdline"] or []
        if cmd and cmd[0].startswith("ray::RayWorker"):
            with contextlib.suppress(psutil.Error):
                actors.append((proc.pid, proc.nice()))
    assert len(actors) >= 2, actors  # this engine's two (another test process may run more)
    assert all(nice == 0 for _, nice in actors), actors


def test_cancel_reaches_the_actor_on_its_node(engine2: RayEngine, tmp_path: Path) -> None:
    events: list[EngineEvent] = []
    stepped = asyncio.Event()

    def on_event(ev: EngineEvent) -> None:
        events.append(ev)
        if ev.type == EventType.STEP:
            stepped.set()

    async def scenario() -> None:
        task = asyncio.ensure_future(engine2.run(WorkItem("cancel-me", spec(steps=200), tmp_path / "c"), on_event))
        await asyncio.wait_for(stepped.wait(), 60)
        t0 = time.monotonic()
        assert await engine2.cancel("cancel-me")
        with pytest.raises(JobCancelled):
            await asyncio.wait_for(task, 30)
        assert time.monotonic() - t0 < 10
        assert await engine2.wait_ready(timeout=30)

    run(scenario())
    steps = [ev.data["step"] for ev in events if ev.type == EventType.STEP]
    assert 1 <= max(steps) < 200
    assert not (tmp_path / "c").exists()  # nothing written for a cancelled job
    assert engine2.cancel is not None and not run(engine2.cancel("cancel-me"))  # no longer running


def test_a_hung_actor_times_out_and_is_replaced(engine2: RayEngine, tmp_path: Path) -> None:
    """SIGSTOP: the actor's process is alive to Ray but sends nothing, not even heartbeats."""
    started: list[EngineEvent] = []
    stepped = asyncio.Event()

    def on_event(ev: EngineEvent) -> None:
        if ev.type == EventType.STARTED:
            started.append(ev)
        if ev.type == EventType.STEP:
            stepped.set()

    async def scenario() -> float:
        task = asyncio.ensure_future(engine2.run(WorkItem("hang", spec(steps=200), tmp_path / "h"), on_event))
        await asyncio.wait_for(stepped.wait(), 60)
        os.kill(int(started[0].data["pid"]), signal.SIGSTOP)
        t0 = time.monotonic()
        with pytest.raises(WorkerCrashed) as exc:
            await asyncio.wait_for(task, 30)
        assert exc.value.retryable and "sent nothing" in exc.value.message
        waited = time.monotonic() - t0
        assert await engine2.wait_ready(count=2, timeout=60), engine2.workers()
        return waited

    waited = run(scenario())
    assert 5 <= waited < 15, waited
