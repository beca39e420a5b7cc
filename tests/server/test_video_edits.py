"""Video-to-video over HTTP and the openai SDK: uploads, ``video[id]``, resampled length, source audio,
bad source videos refused with nothing queued, and /v1/models listing each model's inputs."""

from __future__ import annotations

from pathlib import Path

import av
import httpx
import openai
import pytest

from pipelines.encode import probe
from tests.server.conftest import API_KEY, LiveServer, wait_terminal
from tests.video_files import write_video

V2V = {"model": "tiny-wan-vace", "steps": "2", "size": "64x64"}


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # 17 frames at 32 fps: 9 frames at VACE's 16 fps (a valid 4k+1 count).
    return write_video(tmp_path_factory.mktemp("src") / "source.mp4", 17, 32)


def _queued(client: httpx.Client) -> int:
    return len(client.get("/v1/videos", params={"limit": 100}).json()["data"])


def _download(client: httpx.Client, job_id: str, path: Path) -> Path:
    path.write_bytes(client.get(f"/v1/videos/{job_id}/content").content)
    return path


def test_upload_runs_at_the_model_rate_with_the_resampled_length(client: httpx.Client, source: Path,
                                                                 tmp_path: Path) -> None:
    with source.open("rb") as f:
        r = client.post("/v1/video-to-video", data={**V2V, "prompt": "as a watercolour"},
                        files={"video": ("source.mp4", f, "video/mp4")})
    assert r.status_code == 202, r.text
    job = wait_terminal(client, r.json()["id"])
    assert job["status"] == "completed", job
    assert job["spec"]["mode"] == "video-to-video" and job["spec"]["fps"] == 16
    info = probe(_download(client, job["id"], tmp_path / "out.mp4"))
    assert (info.frames, info.width, info.height, info.fps) == (9, 64, 64, 16.0)
    prov = client.get(f"/v1/videos/{job['id']}/provenance").json()
    import hashlib

    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    assert digest in str(prov)
    sidecar = client.get(f"/v1/videos/{job['id']}/content", params={"variant": "sidecar"}).json()
    assert sidecar["inputs"]["video"] == digest


def test_edits_by_id_of_a_finished_video(client: httpx.Client, source: Path) -> None:
    with source.open("rb") as f:
        first = client.post("/v1/videos/edits", data={**V2V, "prompt": "x"}, files={"video": ("s.mp4", f)}).json()
    done = wait_terminal(client, first["id"])
    assert done["status"] == "completed", done
    r = client.post("/v1/videos/edits", json={**V2V, "prompt": "at night", "video": {"id": first["id"]}})
    assert r.status_code == 202, r.text
    job = wait_terminal(client, r.json()["id"])
    assert job["status"] == "completed", job
    # The finished source is 9 frames at 16 fps: the edit keeps all 9.
    assert job["spec"]["num_frames"] == 9
    assert (job["parent_id"], job["relation"]) == (first["id"], "edit")
    chain = [link["id"] for link in client.get(f"/v1/videos/{job['id']}/lineage").json()["data"]]
    assert chain[:2] == [job["id"], first["id"]]


def test_source_audio_is_kept(client: httpx.Client, tmp_path: Path) -> None:
    src = write_video(tmp_path / "sound.mp4", 17, 32, audio=True)
    with src.open("rb") as f:
        r = client.post("/v1/video-to-video", data={**V2V, "prompt": "x"}, files={"video": ("s.mp4", f)})
    job = wait_terminal(client, r.json()["id"])
    assert job["status"] == "completed", job
    out = _download(client, job["id"], tmp_path / "out.mp4")
    with av.open(str(out)) as c:
        assert c.streams.audio, "the source's sound was dropped"
    with src.open("rb") as f:
        r = client.post("/v1/video-to-video", data={**V2V, "prompt": "x", "keep_audio": "false"},
                        files={"video": ("s.mp4", f)})
    job = wait_terminal(client, r.json()["id"])
    with av.open(str(_download(client, job["id"], tmp_path / "mute.mp4"))) as c:
        assert not c.streams.audio


