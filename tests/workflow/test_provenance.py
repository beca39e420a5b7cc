"""Every output's sidecar carries its history: resolved spec, seed, model + weights revision and
fingerprint, LoRAs with file hashes, input hashes, parent, versions; the API exposes a summary."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.workflow.conftest import SMALL, run, sha256, sidecar, wait_done


def test_sidecar_and_provenance_route(client: httpx.Client, loras_dir: Path, color_images: dict[str, Path]) -> None:
    with color_images["red"].open("rb") as f:
        r = client.post("/v1/image-to-video", files={"image": ("red.png", f, "image/png")},
                        data={"prompt": "pan", "seed": "21", "steps": "2", "width": "64", "height": "64",
                              "num_frames": "9", "loras": '[{"name": "ltx-style", "strength": 0.7}]'})
    assert r.status_code == 202, r.text
    parent_id = wait_done(client, r.json()["id"])["id"]
    job = run(client, f"/v1/videos/{parent_id}/remix", prompt="pan left")  # a remix of it
    for vid, relation in ((parent_id, None), (job["id"], "remix")):
        side = sidecar(client, vid)
        assert side["spec"]["seed"] == 21 and side["seed"] == 21 and side["spec"]["mode"] == "image-to-video"
        assert side["model"]["id"] == "tiny-ltx-video" and side["model"]["revision"] == "tiny-random"
        assert len(side["model"]["weights_fingerprint"]) == 64
        lora = side["spec"]["loras"][0]
        assert lora["name"] == "ltx-style" and lora["strength"] == 0.7
        assert lora["sha256"] == sha256(loras_dir / "ltx-style.safetensors")
        assert side["workflow"]["inputs"]["image"] == sha256(color_images["red"])
        assert side["workflow"]["relation"] == relation
        assert side["environment"]["versions"]["vidserve"] and side["environment"]["versions"]["diffusers"]
        assert len(side["output"]["frames_sha256"]) == 64
    assert sidecar(client, job["id"])["workflow"]["parent_id"] == parent_id

    video = client.get(f"/v1/videos/{job['id']}").json()
    prov = video["provenance"]
    assert prov["parent_id"] == parent_id and prov["relation"] == "remix" and prov["seed"] == 21
    assert prov["loras"][0]["sha256"] == sha256(loras_dir / "ltx-style.safetensors")
    full = client.get(f"/v1/videos/{job['id']}/provenance").json()
    assert full["sidecar"]["spec"]["prompt"] == "pan left"
    assert [x["id"] for x in full["lineage"]] == [job["id"], parent_id]
    assert client.get("/v1/videos/video_nope/provenance").status_code == 404
    assert client.get("/v1/videos/video_nope/lineage").status_code == 404


def test_provenance_of_a_queued_job_has_no_sidecar_yet(client: httpx.Client) -> None:
    r = client.post("/v1/text-to-video", json={"prompt": "x", **SMALL})
    full = client.get(f"/v1/videos/{r.json()['id']}/provenance").json()
    assert full["summary"]["seed"] == r.json()["seed"]
    assert full["sidecar"] is None or full["sidecar"]["seed"] == r.json()["seed"]
