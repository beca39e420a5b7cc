"""The studio over HTTP: projects, shots with keyframes, takes as jobs, reviews, dailies, cost, the
handoff zip (timeline.otio read back with opentimelineio, the EDL, shots.csv), and bad input."""

from __future__ import annotations

import csv
import io
import time
import zipfile

import httpx
import opentimelineio as otio

from tests.studio.conftest import png, wait_takes_done

FAST = {"steps": 2}


def test_shape_on_create_endpoints_and_models(client: httpx.Client) -> None:
    models = client.get("/v1/models").json()["data"]
    ltx = next(m for m in models if m["id"] == "tiny-ltx-video")
    assert {"aspect_ratio": "9:16", "resolution": None, "size": "64x96", "width": 64, "height": 96} in ltx["shapes"]
    r = client.post("/v1/text-to-video", json={"prompt": "a boat", "aspect_ratio": "9:16", **FAST})
    assert r.status_code == 202, r.text
    assert (r.json()["size"], r.json()["shape"]["aspect_ratio"]) == ("64x96", "9:16")
    r = client.post("/v1/text-to-video", json={"prompt": "a boat", "size": "96x64", **FAST})
    assert r.status_code == 202 and r.json()["size"] == "96x64", r.text
    r = client.post("/v1/videos", json={"prompt": "a boat", "aspect_ratio": "1:1", "steps": 2})
    assert r.status_code == 202 and r.json()["size"] == "64x64", r.text
    bad = client.post("/v1/text-to-video", json={"prompt": "x", "aspect_ratio": "16:9", "width": 64})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "aspect_ratio", bad.text
    bad = client.post("/v1/text-to-video", json={"prompt": "x", "aspect_ratio": "5:4"})
    assert bad.status_code == 400 and "5:4" in bad.json()["error"]["message"], bad.text
    bad = client.post("/v1/text-to-video", json={"prompt": "x", "resolution": "720p"})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "resolution", bad.text


def test_keyframe_of_another_ratio_is_fitted_with_a_warning(client: httpx.Client) -> None:
    r = client.post("/v1/image-to-video", files={"image": ("k.png", png(128, 64), "image/png")},
                    data={"prompt": "push in", "steps": "2"})
    assert r.status_code == 202, r.text
    warnings = r.json()["warnings"]
    assert len(warnings) == 1 and "50% of the image cropped" in warnings[0], warnings


