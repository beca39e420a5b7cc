"""SSE order and progress, cancel (queued and running), idempotency, delete, retention."""

from __future__ import annotations

import time

import httpx

from tests.server.conftest import FAST, LiveServer, hold_worker, job_events, wait_state, wait_terminal

SLOW = {"steps": 60}  # long enough to be caught running


def test_sse_steps_in_order_with_monotonic_progress_and_eta(client: httpx.Client) -> None:
    # The worker is held until the stream is open, so the watched job is seen from "queued" onwards
    # (a late subscriber gets a snapshot, not the events it missed).
    blocker = hold_worker(client)
    job = client.post("/v1/text-to-video", json={"prompt": "watch me", "steps": 5}).json()
    events = job_events(client, job["id"], release=blocker)
    names = [n for n, _ in events]
    assert names[0] == "queued" and names[-1] == "completed", names
    assert "started" in names
    steps = [d["step"] for n, d in events if n == "progress"]
    assert steps == [1, 2, 3, 4, 5], events
    progress = [d["progress"] for n, d in events if "progress" in d and d["progress"] is not None]
    assert progress == sorted(progress) and progress[-1] == 100
    assert all(d["eta_seconds"] is not None for n, d in events if n == "progress")
    stages = [d["stage"] for n, d in events if n == "stage"]
    assert stages.index("denoising") < stages.index("decoding") < stages.index("encoding")
    # A stream opened after the end gets the terminal event at once.
    assert [n for n, _ in job_events(client, job["id"])] == ["completed"]
    assert wait_terminal(client, blocker)["state"] == "cancelled"


def test_cancel_queued_and_running(client: httpx.Client) -> None:
    running = client.post("/v1/text-to-video", json={"prompt": "long", **SLOW}).json()
    queued = client.post("/v1/text-to-video", json={"prompt": "never runs", **FAST}).json()
    r = client.post(f"/v1/videos/{queued['id']}/cancel")
    assert r.status_code == 200
    body = r.json()
    assert body["state"] == "cancelled" and body["status"] == "failed" and body["error"]["code"] == "cancelled"
    wait_state(client, running["id"], "in_progress")
    deadline = time.monotonic() + 30
    while client.get(f"/v1/videos/{running['id']}").json()["progress"] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    t0 = time.monotonic()
    body = client.post(f"/v1/videos/{running['id']}/cancel").json()
    assert body["state"] == "cancelled" and body["error"]["code"] == "cancelled", body
    assert time.monotonic() - t0 < 5  # stops at the next step, not at the end of 60
    assert 0 < body["progress"] < 95
    assert client.get(f"/v1/videos/{queued['id']}").json()["attempts"] == 0
    # Cancelling a finished job changes nothing.
    assert client.post(f"/v1/videos/{queued['id']}/cancel").json()["state"] == "cancelled"


def test_idempotency_replay_and_conflict(client: httpx.Client) -> None:
    headers = {"Idempotency-Key": f"idem-{time.time_ns()}"}
    body = {"prompt": "once", **FAST}
    a = client.post("/v1/text-to-video", json=body, headers=headers)
    b = client.post("/v1/text-to-video", json=body, headers=headers)
    assert a.status_code == b.status_code == 202
    assert a.json()["id"] == b.json()["id"] and b.headers.get("Idempotent-Replayed") == "true"
    c = client.post("/v1/text-to-video", json={**body, "prompt": "twice"}, headers=headers)
    assert c.status_code == 409 and c.json()["error"]["type"] == "conflict_error"
    wait_terminal(client, a.json()["id"])


def test_delete_running_job_removes_record_and_files(client: httpx.Client, server: LiveServer) -> None:
    job = client.post("/v1/text-to-video", json={"prompt": "delete me", **SLOW}).json()
    wait_state(client, job["id"], "in_progress")
    folder = server.app.state.jobs.jobs_dir / job["id"]
    r = client.delete(f"/v1/videos/{job['id']}")
    assert r.status_code == 200 and r.json() == {"id": job["id"], "object": "video.deleted", "deleted": True}
    assert client.get(f"/v1/videos/{job['id']}").status_code == 404
    assert not folder.exists()
    assert client.delete(f"/v1/videos/{job['id']}").status_code == 404


def test_retention_cleanup_removes_expired_jobs(client: httpx.Client, server: LiveServer) -> None:
    job = wait_terminal(client, client.post("/v1/text-to-video", json={"prompt": "old", **FAST}).json()["id"])
    assert job["expires_at"] is not None
    service = server.app.state.jobs
    # A minute before it expires the job stays (older jobs of this shared server may go).
    service.cleanup_expired(now=job["expires_at"] - 60)
    assert client.get(f"/v1/videos/{job['id']}").status_code == 200
    assert service.cleanup_expired(now=job["expires_at"] + 1) >= 1
    assert client.get(f"/v1/videos/{job['id']}").status_code == 404
    assert not (service.jobs_dir / job["id"]).exists()
