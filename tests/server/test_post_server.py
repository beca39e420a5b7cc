"""The post stage through the server: a generation with ``post``, validation at the edge, content
variants, re-post of a finished video, cancel during post. Real HTTP on loopback, tiny LTX on CPU;
no learned post weights are present, so the sidecar must name the fallbacks (classical, lanczos)."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

import av
import httpx
import pytest
from PIL import Image

from tests.server.conftest import FAST, wait_state, wait_terminal

BASE = {"prompt": "a red fox", "width": 64, "height": 64, "num_frames": 9, **FAST}


def _probe(data: bytes, tmp_path: Path, name: str) -> dict[str, Any]:
    path = tmp_path / name
    path.write_bytes(data)
    with av.open(str(path)) as c:
        vs = c.streams.video[0]
        n = sum(1 for _ in c.decode(vs))
        return {"frames": n, "width": vs.codec_context.width, "height": vs.codec_context.height,
                "fps": float(vs.average_rate or 0), "codec": vs.codec_context.name, "format": c.format.name}


def _content(client: httpx.Client, job_id: str, variant: str) -> httpx.Response:
    r = client.get(f"/v1/videos/{job_id}/content", params={"variant": variant})
    assert r.status_code == 200, r.text
    return r


@pytest.fixture(scope="module")
def posted(client_module: httpx.Client) -> dict[str, Any]:
    """One generation with interpolate ×2, an exact upscale and a preset (shared by several tests)."""
    post = {"interpolate": {"factor": 2}, "upscale": {"size": "96x160", "fit": "cover"},
            "export": {"preset": "vertical-1080"}}
    r = client_module.post("/v1/text-to-video", json={**BASE, "post": post})
    assert r.status_code == 202, r.text
    created = r.json()
    assert created["post"]["interpolate"]["factor"] == 2 and created["post"]["export"]["preset"] == "vertical-1080"
    return wait_terminal(client_module, created["id"])


@pytest.fixture(scope="module")
def client_module(server: Any) -> Any:
    from tests.server.conftest import API_KEY

    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=60) as c:
        yield c


def test_generation_with_post_delivers_what_was_asked(posted: dict[str, Any], client: httpx.Client,
                                                      tmp_path: Path) -> None:
    assert posted["state"] == "completed", posted
    job_id = posted["id"]
    video = _content(client, job_id, "video")
    assert video.headers["content-type"] == "video/mp4"
    info = _probe(video.content, tmp_path, "out.mp4")
    # 9 frames at 24 fps, ×2 -> (9-1)*2+1 = 17 at 48 fps; upscale.size wins over the preset's 1080x1920
    assert info == {"frames": 17, "width": 96, "height": 160, "fps": 48.0, "codec": "h264",
                    "format": info["format"]}
    assert "mp4" in info["format"]
    # The job object announces what the post stage delivers, not the generated size.
    assert posted["size"] == "96x160"
    assert posted["output"] == {"frames": 17, "fps": 48, "width": 96, "height": 160, "codec": "h264",
                                "container": "mp4", "size": "96x160"}
    side = _content(client, job_id, "sidecar").json()
    assert side["post"]["methods"] == {"interpolate": "classical-dis-flow", "upscale": "lanczos"}
    assert side["post"]["frames_in"] == 9 and side["post"]["frames_out"] == 17
    assert side["output"]["frames"] == 17 and side["output"]["codec"] == "h264"
    assert side["generated"]["frames"] == 9  # the frames a re-post will start from
    assert posted["timings"]["post_s"] > 0


def test_variants_have_the_right_types_and_sizes(posted: dict[str, Any], client: httpx.Client) -> None:
    job_id = posted["id"]
    thumb = _content(client, job_id, "thumbnail")
    assert thumb.headers["content-type"] == "image/webp"
    assert Image.open(io.BytesIO(thumb.content)).size == (96, 160)
    last = _content(client, job_id, "last_frame")
    assert last.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(last.content)).size == (96, 160)
    sheet = _content(client, job_id, "spritesheet")
    assert sheet.headers["content-type"] == "image/jpeg"
    layout = _content(client, job_id, "sidecar").json()["spritesheet"]
    # 17 frames -> 16 evenly spaced cells, first and last included, 4 columns of cells 192 px tall at most
    assert layout["frames"][0] == 0 and layout["frames"][-1] == 16 and len(layout["frames"]) == 16
    assert (layout["columns"], layout["rows"]) == (4, 4)
    assert Image.open(io.BytesIO(sheet.content)).size == (4 * layout["cell_width"], 4 * layout["cell_height"])
    assert posted["outputs"]["spritesheet"].endswith("variant=spritesheet")
    bad = client.get(f"/v1/videos/{job_id}/content", params={"variant": "poster"})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "variant"


def test_plain_generation_has_a_spritesheet_too(client: httpx.Client) -> None:
    job = wait_terminal(client, client.post("/v1/text-to-video", json=BASE).json()["id"])
    sheet = Image.open(io.BytesIO(_content(client, job["id"], "spritesheet").content))
    assert sheet.format == "JPEG" and sheet.size == (4 * 64, 3 * 64)  # 9 frames: 4 columns, 3 rows, cells 64 px
    assert job["post"] is None


@pytest.mark.parametrize(("post", "param"), [
    ({"interpolate": {"factor": 0}}, "post.interpolate.factor"),
    ({"upscale": {"size": "8x1920"}}, "post.upscale.size"),
    ({"export": {"preset": "tiktok-8k"}}, "post.export.preset"),
    ({"export": {"codec": "prores", "container": "mp4"}}, "post.export.codec"),
    ({"upscale": {"factor": 3}}, "post.upscale.factor"),
    ({"interpolate": {"factor": 2, "bogus": 1}}, "post.interpolate.bogus"),
    ({"upscale": {"factor": 2, "model": "../../etc/passwd"}}, "post.upscale.model"),
    ({"export": {"audio": "/etc/passwd"}}, "post.export.audio"),
])
def test_bad_post_is_a_400_naming_the_field(client: httpx.Client, post: dict[str, Any], param: str) -> None:
    r = client.post("/v1/text-to-video", json={**BASE, "post": post})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["param"] == param, r.json()


def test_post_in_multipart_and_openai_videos(client: httpx.Client, tmp_path: Path) -> None:
    # multipart carries the post object as a JSON string field
    form = {"prompt": (None, "x"), "width": (None, "64"), "height": (None, "64"), "num_frames": (None, "9"),
            "steps": (None, "2"), "post": (None, json.dumps({"export": {"codec": "vp9", "crf": 40}}))}
    r = client.post("/v1/text-to-video", files=form)
    assert r.status_code == 202, r.text
    bad = client.post("/v1/text-to-video", files={**form, "post": (None, '{"interpolate": {"factor": 0}}')})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "post.interpolate.factor"
    job = wait_terminal(client, r.json()["id"])
    assert job["state"] == "completed", job
    video = _content(client, job["id"], "video")
    assert video.headers["content-type"] == "video/webm"
    info = _probe(video.content, tmp_path, "out.webm")
    assert info["codec"] == "vp9" and (info["width"], info["height"], info["frames"]) == (64, 64, 9)
    # POST /v1/videos takes it as an extra field (the OpenAI SDK's extra_body)
    r = client.post("/v1/videos", json={"prompt": "a fox", "size": "64x64", "steps": 2,
                                        "post": {"export": {"preset": "prores-archive"}}})
    assert r.status_code == 202, r.text
    job = wait_terminal(client, r.json()["id"])
    video = _content(client, job["id"], "video")
    assert video.headers["content-type"] == "video/quicktime"
    assert _probe(video.content, tmp_path, "out.mov")["codec"] == "prores"
    bad = client.post("/v1/videos", json={"prompt": "a fox", "post": {"export": {"codec": "prores",
                                                                              "container": "mp4"}}})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "post.export.codec"


def test_repost_makes_a_new_job_from_the_generated_frames(posted: dict[str, Any], client: httpx.Client,
                                                          tmp_path: Path) -> None:
    r = client.post(f"/v1/videos/{posted['id']}/post",
                    json={"post": {"upscale": {"factor": 2}, "export": {"codec": "h264", "crf": 20}}})
    assert r.status_code == 202, r.text
    created = r.json()
    assert created["id"] != posted["id"] and created["source_video_id"] == posted["id"]
    job = wait_terminal(client, created["id"])
    assert job["state"] == "completed", job
    # From the 9 generated 64x64 frames (not the 17 interpolated ones): ×2 -> 128x128, 24 fps, no interpolation
    info = _probe(_content(client, job["id"], "video").content, tmp_path, "re.mp4")
    assert (info["frames"], info["width"], info["height"], info["fps"]) == (9, 128, 128, 24.0)
    side = _content(client, job["id"], "sidecar").json()
    assert side["job"]["source_video_id"] == posted["id"] and side["post"]["methods"] == {"upscale": "lanczos"}
    assert side["seed"] == posted["seed"]  # provenance of the frames carried over
    assert "denoising_s" not in job["timings"] and job["timings"]["post_s"] > 0
    # errors: unknown source, missing post, bad post
    assert client.post("/v1/videos/video_nope/post", json={"post": {"upscale": {"factor": 2}}}).status_code == 404
    missing = client.post(f"/v1/videos/{posted['id']}/post", json={})
    assert missing.status_code == 400 and missing.json()["error"]["param"] == "post"
    bad = client.post(f"/v1/videos/{posted['id']}/post", json={"post": {"upscale": {"size": "4x4"}}})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "post.upscale.size"


def test_cancel_during_post(client: httpx.Client) -> None:
    # ×8 interpolation to a large frame: long enough on a CPU to be caught in the post stage
    post = {"interpolate": {"factor": 8}, "upscale": {"size": "1920x1920"}, "export": {"encoder_preset": "slow"}}
    r = client.post("/v1/text-to-video", json={**BASE, "num_frames": 17, "post": post})
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    seen = _wait_post_progress(client, job_id)
    assert 90 <= seen["progress"] < 100
    cancelled = client.post(f"/v1/videos/{job_id}/cancel").json()
    final = cancelled if cancelled["state"] == "cancelled" else wait_terminal(client, job_id)
    assert final["state"] == "cancelled", final
    assert final["error"]["code"] == "cancelled"


def _wait_post_progress(client: httpx.Client, job_id: str) -> dict[str, Any]:
    job = wait_state(client, job_id, "in_progress")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = client.get(f"/v1/videos/{job_id}").json()
        if job["stage"] == "post" and job["progress"] > 90:
            return job
        assert job["state"] == "in_progress", job
        time.sleep(0.05)
    raise TimeoutError(job)
