"""Download names that sort by shot and take; an extended + post-processed take names its parent and
the post methods; the continuation is conditioned on the source's own last frame."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
from PIL import Image

from pipelines.encode import read_frames
from tests.workflow.conftest import SMALL, download, run, sidecar, submit, wait_done


def test_download_names_sort_by_shot_then_take(client: httpx.Client) -> None:
    names = []
    for shot in ("12", "3"):
        resp = submit(client, "/v1/text-to-video", prompt="x", n=2, seed=40,
                      metadata={"project": "Spring Ad!", "scene": "2", "shot": shot}, **SMALL)
        for take in resp["data"]:
            done = wait_done(client, take["id"])
            r = client.get(f"/v1/videos/{take['id']}/content")
            disposition = r.headers["content-disposition"]
            assert done["filename"] in disposition
            names.append(done["filename"])
    # Shot 3 before shot 12 (zero-padded), take 1 before take 2, unsafe characters replaced.
    assert sorted(names) == names[2:] + names[:2]
    assert names[2].startswith("Spring-Ad_s02_sh003_tk01_seed40_") and names[3].startswith("Spring-Ad_s02_sh003_tk02")
    plain = run(client, prompt="no labels", **SMALL)
    assert plain["filename"] == f"{plain['id']}.mp4"


def test_extended_and_post_processed_take_names_parent_and_methods(client: httpx.Client, tmp_path: Path) -> None:
    source = run(client, prompt="a boat", seed=5, metadata={"shot": "7"}, **SMALL)
    ext = run(client, f"/v1/videos/{source['id']}/extend", prompt="it turns", num_frames=9, steps=2,
              post={"interpolate": {"factor": 2}})
    side = sidecar(client, ext["id"])
    assert side["workflow"]["parent_id"] == source["id"] and side["workflow"]["relation"] == "extend"
    assert side["post"]["methods"]["interpolate"] in ("classical-dis-flow", "rife-4.25")
    lineage = client.get(f"/v1/videos/{ext['id']}/lineage").json()["data"]
    assert [v["id"] for v in lineage] == [ext["id"], source["id"]] and lineage[0]["relation"] == "extend"
    # The continuation was conditioned on the source's own last frame (decoded from its MP4).
    src_frames = read_frames(download(client, source["id"], tmp_path))
    cond = np.asarray(Image.open(ext["spec"]["image"]).convert("RGB"))
    assert cond.shape == src_frames[-1].shape
    assert np.abs(cond.astype(int) - src_frames[-1].astype(int)).mean() < 2.0
    # Stitched (17 frames) then interpolated x2: (17 - 1) * 2 + 1 frames.
    assert len(read_frames(download(client, ext["id"], tmp_path))) == 33
