"""Extension by last-frame chaining: OpenAI SDK ``videos.extend`` and the native route, the stitched
clip's length, its first frames equal to the source's, chains, uploads, sizes and refusals."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import numpy as np
import openai
import pytest

from pipelines.encode import encode_mp4, probe
from tests.workflow.conftest import SMALL, download, frames_of, run, sidecar, submit, wait_done

# Within codec tolerance: the source frames are decoded and re-encoded once more in the stitched file.
TOLERANCE = 6.0


def _close(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def test_extend_with_the_sdk_then_chain_natively(client: httpx.Client, sdk: openai.OpenAI, tmp_path: Path) -> None:
    source = run(client, prompt="a horse runs on the beach", seed=3, **SMALL)
    src_frames = frames_of(client, source["id"], tmp_path)
    assert len(src_frames) == 9

    # 0.3 s at the source's 24 fps rounds up to LTX's 8k+1 rule: a 9-frame continuation.
    # openai 3.x treats `video` as a file part and raises on video={"id": ...} before sending; the same
    # call with the reference in extra_body goes out exactly as documented (multipart, `video[id]`).
    ext = sdk.videos.extend(prompt="the horse jumps", seconds="0.3", video=openai.omit,  # type: ignore[arg-type]
                            extra_body={"video": {"id": source["id"]}, "steps": 2, "seed": 11})
    first = wait_done(client, ext.id)
    assert first["parent_id"] == source["id"] and first["relation"] == "extend"
    assert first["spec"]["mode"] == "image-to-video" and first["size"] == "64x64"
    stitched = frames_of(client, first["id"], tmp_path)
    assert len(stitched) == 9 + 9 - 1
    assert first["seconds"] == f"{17 / 24:.2f}"
    assert _close(stitched[:9], src_frames) < TOLERANCE
    # The seam: the last source frame is kept once; the continuation was conditioned on it.
    assert _close(stitched[8], src_frames[-1]) < TOLERANCE

    # Chain: extend the extension through the native route with a frame count.
    second = wait_done(client, submit(client, f"/v1/videos/{first['id']}/extend", prompt="it lands",
                                      num_frames=17, steps=2)["id"])
    chained = frames_of(client, second["id"], tmp_path)
    assert len(chained) == 17 + 17 - 1
    assert _close(chained[:17], stitched) < TOLERANCE
    assert _close(chained[:9], src_frames) < 2 * TOLERANCE

    lineage = client.get(f"/v1/videos/{second['id']}/lineage").json()["data"]
    assert [x["id"] for x in lineage] == [second["id"], first["id"], source["id"]]
    assert [x["relation"] for x in lineage] == ["extend", "extend", None]
    side = sidecar(client, second["id"])
    assert side["workflow"]["parent_id"] == first["id"] and side["workflow"]["relation"] == "extend"
    parent_mp4 = download(client, first["id"], tmp_path)
    assert side["workflow"]["source"]["sha256"] == hashlib.sha256(parent_mp4.read_bytes()).hexdigest()
    assert side["workflow"]["source"]["frames"] == 17 and side["output"]["frames"] == 33


def test_sdk_extend_with_an_uploaded_file(client: httpx.Client, sdk: openai.OpenAI, tmp_path: Path) -> None:
    source = run(client, prompt="a bird flies", seed=4, **SMALL)
    mp4 = download(client, source["id"], tmp_path)
    ext = sdk.videos.extend(prompt="over the sea", seconds="0.3", video=("shot.mp4", mp4.read_bytes(), "video/mp4"),
                            extra_body={"steps": 2})
    job = wait_done(client, ext.id)
    assert job["parent_id"] is None and job["provenance"]["source"]["sha256"] == hashlib.sha256(
        mp4.read_bytes()).hexdigest()
    stitched = frames_of(client, job["id"], tmp_path)
    assert len(stitched) == 17 and _close(stitched[:9], frames_of(client, source["id"], tmp_path)) < TOLERANCE


def test_extend_an_uploaded_mp4_off_the_model_grid_with_an_end_image(client: httpx.Client, tmp_path: Path,
                                                                   color_images: dict[str, Path]) -> None:
    # 80x48 is not a multiple of 32: the continuation runs at 96x64 and is resized back to 80x48.
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (5, 48, 80, 3), dtype=np.uint8)
    upload = encode_mp4(frames, tmp_path / "in.mp4", 12)
    with upload.open("rb") as f, color_images["blue"].open("rb") as end:
        r = client.post("/v1/videos/extensions", files={"video": ("in.mp4", f, "video/mp4"),
                                                        "last_image": ("end.png", end, "image/png")},
                        data={"prompt": "fade to blue", "seconds": "0.5", "steps": "2"})
    assert r.status_code == 202, r.text
    job = wait_done(client, r.json()["id"])
    assert job["spec"]["mode"] == "first-last-frame" and job["parent_id"] is None
    assert (job["spec"]["width"], job["spec"]["height"], job["spec"]["fps"]) == (96, 64, 12)
    info = probe(download(client, job["id"], tmp_path))
    # 0.5 s at 12 fps -> 9 frames (8k+1); 5 + 9 - 1.
    assert (info.frames, info.width, info.height) == (13, 80, 48)
    assert job["provenance"]["source"]["size"] == "80x48"


def test_extend_refusals(client: httpx.Client, tmp_path: Path) -> None:
    t2v = run(client, model="tiny-wan2.1-t2v", prompt="rain", width=32, height=32, num_frames=5, steps=1)
    r = client.post(f"/v1/videos/{t2v['id']}/extend", json={"prompt": "more"})
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["param"] == "model" and "tiny-wan2.1-t2v cannot extend" in err["message"]
    assert "tiny-ltx-video" in err["message"] and "tiny-wan2.1-i2v" in err["message"]
    # Choosing a model that can works, at the source's size.
    r = client.post(f"/v1/videos/{t2v['id']}/extend", json={"prompt": "more", "model": "tiny-wan2.1-i2v",
                                                            "num_frames": 5, "steps": 1})
    assert r.status_code == 202, r.text
    assert r.json()["size"] == "32x32" and r.json()["spec"]["fps"] == t2v["spec"]["fps"]
    wait_done(client, r.json()["id"])
    # Neither or both sources, unknown ids, garbage uploads.
    assert client.post("/v1/videos/extensions", data={"prompt": "x", "seconds": "1"}).status_code == 400
    assert client.post("/v1/videos/extensions", data={"prompt": "x", "video[id]": "video_nope"}).status_code == 404
    r = client.post("/v1/videos/extensions", files={"video": ("x.mp4", b"not a video", "video/mp4")},
                    data={"prompt": "x"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "video"


def test_extend_seconds_out_of_range_is_a_400_for_the_sdk(client: httpx.Client, sdk: openai.OpenAI) -> None:
    source = run(client, prompt="sky", **SMALL)
    with pytest.raises(openai.BadRequestError) as exc:
        sdk.videos.extend(prompt="x", seconds="60", video=openai.omit,  # type: ignore[arg-type]
                          extra_body={"video": {"id": source["id"]}})
    assert "seconds" in str(exc.value) and "accepted" in str(exc.value)
