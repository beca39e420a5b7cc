"""Studio records are durable: a restarted server (same data folder) has the project, the shot with its
keyframe, the reviews; a handoff interrupted by the restart is failed with the reason, never stuck."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from server.studio.models import Handoff, HandoffState
from server.studio.store import StudioStore
from tests.server.conftest import API_KEY, LiveServer, make_settings
from tests.studio.conftest import png


def test_records_survive_a_restart(tiny_weights_dir: Path, tmp_path: Path) -> None:
    headers = {"Authorization": f"Bearer {API_KEY}"}
    first = LiveServer(make_settings(tmp_path, tiny_weights_dir)).start()
    try:
        with httpx.Client(base_url=first.url, headers=headers, timeout=60) as c:
            project = c.post("/v1/projects", json={"name": "durable", "aspect_ratio": "1:1"}).json()
            shot = c.post(f"/v1/projects/{project['id']}/shots",
                          files={"keyframe": ("k.png", png(64, 64), "image/png")},
                          data={"name": "one", "description": "a lighthouse"}).json()
    finally:
        first.stop()
    # A handoff left "building" by a crash (written straight into the same database).
    store = StudioStore(tmp_path / "jobs.sqlite3")
    store.add_handoff(Handoff("handoff_crashed", project["id"], "key", HandoffState.BUILDING, time.time(), None,
                              None, None, 1))
    store.close()

    second = LiveServer(make_settings(tmp_path, tiny_weights_dir)).start()
    try:
        with httpx.Client(base_url=second.url, headers=headers, timeout=60) as c:
            again = c.get(f"/v1/projects/{project['id']}").json()
            assert (again["name"], again["aspect_ratio"], again["shots"]) == ("durable", "1:1", 1)
            assert c.get(f"/v1/shots/{shot['id']}/keyframe").content == png(64, 64)
            status = c.get(f"/v1/projects/{project['id']}/handoff/status").json()
            assert status["status"] == "failed" and "restart" in status["error"], status
            r = c.get(f"/v1/projects/{project['id']}/handoff")
            assert r.status_code == 409 and r.json()["error"]["code"] == "handoff_not_ready", r.text
    finally:
        second.stop()
