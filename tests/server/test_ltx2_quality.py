"""``quality: "final"`` over HTTP on the tiny LTX-2: both stages in the job's events (denoising,
upsampling, refining), progress over both to 100, the MP4 at the requested size and frame count
(PyAV), the sidecar's flow record; the OpenAI shape takes it too; refusals are 400s naming the field
that queue nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import av
import httpx
import pytest

from tests.server.conftest import hold_worker, job_events, wait_terminal

MODEL = "tiny-ltx-2"
FINAL: dict[str, Any] = {"model": MODEL, "steps": 2, "quality": "final", "width": 128, "height": 64, "num_frames": 9}


def test_final_over_http_runs_both_stages_to_the_requested_size(client: httpx.Client, tmp_path: Path) -> None:
    hold = hold_worker(client)
    r = client.post("/v1/text-to-video", json={"prompt": "waves and gulls", "seed": 3, **FINAL})
    assert r.status_code == 202, r.text
    events = job_events(client, r.json()["id"], release=hold)
    assert events[0][0] == "queued" and events[-1][0] == "completed", events
    stages = [d["stage"] for n, d in events if n == "stage"]
    assert stages.index("denoising") < stages.index("upsampling") < stages.index("refining") \
        < stages.index("decoding") < stages.index("encoding"), stages
    steps = [(d["step"], d["total"]) for n, d in events if n == "progress" and "step" in d]
    assert steps[-1] == (5, 5) and [s for s, _ in steps] == sorted(s for s, _ in steps)  # 2 + 3 steps
    progress = [d["progress"] for _, d in events if d.get("progress") is not None]
    assert progress == sorted(progress) and progress[-1] == 100
    job = wait_terminal(client, r.json()["id"])
    assert job["spec"]["quality"] == "final"
    video = tmp_path / "final.mp4"
    video.write_bytes(client.get(f"/v1/videos/{job['id']}/content", params={"variant": "video"}).content)
    with av.open(str(video)) as c:
        stream = c.streams.video[0]
        assert (stream.width, stream.height) == (128, 64) and len(c.streams.audio) == 1
        assert sum(1 for _ in c.decode(video=0)) == 9
    side = client.get(f"/v1/videos/{job['id']}/content", params={"variant": "sidecar"}).json()
    flow = side["optimizations"]["flow"]
    assert flow["quality"] == "final"
    assert [(s["name"], s["width"], s["height"], s["steps"]) for s in flow["stages"]] == [
        ("denoising", 64, 32, 2), ("upsampling", 128, 64, 0), ("refining", 128, 64, 3)]
    assert flow["stages"][2]["sigmas"] == [0.909375, 0.725, 0.421875]


def test_openai_shape_takes_quality(client: httpx.Client) -> None:
    r = client.post("/v1/videos", data={"prompt": "waves", "model": MODEL, "size": "128x64", "seconds": "0.3",
                                        "steps": "2", "quality": "final"})
    assert r.status_code == 202, r.text
    job = wait_terminal(client, r.json()["id"])
    assert job["state"] == "completed" and job["spec"]["quality"] == "final", job
    assert (job["spec"]["width"], job["spec"]["height"]) == (128, 64)


@pytest.mark.parametrize(("path", "fields", "status", "param", "words"), [
    ("/v1/text-to-video", {**FINAL, "model": "tiny-wan2.1-t2v"}, 400, "quality", "tiny-ltx-2"),
    ("/v1/text-to-video", {**FINAL, "width": 96}, 400, "width", "multiple of 64"),
    ("/v1/videos", {"model": MODEL, "size": "96x64", "quality": "final"}, 400, "width", "multiple of 64"),
    # Not one of the values at all: the request shape's own check (422, as for speed), naming both values.
    ("/v1/text-to-video", {**FINAL, "quality": "best"}, 422, "quality", "'draft' or 'final'"),
])
def test_bad_quality_is_refused_naming_the_field_and_queues_nothing(client: httpx.Client, path: str,
                                                                    fields: dict[str, Any], status: int, param: str,
                                                                    words: str) -> None:
    before = len(client.get("/v1/videos", params={"limit": 100}).json()["data"])
    r = client.post(path, json={"prompt": "x", **fields})
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["param"] == param and words in err["message"], err
    assert len(client.get("/v1/videos", params={"limit": 100}).json()["data"]) == before