@pytest.mark.parametrize(("name", "status", "needle"), [
    ("junk", 400, "not a decodable video"),
    ("empty", 400, "no frames"),
    ("long", 413, "max_seconds"),
    ("huge", 413, "max_pixels"),
    ("odd", 415, "codec 'ffv1'"),
])
def test_bad_sources_are_4xx_and_queue_nothing(client: httpx.Client, tmp_path: Path, name: str, status: int,
                                               needle: str) -> None:
    path = tmp_path / f"{name}.bin"
    if name == "junk":
        path.write_bytes(b"not a video" * 200)
    elif name == "empty":
        write_video(path.with_suffix(".mkv"), 0, 16).rename(path)
    elif name == "long":
        write_video(path.with_suffix(".mp4"), 61 * 2, 2, 32, 32).rename(path)  # 61 s at 2 fps
    elif name == "huge":
        write_video(path.with_suffix(".avi"), 1, 1, 10_000, 10_000, codec="mjpeg", pix_fmt="yuvj420p").rename(path)
    else:
        write_video(path.with_suffix(".mkv"), 3, 8, codec="ffv1").rename(path)
    before = _queued(client)
    with path.open("rb") as f:
        r = client.post("/v1/videos/edits", data={**V2V, "prompt": "x"}, files={"video": ("v", f)})
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["param"] == "video" and needle in err["message"]
    assert _queued(client) == before


def test_wrong_model_and_too_long_are_400(client: httpx.Client, source: Path) -> None:
    with source.open("rb") as f:
        r = client.post("/v1/videos/edits", data={"prompt": "x", "model": "tiny-ltx-video"},
                        files={"video": ("s.mp4", f)})
    assert r.status_code == 400 and r.json()["error"]["param"] == "model"
    assert "tiny-wan-vace" in r.json()["error"]["message"]
    with source.open("rb") as f:
        r = client.post("/v1/videos/edits", data={**V2V, "prompt": "x", "num_frames": "13"},
                        files={"video": ("s.mp4", f)})
    assert r.status_code == 400 and "spans 9 frames" in r.json()["error"]["message"]


def test_mask_and_reference_images_reach_the_job(client: httpx.Client, source: Path,
                                                 color_images: dict[str, Path]) -> None:
    with source.open("rb") as f, color_images["green"].open("rb") as m, color_images["red"].open("rb") as ref:
        r = client.post("/v1/video-to-video", data={**V2V, "prompt": "x"},
                        files={"video": ("s.mp4", f), "mask": ("m.png", m), "reference_images": ("r.png", ref)})
    assert r.status_code == 202, r.text
    job = wait_terminal(client, r.json()["id"])
    assert job["status"] == "completed", job
    assert job["spec"]["mask"] and len(job["spec"]["reference_images"]) == 1
    with color_images["red"].open("rb") as ref:
        r = client.post("/v1/text-to-video", data={"prompt": "x", "model": "tiny-ltx-video"},
                        files={"reference_images": ("r.png", ref)})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["param"] == "reference_images" and "takes no reference images" in r.text
    with color_images["red"].open("rb") as a, color_images["blue"].open("rb") as b:
        r = client.post("/v1/text-to-video", data={"prompt": "x", "model": "tiny-wan-vace", "steps": "2"},
                        files={"reference_images[0]": ("a.png", a), "reference_images[1]": ("b.png", b)})
    assert r.status_code == 202, r.text
    job = wait_terminal(client, r.json()["id"])
    assert job["status"] == "completed" and len(job["spec"]["reference_images"]) == 2, job


