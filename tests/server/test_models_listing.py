"""`vidserve weights list --json` and `GET /v1/models` show the same resolved defaults (the settings that
decide quality included) for the models the server serves."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx

from pipelines.families import default_catalog

FIELDS = ("flow_shift", "flow_shift_by_size", "guidance_scale", "guidance_scale_2", "decode_timestep",
          "decode_noise_scale", "image_cond_noise_scale", "negative_prompt", "steps", "timesteps")


def _weights_list_json(weights: Path, cwd: Path) -> dict:
    env = os.environ | {"VIDSERVE_WEIGHTS_DIR": str(weights), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-m", "server.cli", "weights", "list", "--json"], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120, check=True)
    return json.loads(proc.stdout)


def test_weights_list_json_and_models_agree(client: httpx.Client, tiny_weights_dir: Path, tmp_path: Path) -> None:
    listed = {m["id"]: m for m in _weights_list_json(tiny_weights_dir, tmp_path)["data"]}
    assert set(listed) == set(default_catalog().ids())  # every entry, present or not
    real = listed["wan2.1-t2v-14b"]
    assert not real["present"] and real["weights"] is None
    assert real["defaults"]["flow_shift"] == 5.0 and real["defaults"]["negative_prompt"]
    assert {c["name"]: c["flow_shift"] for c in real["defaults"]["flow_shift_by_size"]} == {"480p": 3.0, "720p": 5.0}
    assert listed["ltx-video-2b-0.9.5"]["defaults"]["decode_timestep"] == 0.05
    served = {m["id"]: m for m in client.get("/v1/models").json()["data"]}
    assert served and set(served) <= {i for i, m in listed.items() if m["present"]}
    for model_id, model in served.items():
        for field in FIELDS:
            assert model["defaults"][field] == listed[model_id]["defaults"][field], (model_id, field)
        assert model["weights"] == listed[model_id]["weights"]


def test_override_fields_are_checked_at_the_edge(client: httpx.Client) -> None:
    before = client.get("/v1/videos", params={"limit": 100}).json()["data"]
    for body, param in (({"model": "tiny-wan2.1-t2v", "flow_shift": -1}, "flow_shift"),
                        ({"model": "tiny-ltx-video", "flow_shift": 3.0}, "flow_shift"),
                        ({"model": "tiny-wan2.1-t2v", "decode_timestep": 0.05}, "decode_timestep"),
                        ({"model": "tiny-ltx-video", "image_cond_noise_scale": 5}, "image_cond_noise_scale")):
        r = client.post("/v1/text-to-video", json={"prompt": "x", **body})
        assert r.status_code == 400, r.text
        err = r.json()["error"]
        assert err["param"] == param and str(body[param]) in err["message"]
    assert client.get("/v1/videos", params={"limit": 100}).json()["data"] == before  # nothing queued


def test_the_openai_shape_overrides_published_settings_too(client: httpx.Client) -> None:
    """`POST /v1/videos` (the SDK's `extra_body`) takes the same overrides as the native shape: a valid one
    is the job's setting, a bad one the same 400 naming the field, and nothing is queued for it."""
    before = client.get("/v1/videos", params={"limit": 100}).json()["data"]
    bad = client.post("/v1/videos", json={"prompt": "x", "model": "tiny-ltx-video", "flow_shift": 3.0})
    assert bad.status_code == 400, bad.text
    assert bad.json()["error"]["param"] == "flow_shift"
    assert client.get("/v1/videos", params={"limit": 100}).json()["data"] == before
    ok = client.post("/v1/videos", json={"prompt": "x", "model": "tiny-wan2.1-t2v", "flow_shift": 7.0})
    assert ok.status_code == 202, ok.text
    assert ok.json()["spec"]["flow_shift"] == 7.0
    client.post(f"/v1/videos/{ok.json()['id']}/cancel")
