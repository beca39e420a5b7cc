"""A job whose stored spec fails its checks when the engine decodes it fails as invalid input,
naming the field, on its first attempt: the worker never sees it, nothing restarts, and the next
job runs. (Through the real server: a job stored by hand in SQLite, a LocalEngine worker process.)"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from pipelines import resolve
from pipelines.core.spec import GenerationSpec
from tests.server.conftest import API_KEY, LiveServer, make_settings, wait_terminal

pytestmark = pytest.mark.slow


def test_a_stored_spec_that_fails_on_decode_fails_its_job_clearly(tiny_weights_dir: Path, tmp_path: Path) -> None:
    from server.api.auth import key_id
    from server.engine.local import LocalEngine
    from server.jobs.models import Job, JobState
    from server.jobs.store import JobStore

    good = resolve(GenerationSpec(model="tiny-ltx-video", prompt="p", seed=1, steps=2)).model_dump(mode="json")
    # Stored by an older release, or edited by hand: 60 is no multiple of LTX's 32.
    bad = good | {"width": 60}
    store = JobStore(tmp_path / "jobs.sqlite3")
    now, owner = time.time(), key_id(API_KEY)
    store.create([
        Job(id="video_bad", seq=0, state=JobState.QUEUED, model="tiny-ltx-video", spec=bad, created_at=now,
            key_id=owner),
        Job(id="video_good", seq=0, state=JobState.QUEUED, model="tiny-ltx-video", spec=good, created_at=now + 1,
            key_id=owner),
    ])
    store.close()
    live = LiveServer(make_settings(tmp_path, tiny_weights_dir, engine="local", device="cpu")).start(timeout=180)
    try:
        engine = live.app.state.jobs.engine
        assert isinstance(engine, LocalEngine)
        with httpx.Client(base_url=live.url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=30) as c:
            failed = wait_terminal(c, "video_bad", timeout=120)
            assert failed["state"] == "failed", failed
            assert failed["error"]["code"] == "invalid_input"
            assert "width=60" in failed["error"]["message"]
            assert failed["attempts"] == 1  # failed once, not retried as a crash
            pid = engine.worker_pid("worker-0")
            assert wait_terminal(c, "video_good", timeout=120)["state"] == "completed"
            assert engine.worker_pid("worker-0") == pid  # the worker was never restarted
    finally:
        live.stop()