def test_the_whole_flow_to_a_handoff(client: httpx.Client, other: httpx.Client) -> None:
    p = client.post("/v1/projects", json={"name": "Boat ad", "aspect_ratio": "16:9", "model": "tiny-ltx-video",
                                          "visual_bible": "grainy 16mm film"})
    assert p.status_code == 201, p.text
    project = p.json()
    assert project["aspect_ratio"] == "16:9" and project["shots"] == 0
    shot = client.post(f"/v1/projects/{project['id']}/shots",
                       files={"keyframe": ("key.png", png(96, 64), "image/png"),
                              "reference_1": ("mood.png", png(40, 30, (9, 9, 9)), "image/png")},
                       data={"name": "wide establishing", "description": "a red boat at dawn", "duration": "0.3",
                             "camera_move": "slow push in"}).json()
    assert shot["order"] == 1 and shot["status"] == "planned" and shot["keyframe_url"], shot
    second = client.post(f"/v1/projects/{project['id']}/shots", json={"name": "close", "prompt": "the deck"}).json()
    assert second["order"] == 2
    assert client.get(shot["keyframe_url"]).headers["content-type"] == "image/png"
    assert client.get(shot["reference_urls"]["reference_1"]).content == png(40, 30, (9, 9, 9))
    patched = client.patch(f"/v1/shots/{second['id']}", files={"reference_2": ("r.png", png(20, 20), "image/png")},
                           data={"camera_move": "handheld"}).json()
    assert list(patched["reference_urls"]) == ["reference_2"] and patched["camera_move"] == "handheld"

    before = time.time() - 1
    r = client.post(f"/v1/shots/{shot['id']}/takes", json={"n": 3, "seed": 5, **FAST})
    assert r.status_code == 202, r.text
    created = r.json()["data"]
    assert [t["seed"] for t in created] == [5, 6, 7]
    assert created[0]["spec"]["mode"] == "image-to-video"
    assert created[0]["size"] == "96x64" and created[0]["spec"]["prompt"].endswith("grainy 16mm film")
    assert client.get(f"/v1/shots/{shot['id']}").json()["status"] == "generating"
    r = client.post(f"/v1/shots/{second['id']}/takes", json={"seeds": [42], **FAST})
    assert r.status_code == 202 and r.json()["spec"]["mode"] == "text-to-video", r.text
    assert r.json()["seed"] == 42

    takes = wait_takes_done(client, shot["id"], 3)
    assert [t["take_number"] for t in takes] == [1, 2, 3] and all(t["state"] == "completed" for t in takes)
    assert all(t["cost"]["gpu_seconds"] > 0 for t in takes)
    assert client.get(f"/v1/shots/{shot['id']}").json()["status"] == "in_review"

    # Handoff before any select: a 409 that says so.
    none = client.post(f"/v1/projects/{project['id']}/handoff")
    assert none.status_code == 409 and none.json()["error"]["code"] == "no_selects", none.text

    sel = client.post(f"/v1/videos/{takes[1]['id']}/review", json={"verdict": "select", "note": "best light"})
    assert sel.status_code == 200 and sel.json()["selected"] is True, sel.text
    client.post(f"/v1/videos/{takes[0]['id']}/review", json={"verdict": "reject", "note": "horizon tilts"})
    # Selecting another take of a one-select shot demotes the first to maybe.
    client.post(f"/v1/videos/{takes[2]['id']}/review", json={"verdict": "select"})
    listed = {t["id"]: t for t in client.get(f"/v1/shots/{shot['id']}/takes").json()["data"]}
    assert listed[takes[1]["id"]]["verdict"] == "maybe" and not listed[takes[1]["id"]]["selected"]
    client.post(f"/v1/videos/{takes[1]['id']}/review", json={"verdict": "select", "note": "back to this one"})
    listed = {t["id"]: t for t in client.get(f"/v1/shots/{shot['id']}/takes").json()["data"]}
    assert listed[takes[1]["id"]]["verdict"] == "select" and listed[takes[2]["id"]]["verdict"] == "maybe"
    notes = ["best light", f"replaced as the select by {takes[2]['id']}", "back to this one"]
    assert [n["note"] for n in listed[takes[1]["id"]]["notes"]] == notes
    assert listed[takes[0]["id"]]["notes"][0]["author"].startswith("key_")
    assert client.get(f"/v1/shots/{shot['id']}").json()["status"] == "approved"
    # POST /select and /unselect speak the same language as verdicts.
    client.post(f"/v1/videos/{takes[1]['id']}/unselect")
    assert client.get(f"/v1/shots/{shot['id']}/takes").json()["data"][1]["verdict"] is None
    client.post(f"/v1/videos/{takes[1]['id']}/select")
    assert client.get(f"/v1/shots/{shot['id']}/takes").json()["data"][1]["verdict"] == "select"

    daily = client.get(f"/v1/projects/{project['id']}/dailies", params={"since": before}).json()
    assert [g["shot"]["id"] for g in daily["shots"]] == [shot["id"], second["id"]]
    assert len(daily["shots"][0]["takes"]) == 3
    totals = client.get(f"/v1/projects/{project['id']}").json()["cost"]
    assert totals["takes"] == 4 and totals["gpu_seconds"] > 0

    # Another key sees none of it.
    assert other.get(f"/v1/projects/{project['id']}").status_code == 404
    assert other.get(f"/v1/shots/{shot['id']}").status_code == 404
    assert other.post(f"/v1/shots/{shot['id']}/takes", json={"n": 1}).status_code == 404
    assert all(p["id"] != project["id"] for p in other.get("/v1/projects").json()["data"])

    h = client.post(f"/v1/projects/{project['id']}/handoff")
    assert h.status_code == 202, h.text
    deadline = time.monotonic() + 60
    while client.get(f"/v1/projects/{project['id']}/handoff/status").json()["status"] == "building":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    z = client.get(f"/v1/projects/{project['id']}/handoff")
    assert z.status_code == 200 and z.headers["content-type"] == "application/zip", z.text[:300]
    with zipfile.ZipFile(io.BytesIO(z.content)) as zf:
        names = set(zf.namelist())
        assert {"01_wide_establishing_take2.mp4", "01_wide_establishing_take2.json", "timeline.otio",
                "boat_ad.edl", "shots.csv", "contact-sheet.html"} <= names, names
        timeline = otio.adapters.read_from_string(zf.read("timeline.otio").decode(), adapter_name="otio_json")
        edl = zf.read("boat_ad.edl").decode()
        rows = list(csv.DictReader(io.StringIO(zf.read("shots.csv").decode())))
        sheet = zf.read("contact-sheet.html").decode()
    clips = list(timeline.find_clips())
    assert [c.name for c in clips] == ["01_wide_establishing_take2"]
    assert list(clips[0].metadata["vidserve"]["notes"]) == notes
    assert clips[0].source_range.duration.value == takes[1]["spec"]["num_frames"]
    assert "01_wide_establishing_take2.mp4" in edl and edl.count("\n001 ") == 1
    assert rows[0]["seed"] == str(takes[1]["seed"]) and rows[0]["verdict"] == "select"
    assert "thumbnails/01_wide_establishing_take2.webp" in sheet


