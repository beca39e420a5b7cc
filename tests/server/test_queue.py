"""Queue order and bounds on a server with a small queue; unit tests of the queue and store."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from server.jobs.errors import IdempotencyConflict, QueueFull
from server.jobs.models import Job, JobState
from server.jobs.queue import JobQueue
from server.jobs.store import JobStore
from tests.server.conftest import API_KEY, FAST, LiveServer, hold_worker, make_settings, wait_terminal


@pytest.fixture(scope="module")
def small(tiny_weights_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    live = LiveServer(make_settings(tmp_path_factory.mktemp("small"), tiny_weights_dir, queue_max=2)).start()
    with httpx.Client(base_url=live.url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=60) as c:
        yield c
    live.stop()


def test_priority_order_and_queue_full(small: httpx.Client) -> None:
    # A long job holds the one worker (a 12-step 64x64 one finished in 0.17 s in a fresh-clone run,
    # and the queue had room again before the test's "full" checks): cancelled once they are done.
    blocker = {"id": hold_worker(small)}
    low = small.post("/v1/text-to-video", json={"prompt": "low", "priority": -1, **FAST},
                     headers={"Idempotency-Key": "low-1"}).json()
    high = small.post("/v1/text-to-video", json={"prompt": "high", "priority": 5, **FAST}).json()
    assert small.get(f"/v1/videos/{high['id']}").json()["queue_position"] == 1
    assert small.get(f"/v1/videos/{low['id']}").json()["queue_position"] == 2
    full = small.post("/v1/text-to-video", json={"prompt": "one too many", **FAST})
    assert full.status_code == 429, full.text
    assert int(full.headers["Retry-After"]) >= 1 and full.json()["error"]["type"] == "rate_limit_error"
    # A full queue refuses before the body is parsed (a burst's refusals stay cheap): a body that would be
    # a 400 is a 429 here, on every create route, and nothing is written.
    listed = len(small.get("/v1/videos", params={"limit": 100}).json()["data"])
    for path, body in (("/v1/text-to-video", {"prompt": "x", "steps": "many"}),
                       ("/v1/videos", {"prompt": "x", "seconds": "nine"}),
                       ("/v1/video-to-video", {"prompt": "x"})):
        refused = small.post(path, json=body)
        assert refused.status_code == 429, (path, refused.text)
    assert len(small.get("/v1/videos", params={"limit": 100}).json()["data"]) == listed
    # A retry that carries its Idempotency-Key still gets its job back.
    replay = small.post("/v1/text-to-video", json={"prompt": "low", "priority": -1, **FAST},
                        headers={"Idempotency-Key": "low-1"})
    assert replay.status_code == 202 and replay.json()["id"] == low["id"], replay.text
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert small.post(f"/v1/videos/{blocker['id']}/cancel").status_code == 200
    assert wait_terminal(small, blocker["id"])["state"] == "cancelled"
    done = {j: wait_terminal(small, j) for j in (low["id"], high["id"])}
    assert all(d["state"] == "completed" for d in done.values())
    assert done[high["id"]]["started_at"] < done[low["id"]]["started_at"]
    # Room again once the queue drained.
    again = small.post("/v1/text-to-video", json={"prompt": "room now", **FAST})
    assert again.status_code == 202
    wait_terminal(small, again.json()["id"])


async def _submit_at_once(url: str, count: int) -> list[httpx.Response]:
    """``count`` submissions in flight together, each from its own client (connection)."""
    async def one(i: int) -> httpx.Response:
        async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {API_KEY}"},
                                     timeout=60) as c:
            return await c.post("/v1/text-to-video", json={"prompt": f"at once {i}", **FAST})
    return list(await asyncio.gather(*(one(i) for i in range(count))))


def test_submissions_in_flight_together_cannot_overfill_the_queue(small: httpx.Client) -> None:
    """The bound holds for a burst, not only one request at a time: submissions that are all between
    their room check and their commit at once must not all get in (each holds its place until it is
    queued)."""
    blocker = hold_worker(small)
    try:
        answers = asyncio.run(_submit_at_once(str(small.base_url).rstrip("/"), 30))
        codes = sorted(r.status_code for r in answers)
        accepted = [r.json()["id"] for r in answers if r.status_code == 202]
        assert set(codes) <= {202, 429} and len(accepted) == 2, codes  # queue_max=2, the worker held
        assert all(small.get(f"/v1/videos/{j}").json()["state"] == "queued" for j in accepted)
        room = small.post("/v1/text-to-video", json={"prompt": "still full", **FAST})
        assert room.status_code == 429, room.text  # nothing reserved was left behind...
    finally:
        small.post(f"/v1/videos/{blocker}/cancel")
    for j in accepted:
        assert wait_terminal(small, j)["state"] == "completed"
    again = small.post("/v1/text-to-video", json={"prompt": "room again", **FAST})
    assert again.status_code == 202, again.text  # ...and every place came back
    wait_terminal(small, again.json()["id"])


def test_queue_unit_priority_fifo_and_bounds() -> None:
    q = JobQueue(max_size=4, max_per_key=2)
    q.push("a", 0, 1, "k1")
    q.push("b", 0, 2, "k2")
    q.push("c", 3, 3, "k2")
    with pytest.raises(QueueFull):
        q.push("d", 0, 4, "k2")  # per-key limit
    q.push("d", 0, 4, "k3")
    with pytest.raises(QueueFull):
        q.push("e", 0, 5, "k4")  # total bound
    assert q.positions() == {"c": 1, "a": 2, "b": 3, "d": 4}
    assert q.remove("a") and not q.remove("a")
    assert [q.pop(), q.pop(), q.pop(), q.pop()] == ["c", "b", "d", None]


def test_queue_unit_reserved_places_count_until_released() -> None:
    q = JobQueue(max_size=3, max_per_key=2)
    k1 = q.reserve("k1", 2)
    with pytest.raises(QueueFull, match="already has 2"):
        q.reserve("k1", 1)  # per key, reserved places count
    k2 = q.reserve("k2", 1)
    with pytest.raises(QueueFull, match="3 of 3"):
        q.check_room("k3")  # and in the total
    q.release(k1)
    q.push("a", 0, 1, "k1", force=True)  # what the commit's callback does: release, then push
    q.check_room("k1")
    q.release(k2)
    q.reserve("k3", 2)
    with pytest.raises(QueueFull):
        q.reserve("k3", 1)


def _job(job_id: str, state: JobState = JobState.QUEUED) -> Job:
    spec = {"width": 64, "height": 64, "model": "m"}
    return Job(id=job_id, seq=0, state=state, model="m", spec=spec, created_at=time.time())


def test_store_persists_and_idempotency(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "jobs.sqlite3")
    (a,), created = store.create([_job("a")], ("k:1", "h1"))
    assert created and a.seq > 0
    (again,), created = store.create([_job("b")], ("k:1", "h1"))
    assert not created and again.id == "a"
    with pytest.raises(IdempotencyConflict):
        store.create([_job("c")], ("k:1", "h2"))
    store.update("a", state=JobState.IN_PROGRESS, progress=40, metadata={"shot": "1"})
    store.close()
    reopened = JobStore(tmp_path / "jobs.sqlite3")
    job = reopened.get("a")
    assert job is not None and job.state is JobState.IN_PROGRESS and job.progress == 40
    assert [j.id for j in reopened.in_states([JobState.IN_PROGRESS])] == ["a"]
    assert reopened.get("b") is None and reopened.get("c") is None
    page, more = reopened.list(metadata={"shot": "1"})
    assert [j.id for j in page] == ["a"] and not more


def test_progress_is_written_behind_the_event_loop_and_never_over_a_finished_job(tmp_path: Path) -> None:
    """A burst of submissions holds the store's write lock for its commits; a progress event must not
    wait for it on the event loop (every request would stall), and a progress write that lands after
    the job finished, or after it was requeued and started again, must change nothing."""
    import threading

    from server.engine.base import EngineEvent, EventType
    from server.engine.inprocess import InProcessEngine
    from server.jobs.dispatcher import JobDispatcher
    from server.jobs.events import JobEvents
    from server.jobs.metrics import JobMetrics
    from server.jobs.progress import JobProgress

    store = JobStore(tmp_path / "jobs.sqlite3")
    store.create([_job("p")])
    store.update("p", state=JobState.IN_PROGRESS, attempts=1)
    d = JobDispatcher(store, JobQueue(8, 8), InProcessEngine(tmp_path, {}, "cpu", None, []), JobEvents(),
                      JobMetrics(), tmp_path, 3600.0)
    d.live["p"] = JobProgress("tiny-ltx-video", attempt=1)

    def drain() -> None:
        d._progress_writer.submit(lambda: None).result(timeout=10)

    release = threading.Event()
    holder = threading.Thread(target=lambda: (store._lock.acquire(), release.wait(10), store._lock.release()))
    holder.start()
    time.sleep(0.05)
    t0 = time.perf_counter()
    d._on_event(EngineEvent("p", EventType.STAGE, {"stage": "denoising"}, time.time()))
    assert time.perf_counter() - t0 < 0.5, "a progress event waited for the store's write lock"
    release.set()
    holder.join()
    drain()
    running = store.get("p")
    assert running is not None and running.stage == "denoising"

    store.update("p", state=JobState.QUEUED)           # requeued: attempt 1 is over
    store.update("p", state=JobState.IN_PROGRESS, attempts=2, stage=None)
    d._on_event(EngineEvent("p", EventType.STAGE, {"stage": "decoding"}, time.time()))  # attempt 1's, late
    drain()
    again = store.get("p")
    assert again is not None and again.stage is None

    d.live["p"] = JobProgress("tiny-ltx-video", attempt=2)
    store.update("p", state=JobState.COMPLETED, stage="encoding", progress=100)
    d._on_event(EngineEvent("p", EventType.STAGE, {"stage": "decoding"}, time.time()))  # lands after the end
    drain()
    done = store.get("p")
    assert done is not None and (done.state, done.stage, done.progress) == (JobState.COMPLETED, "encoding", 100)
    store.close()


def test_a_burst_of_creates_is_committed_in_groups_each_durable_before_it_returns(tmp_path: Path) -> None:
    """While one commit is in flight (the writer holds its lock, as during an fsync), the creates
    that arrive wait and go to disk together in the next group; one that fails (an idempotency
    conflict) rolls back alone."""
    import asyncio
    import sqlite3
    import threading

    store = JobStore(tmp_path / "jobs.sqlite3")
    store.create([_job("first")], ("k:first", "h"))
    release = threading.Event()
    holder = threading.Thread(target=lambda: (store._lock.acquire(), release.wait(10), store._lock.release()))
    holder.start()
    time.sleep(0.05)
    before = store.commits

    async def burst() -> list[object]:
        writes = [store.create_async([_job(f"j{i}")], (f"k:{i}", "h")) for i in range(50)]
        writes.append(store.create_async([_job("clash")], ("k:first", "other body")))
        pending = [asyncio.ensure_future(w) for w in writes]
        await asyncio.sleep(0.2)
        assert not any(p.done() for p in pending), "a create returned before its commit"
        release.set()
        return await asyncio.gather(*pending, return_exceptions=True)

    results = asyncio.run(burst())
    holder.join()
    assert isinstance(results[-1], IdempotencyConflict)
    assert all(r[1] is True for r in results[:-1]), results  # type: ignore[index]
    assert store.commits - before <= 2, store.commits - before  # one group (two if one began before the hold)
    # On disk, seen by a connection of its own: every accepted job, not the refused one.
    with sqlite3.connect(tmp_path / "jobs.sqlite3") as db:
        ids = {r[0] for r in db.execute("SELECT id FROM jobs")}
    assert ids == {"first", *(f"j{i}" for i in range(50))}
    store.close()


def test_a_write_whose_waiter_is_gone_still_runs_and_the_writer_goes_on(tmp_path: Path) -> None:
    """A waiter cancelled before its group commits (a request's task cancelled at shutdown; seen in a
    fresh-clone run): its write is applied, and the writer thread still serves the next writes (it
    used to die on set_result of the cancelled future, and every later write waited for ever)."""
    store = JobStore(tmp_path / "jobs.sqlite3")
    try:
        with store._lock:  # as during another group's fsync: the next group waits for the lock
            gone = store._write(lambda db: db.execute("CREATE TABLE marks (n INTEGER)").rowcount)
            assert gone.cancel()  # still pending: the writer has not taken it yet
        after = store._write(lambda db: db.execute("INSERT INTO marks VALUES (1)").rowcount)
        assert after.result(timeout=10) == 1  # the writer is alive, and the cancelled write ran
        assert store._writer.is_alive()
    finally:
        store.close()
