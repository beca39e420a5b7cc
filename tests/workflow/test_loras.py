"""LoRAs over HTTP: listing, applying (output changes), unloading (exact base output again),
switching between two LoRAs, a two-expert model's low-noise expert, and 400s at submission."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import pytest

from server.jobs.queue import MAX_SKIPS, JobQueue
from tests.workflow.conftest import SMALL, frames_hash, frames_of, run, sha256, sidecar, submit, wait_done


def test_list_loras(client: httpx.Client, loras_dir: Path) -> None:
    data = {x["name"]: x for x in client.get("/v1/loras").json()["data"]}
    assert set(data) == {"ltx-style", "ltx-other", "wan22-low", "broken"}
    ltx = data["ltx-style"]
    assert ltx["sha256"] == sha256(loras_dir / "ltx-style.safetensors") and ltx["file"] == "ltx-style.safetensors"
    assert ltx["bytes"] == (loras_dir / "ltx-style.safetensors").stat().st_size
    # tiny-ltx-video-distilled runs tiny-ltx-video's weights (with a published schedule), so it fits both.
    assert ltx["models"] == ["tiny-ltx-video", "tiny-ltx-video-distilled"] and ltx["families"] == ["ltx-video"]
    assert ltx["rank"] == 4
    # Made on Wan 2.2's low-noise expert; its keys fit every tiny Wan with the same block layout.
    assert "tiny-wan2.2-t2v-a14b" in data["wan22-low"]["models"] and "tiny-ltx-video" not in data["wan22-low"]["models"]
    assert data["broken"]["format"] == "unsupported" and data["broken"]["models"] == []


def test_lora_changes_output_and_unloading_restores_base(client: httpx.Client, tmp_path: Path) -> None:
    body = {"prompt": "a cat", "seed": 7, **SMALL}
    base_job = run(client, **body)
    base = frames_of(client, base_job["id"], tmp_path)
    styled_job = run(client, **body, loras=[{"name": "ltx-style", "strength": 1.0}])
    styled = frames_of(client, styled_job["id"], tmp_path)
    assert np.abs(base.astype(int) - styled).mean() > 1.0  # the LoRA visibly changes the video
    assert styled_job["provenance"]["loras"][0]["name"] == "ltx-style"
    # Unloaded: exactly the base frames again (same seed), the base model never reloaded.
    after = run(client, **body)
    assert frames_hash(client, after["id"]) == frames_hash(client, base_job["id"])
    assert "load_s" in after["timings"] and after["timings"]["load_s"] == 0.0

    # Two different LoRAs back to back each give their solo result.
    other = submit(client, "/v1/text-to-video", **body, loras=[{"name": "ltx-other"}])
    again = submit(client, "/v1/text-to-video", **body, loras=[{"name": "ltx-style", "strength": 1.0}])
    other_frames = frames_of(client, wait_done(client, other["id"])["id"], tmp_path)
    assert np.abs(other_frames.astype(int) - styled).mean() > 1.0
    assert frames_hash(client, wait_done(client, again["id"])["id"]) == frames_hash(client, styled_job["id"])
    # Strength matters.
    half = run(client, **body, loras=[{"name": "ltx-style", "strength": 0.5}])
    assert len({frames_hash(client, half["id"]), frames_hash(client, styled_job["id"]),
                frames_hash(client, base_job["id"])}) == 3


def test_lora_on_the_low_noise_expert_of_a_two_expert_model(client: httpx.Client, tmp_path: Path) -> None:
    body = {"model": "tiny-wan2.2-t2v-a14b", "prompt": "rain", "seed": 3, "width": 32, "height": 32,
            "num_frames": 5, "steps": 2}
    base = run(client, **body)
    job = run(client, **body, loras=[{"name": "wan22-low", "expert": "low_noise"}])
    assert job["spec"]["loras"][0]["targets"] == ["transformer_2"]
    assert not np.array_equal(frames_of(client, job["id"], tmp_path), frames_of(client, base["id"], tmp_path))
    assert frames_hash(client, run(client, **body)["id"]) == frames_hash(client, base["id"])


@pytest.mark.parametrize(("body", "param", "words"), [
    ({"loras": [{"name": "nope"}]}, "loras[0].name", "no such LoRA"),
    ({"loras": [{"name": "wan22-low"}]}, "loras[0].name", "does not fit tiny-ltx-video"),
    ({"loras": [{"name": "broken"}]}, "loras[0].name", "safetensors"),
    ({"loras": [{"name": "ltx-style", "expert": "low_noise"}]}, "loras[0].expert", "one expert"),
    ({"loras": [{"name": "ltx-style"}] * 5}, "loras", "at most 4"),
    ({"loras": [{"name": "ltx-style", "strength": 99}]}, "loras", "less than or equal"),
    ({"loras": [{"name": "../ltx-style"}]}, "loras[0].name", "no such LoRA"),
])
def test_bad_loras_are_400s_at_submission(client: httpx.Client, body: dict, param: str, words: str) -> None:
    r = client.post("/v1/text-to-video", json={"prompt": "x", **SMALL, **body})
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["param"] == param and words in err["message"], err


def test_loras_in_multipart_and_on_openai_route(client: httpx.Client) -> None:
    r = client.post("/v1/text-to-video", data={"prompt": "x", "steps": "1", "width": "64", "height": "64",
                                               "num_frames": "9", "loras": '[{"name": "ltx-style"}]'})
    assert r.status_code == 202, r.text
    r2 = client.post("/v1/videos", json={"prompt": "x", "size": "64x64", "seconds": "0.3", "steps": 1,
                                         "loras": [{"name": "ltx-style", "strength": 0.8}]})
    assert r2.status_code == 202, r2.text
    for job in (r.json(), r2.json()):
        side = sidecar(client, wait_done(client, job["id"])["id"])
        assert side["spec"]["loras"][0]["name"] == "ltx-style"


def test_queue_groups_equal_priority_jobs_by_lora_set_without_starving() -> None:
    q = JobQueue(100, 100)
    for i, (prio, aff) in enumerate([(0, ""), (0, "A"), (0, ""), (0, "A"), (5, "")]):
        q.push(f"j{i}", prio, i, "k", affinity=aff)
    # Higher priority first whatever its set; then the worker's set "A"; then FIFO.
    assert [q.pop({"A"}) for _ in range(5)] == ["j4", "j1", "j3", "j0", "j2"]
    q = JobQueue(100, 100)
    q.push("old", 0, 0, "k", affinity="B")
    for i in range(1, 10):
        q.push(f"a{i}", 0, i, "k", affinity="A")
    order = [q.pop({"A"}) for _ in range(10)]
    assert order.index("old") == MAX_SKIPS  # passed over at most MAX_SKIPS times