def test_bad_input_is_a_clear_4xx_and_writes_nothing(client: httpx.Client) -> None:
    project = client.post("/v1/projects", json={"name": "bad"}).json()
    n_before = len(client.get("/v1/projects").json()["data"])
    r = client.post("/v1/projects", json={"name": "x", "resolution": "720p", "model": "tiny-ltx-video"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "resolution", r.text
    r = client.post("/v1/projects", json={"name": "x", "aspect_ratio": "5:4"})
    assert r.status_code == 422 and r.json()["error"]["param"] == "aspect_ratio", r.text
    assert len(client.get("/v1/projects").json()["data"]) == n_before
    r = client.post(f"/v1/projects/{project['id']}/shots", files={"keyframe": ("k.png", b"not an image", "image/png")},
                    data={"name": "x"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "keyframe", r.text
    assert client.get(f"/v1/projects/{project['id']}/shots").json()["data"] == []
    shot = client.post(f"/v1/projects/{project['id']}/shots", json={"description": "a dog"}).json()
    job = client.post(f"/v1/shots/{shot['id']}/takes", json={"n": 1, **FAST}).json()
    r = client.post(f"/v1/videos/{job['id']}/review", json={"verdict": "love"})
    assert r.status_code == 422 and r.json()["error"]["param"] == "verdict", r.text
    r = client.post(f"/v1/videos/{job['id']}/review", json={})
    assert r.status_code == 400, r.text
    r = client.post(f"/v1/shots/{shot['id']}/takes", json={"seeds": [1, 2], "n": 2})
    assert r.status_code == 400 and r.json()["error"]["param"] == "seeds", r.text
    assert client.get("/v1/projects/proj_nope").status_code == 404
    assert client.patch(f"/v1/shots/{shot['id']}", json={"status": "done"}).status_code == 422
    assert client.patch(f"/v1/shots/{shot['id']}", json={"order": 4}).json()["order"] == 4
    assert client.delete(f"/v1/projects/{project['id']}").json()["deleted"] is True
    assert client.get(f"/v1/shots/{shot['id']}").status_code == 404


def test_studio_routes_are_in_the_openapi_document(client: httpx.Client) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/v1/projects", "/v1/projects/{project_id}", "/v1/projects/{project_id}/shots",
                 "/v1/shots/{shot_id}", "/v1/shots/{shot_id}/takes", "/v1/videos/{video_id}/review",
                 "/v1/projects/{project_id}/dailies", "/v1/projects/{project_id}/handoff"):
        assert path in paths, path
    body = paths["/v1/projects/{project_id}/shots"]["post"]["requestBody"]["content"]
    assert body["multipart/form-data"]["schema"]["properties"]["keyframe"]["format"] == "binary"


def test_remix_and_extend_of_a_take_stay_on_the_shot(client: httpx.Client) -> None:
    project = client.post("/v1/projects", json={"name": "chain", "aspect_ratio": "16:9"}).json()
    shot = client.post(f"/v1/projects/{project['id']}/shots", files={"keyframe": ("k.png", png(96, 64), "image/png")},
                       data={"name": "pier", "description": "a pier in fog"}).json()
    client.post(f"/v1/shots/{shot['id']}/takes", json={"n": 1, **FAST})
    take = wait_takes_done(client, shot["id"], 1)[0]
    remix = client.post(f"/v1/videos/{take['id']}/remix", json={"prompt": "a pier at night"})
    assert remix.status_code == 202, remix.text  # an image take's inputs are copied (no fit report for them)
    labels = {k: take["metadata"][k] for k in ("studio_shot", "studio_project")}
    ext = client.post(f"/v1/videos/{take['id']}/extend", json={"prompt": "fog lifts", "seconds": 0.7,
                                                                 "steps": 2, "metadata": labels})
    assert ext.status_code == 202, ext.text
    takes = wait_takes_done(client, shot["id"], 3)
    assert [(t["take_number"], t["relation"]) for t in takes] == [(1, None), (2, "remix"), (3, "extend")]
    assert all(t["state"] == "completed" for t in takes), [t["error"] for t in takes]
