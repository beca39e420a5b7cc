"""Per-request speed levels through the API reach the worker and the sidecar."""

from __future__ import annotations

import httpx

from tests.server.conftest import wait_terminal


def test_speed_level_is_validated_run_and_recorded(client: httpx.Client) -> None:
    bad = client.post("/v1/text-to-video", json={"prompt": "x", "speed": "ludicrous"})
    assert bad.status_code == 422 and bad.json()["error"]["param"] == "speed"
    r = client.post("/v1/text-to-video", json={"prompt": "a boat", "steps": 6, "speed": "fastest", "seed": 3})
    assert r.status_code == 202, r.text
    job = wait_terminal(client, r.json()["id"])
    assert job["state"] == "completed" and job["spec"]["speed"] == "fastest"
    sidecar = client.get(f"/v1/videos/{job['id']}/content", params={"variant": "sidecar"}).json()
    assert sidecar["optimizations"]["speed"]["level"] == "fastest"
    assert sidecar["optimizations"]["speed"]["cache"]["type"] == "FirstBlockCacheConfig"
    assert sidecar["optimizations"]["attention_backend"] == "native"
    # The OpenAI route takes it as an extra field (the SDK's extra_body).
    r = client.post("/v1/videos", data={"prompt": "a boat", "speed": "fast", "size": "64x64", "seconds": "1"})
    assert r.status_code == 202, r.text
    assert wait_terminal(client, r.json()["id"])["spec"]["speed"] == "fast"
