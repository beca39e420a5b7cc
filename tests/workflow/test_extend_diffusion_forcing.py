"""Extension the model's own way: on SkyReels-V2 diffusion forcing the extend endpoint runs the
video-to-video DF pipeline on the source's last frames (``extend_method: diffusion_forcing``); other models
and a request with an end image still chain from the last frame (``chain``)."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np

from tests.workflow.conftest import SMALL, frames_of, run, sidecar, submit, wait_done

DF = "tiny-skyreels-v2-df"
TOLERANCE = 6.0  # the source frames are decoded and re-encoded once more in the stitched file


def _close(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def test_extend_on_diffusion_forcing_gives_source_then_continuation(client: httpx.Client, tmp_path: Path) -> None:
    source = run(client, model=DF, prompt="a boat on the sea", seed=3, **SMALL)
    src_frames = frames_of(client, source["id"], tmp_path)
    assert len(src_frames) == 9

    ext = wait_done(client, submit(client, f"/v1/videos/{source['id']}/extend", prompt="it turns to port",
                                   num_frames=9, steps=2, seed=5)["id"])
    assert ext["model"] == DF and ext["relation"] == "extend" and ext["parent_id"] == source["id"]
    assert ext["spec"]["mode"] == "video-to-video"
    stitched = frames_of(client, ext["id"], tmp_path)
    assert len(stitched) == 9 + 9 - 1
    assert _close(stitched[:9], src_frames) < TOLERANCE
    side = sidecar(client, ext["id"])
    assert side["extend_method"] == "diffusion_forcing"
    assert side["spec"]["pipeline_class"] == "SkyReelsV2DiffusionForcingVideoToVideoPipeline"
    assert side["output"]["frames"] == 17 and side["workflow"]["source"]["frames"] == 9


def test_other_models_and_end_images_still_chain(client: httpx.Client, tmp_path: Path,
                                                  color_images: dict[str, Path]) -> None:
    ltx = run(client, prompt="a horse runs", seed=3, **SMALL)
    chained = wait_done(client, submit(client, f"/v1/videos/{ltx['id']}/extend", prompt="it jumps", num_frames=9,
                                       steps=2)["id"])
    assert chained["spec"]["mode"] == "image-to-video"
    assert sidecar(client, chained["id"])["extend_method"] == "chain"
    assert sidecar(client, ltx["id"])["extend_method"] is None  # not an extension

    # Diffusion forcing cannot aim at an end frame: with one, the DF model chains through first+last frame.
    df = run(client, model=DF, prompt="a boat", seed=4, **SMALL)
    with color_images["red"].open("rb") as end:
        r = client.post(f"/v1/videos/{df['id']}/extend", data={"prompt": "to the red sunset", "num_frames": "9",
                                                               "steps": "2"},
                        files={"last_image": ("end.png", end, "image/png")})
    assert r.status_code == 202, r.text
    job = wait_done(client, r.json()["id"])
    assert job["spec"]["mode"] == "first-last-frame"
    assert sidecar(client, job["id"])["extend_method"] == "chain"
    assert len(frames_of(client, job["id"], tmp_path)) == 17
