"""HunyuanVideo 1.5 over HTTP on the tiny model: a text-to-video job completes and its MP4 decodes
(PyAV) to the requested size and frame count; an image-to-video job from an uploaded image too."""

from __future__ import annotations

import io
from pathlib import Path

import av
import httpx

from tests.server.conftest import wait_terminal


def _frames(client: httpx.Client, job_id: str) -> tuple[int, int, int]:
    r = client.get(f"/v1/videos/{job_id}/content")
    assert r.status_code == 200, r.text
    with av.open(io.BytesIO(r.content)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    return len(frames), frames[0].shape[1], frames[0].shape[0]


def test_text_and_image_to_video_over_http(client: httpx.Client, color_images: dict[str, Path]) -> None:
    r = client.post("/v1/text-to-video", json={"prompt": "a cat walks", "model": "tiny-hunyuanvideo1.5-t2v",
                                               "steps": 2, "size": "96x64"})
    assert r.status_code == 202, r.text
    job = wait_terminal(client, r.json()["id"])
    assert job["state"] == "completed", job
    assert _frames(client, job["id"]) == (9, 96, 64)

    with color_images["red"].open("rb") as f:
        r = client.post("/v1/image-to-video", data={"prompt": "a cat walks", "model": "tiny-hunyuanvideo1.5-i2v",
                                                    "steps": "2"}, files={"image": ("red.png", f, "image/png")})
    assert r.status_code == 202, r.text
    job = wait_terminal(client, r.json()["id"])
    assert job["state"] == "completed", job
    assert _frames(client, job["id"]) == (9, 64, 64)