def test_models_list_the_inputs_each_takes(client: httpx.Client) -> None:
    models = {m["id"]: m for m in client.get("/v1/models").json()["data"]}
    assert {"video", "mask", "reference_images"} <= set(models["tiny-wan-vace"]["inputs"])
    assert "video-to-video" in models["tiny-wan-vace"]["modes"]
    ltx = models["tiny-ltx-video"]["inputs"]
    assert "image" in ltx and "last_image" in ltx and "video" not in ltx and "reference_images" not in ltx


def test_sdk_videos_edit_upload_and_id(server: LiveServer, source: Path) -> None:
    sdk = openai.OpenAI(base_url=f"{server.url}/v1", api_key=API_KEY, max_retries=0)
    extra = {"model": "tiny-wan-vace", "steps": 2, "size": "64x64"}
    with source.open("rb") as f:
        video = sdk.videos.edit(prompt="as claymation", video=f, extra_body=extra)
    done = sdk.videos.poll(video.id, poll_interval_ms=100)
    assert done.status == "completed", done
    # SDK 3.x treats `video` as a file part and raises on video={"id": ...}; the reference goes in the
    # body, which the SDK sends as the multipart key video[id].
    again = sdk.videos.edit(prompt="at dusk", video=openai.omit,  # type: ignore[arg-type]
                            extra_body={**extra, "video": {"id": video.id}})
    done = sdk.videos.poll(again.id, poll_interval_ms=100)
    assert done.status == "completed", done
    assert done.model_extra is not None and done.model_extra["spec"]["num_frames"] == 9


def test_remix_of_an_edit_owns_copies_of_its_inputs(client: httpx.Client, source: Path,
                                                     color_images: dict[str, Path]) -> None:
    with source.open("rb") as f, color_images["green"].open("rb") as m, color_images["red"].open("rb") as ref:
        r = client.post("/v1/video-to-video", data={**V2V, "prompt": "x"},
                        files={"video": ("s.mp4", f), "mask": ("m.png", m), "reference_images": ("r.png", ref)})
    parent = wait_terminal(client, r.json()["id"])
    assert parent["status"] == "completed", parent
    r = client.post(f"/v1/videos/{parent['id']}/remix", json={"prompt": "in the snow"})
    assert r.status_code == 202, r.text
    job = wait_terminal(client, r.json()["id"])
    assert job["status"] == "completed", job
    spec = job["spec"]
    assert spec["mode"] == "video-to-video" and len(spec["reference_images"]) == 1
    for path in (spec["video"], spec["mask"], spec["reference_images"][0]):
        assert job["id"] in path and parent["id"] not in path


def test_edits_take_the_shape_picked_once(client: httpx.Client, source: Path) -> None:
    """`aspect_ratio` on the edit routes maps onto the model's size for that shape, as on the create routes
    (the size /v1/models lists for it); with a size beside it, a 400 naming the field, nothing queued."""
    from pipelines.core.shapes import pick_shape
    from pipelines.families import default_catalog

    entry = default_catalog().get(V2V["model"])
    assert entry is not None
    expected = pick_shape(entry, "9:16", None)  # what the create routes pick for the same shape
    fields = {"model": V2V["model"], "steps": "2", "aspect_ratio": "9:16", "prompt": "as a watercolour"}
    with source.open("rb") as f:
        r = client.post("/v1/video-to-video", data=fields, files={"video": ("source.mp4", f, "video/mp4")})
    assert r.status_code == 202, r.text
    job = r.json()
    assert (job["spec"]["width"], job["spec"]["height"]) == (expected.width, expected.height)
    assert job["shape"]["aspect_ratio"] == "9:16"
    assert job["spec"]["height"] > job["spec"]["width"]
    client.post(f"/v1/videos/{job['id']}/cancel")
    before = _queued(client)
    with source.open("rb") as f:
        bad = client.post("/v1/video-to-video", data=fields | {"size": "64x64"},
                          files={"video": ("source.mp4", f, "video/mp4")})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "aspect_ratio", bad.text
    assert _queued(client) == before
