"""LTX-2 end to end on the tiny model: HTTP and the OpenAI SDK, decoded with PyAV. One video and one
audio stream in sync; the WAV variant; another seed, another soundtrack; generate_audio false gives
no audio stream; interpolation and an export preset keep the audio duration; extend's audio is the
source's followed by the continuation's at the seam; an uploaded track mixed in; refusals that queue
nothing."""

from __future__ import annotations

import io
import wave
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np
import openai
import pytest

from pipelines.audio import AudioTrack, read_audio
from tests.server.conftest import API_KEY, LiveServer, hold_worker, job_events, wait_terminal

MODEL = "tiny-ltx-2"
FPS = 24
FAST: dict[str, Any] = {"model": MODEL, "steps": 2}


def _run(client: httpx.Client, path: str = "/v1/text-to-video", **fields: Any) -> dict[str, Any]:
    r = client.post(path, json={"prompt": "a robot dances to a drum beat", **FAST, **fields})
    assert r.status_code == 202, r.text
    job = wait_terminal(client, r.json()["id"])
    assert job["state"] == "completed", job
    return job


def _file(client: httpx.Client, job_id: str, variant: str, path: Path) -> Path:
    r = client.get(f"/v1/videos/{job_id}/content", params={"variant": variant})
    assert r.status_code == 200, r.text
    path.write_bytes(r.content)
    return path


def _streams(path: Path) -> tuple[int, int, float, float]:
    with av.open(str(path)) as c:
        nv, na = len(c.streams.video), len(c.streams.audio)
        frames = sum(1 for _ in c.decode(video=0))
        rate = float(c.streams.video[0].average_rate or 0)
    audio = read_audio(path)
    return nv, na, frames / rate, audio.duration_s if audio else 0.0


def _wav(client: httpx.Client, job_id: str, tmp: Path) -> AudioTrack:
    track = read_audio(_file(client, job_id, "audio", tmp / f"{job_id}.wav"))
    assert track is not None
    return track


def test_tiny_ltx2_video_has_a_soundtrack_in_sync(client: httpx.Client, tmp_path: Path) -> None:
    job = _run(client, seed=5)
    assert job["has_audio"] is True and job["spec"]["generate_audio"] is True
    assert job["outputs"]["audio"].endswith("variant=audio")
    nv, na, video_s, audio_s = _streams(_file(client, job["id"], "video", tmp_path / "v.mp4"))
    assert (nv, na) == (1, 1)
    assert video_s == pytest.approx(9 / FPS)
    assert abs(video_s - audio_s) <= 1 / FPS
    r = client.get(f"/v1/videos/{job['id']}/content", params={"variant": "audio"})
    assert r.headers["content-type"] == "audio/wav" and r.content[:4] == b"RIFF"
    with wave.open(io.BytesIO(r.content)) as w:
        assert (w.getframerate(), w.getnchannels()) == (16000, 2)  # the tiny vocoder's rate
        assert w.getnframes() / w.getframerate() == pytest.approx(9 / FPS, abs=1e-3)
    side = client.get(f"/v1/videos/{job['id']}/content", params={"variant": "sidecar"}).json()
    assert side["audio"]["sample_rate"] == 16000 and side["audio"]["channels"] == 2
    assert side["audio"]["duration_s"] == pytest.approx(9 / FPS, abs=1e-3)
    assert len(side["audio"]["sha256"]) == 64
    assert "audio_decode_s" in side["timings"] and "audio_decode_s" in job["timings"]


def test_another_seed_changes_the_audio(client: httpx.Client, tmp_path: Path) -> None:
    a = _wav(client, _run(client, seed=21)["id"], tmp_path)
    b = _wav(client, _run(client, seed=21)["id"], tmp_path)
    c = _wav(client, _run(client, seed=22)["id"], tmp_path)
    assert np.array_equal(a.samples, b.samples)
    assert not np.array_equal(a.samples, c.samples)


def test_generate_audio_false_gives_no_audio_stream(client: httpx.Client, tmp_path: Path) -> None:
    job = _run(client, seed=5, generate_audio=False)
    assert job["has_audio"] is False and "audio" not in job["outputs"]
    assert _streams(_file(client, job["id"], "video", tmp_path / "v.mp4"))[1] == 0
    r = client.get(f"/v1/videos/{job['id']}/content", params={"variant": "audio"})
    assert r.status_code == 404 and r.json()["error"]["param"] == "variant"
    # The sidecar says what of the audio branch was skipped, and that the transformer's audio stream ran.
    side = client.get(f"/v1/videos/{job['id']}/content", params={"variant": "sidecar"}).json()
    audio = side["optimizations"]["audio"]
    assert audio["generated"] is False and audio["skipped"] == ["audio_vae_decode", "vocoder"]
    assert audio["transformer_audio_stream"].startswith("runs")


def test_interpolation_and_a_preset_keep_the_audio_duration(client: httpx.Client, tmp_path: Path) -> None:
    for post in ({"interpolate": {"factor": 2, "method": "classical"}}, {"export": {"preset": "square-1080"}}):
        job = _run(client, seed=5, post=post)
        nv, na, video_s, audio_s = _streams(_file(client, job["id"], "video", tmp_path / "p.mp4"))
        assert (nv, na) == (1, 1)
        assert abs(audio_s - 9 / FPS) <= 1 / FPS and abs(audio_s - video_s) <= 1 / FPS
        assert _wav(client, job["id"], tmp_path).duration_s == pytest.approx(9 / FPS, abs=1e-3)


def test_extend_audio_is_source_then_continuation(client: httpx.Client, tmp_path: Path) -> None:
    source = _run(client, seed=7)
    r = client.post(f"/v1/videos/{source['id']}/extend", json={"prompt": "the robot bows", "num_frames": 9,
                                                               "steps": 2, "seed": 8})
    assert r.status_code == 202, r.text
    ext = wait_terminal(client, r.json()["id"])
    assert ext["state"] == "completed", ext
    nv, na, video_s, audio_s = _streams(_file(client, ext["id"], "video", tmp_path / "e.mp4"))
    assert (nv, na) == (1, 1) and video_s == pytest.approx(17 / FPS)
    assert abs(audio_s - video_s) <= 1 / FPS
    src, out = _wav(client, source["id"], tmp_path), _wav(client, ext["id"], tmp_path)
    assert out.duration_s == pytest.approx(17 / FPS, abs=1e-3)
    # Before the seam's crossfade the extension's audio is the source's (through one AAC round trip).
    head = int((9 / FPS - 0.06) * src.sample_rate)
    a, b = src.samples[:, :head].ravel(), out.samples[:, :head].ravel()
    assert float(np.corrcoef(a, b)[0, 1]) > 0.9
    assert float(np.abs(a - b).mean()) < 0.1 * float(np.abs(a).mean()) + 0.01


def test_an_uploaded_track_is_mixed_under_the_generated_one(client: httpx.Client, tmp_path: Path) -> None:
    buf = io.BytesIO()
    t = np.arange(16000) / 16000
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes((np.sin(2 * np.pi * 1000 * t) * 8000).astype(np.int16).tobytes())
    files = {"audio": ("music.wav", buf.getvalue(), "audio/wav")}
    data = {"prompt": "a drummer", "model": MODEL, "steps": "2", "seed": "5", "audio_mode": "mix",
            "audio_mix_db": "-6"}
    r = client.post("/v1/text-to-video", data=data, files=files)
    assert r.status_code == 202, r.text
    job = wait_terminal(client, r.json()["id"])
    assert job["state"] == "completed" and job["has_audio"] is True, job
    side = client.get(f"/v1/videos/{job['id']}/content", params={"variant": "sidecar"}).json()
    assert side["audio"]["source"].startswith("mix")
    mixed = _wav(client, job["id"], tmp_path)
    plain = _wav(client, _run(client, seed=5)["id"], tmp_path)
    assert mixed.duration_s == pytest.approx(9 / FPS, abs=1e-3)
    assert not np.allclose(mixed.samples, plain.samples, atol=1e-3)


@pytest.mark.parametrize(
    ("fields", "param", "words"),
    [
        ({"model": "tiny-ltx-video", "generate_audio": True}, "generate_audio", "ltx-2-19b"),
        ({"model": "tiny-ltx-video", "generate_sound": True}, "generate_audio", "ltx-2-19b"),
        ({"audio_stg_scale": 50}, "audio_stg_scale", "between 0 and 10"),
        ({"audio_guidance_rescale": -1}, "audio_guidance_rescale", "between 0 and 1"),
        ({"audio_mode": "mix"}, "audio_mode", "replace"),
        ({"audio_mix_db": 40}, "audio_mix_db", "-60 to 12"),
    ],
)
def test_bad_audio_fields_are_400s_that_queue_nothing(client: httpx.Client, fields: dict[str, Any], param: str,
                                                     words: str) -> None:
    before = len(client.get("/v1/videos", params={"limit": 100}).json()["data"])
    r = client.post("/v1/text-to-video", json={"prompt": "x", **FAST, **fields})
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["param"] == param and words in err["message"], err
    assert len(client.get("/v1/videos", params={"limit": 100}).json()["data"]) == before


def test_openai_sdk_flow_with_audio(server: LiveServer, tmp_path: Path) -> None:
    sdk = openai.OpenAI(base_url=f"{server.url}/v1", api_key=API_KEY, max_retries=0)
    video = sdk.videos.create_and_poll(prompt="a crowd cheers", model=MODEL, seconds="0.3", size="64x64",
                                       extra_body={"steps": 2, "seed": 3, "generate_sound": True},
                                       poll_interval_ms=100)
    assert video.status == "completed", video
    mp4 = tmp_path / "sdk.mp4"
    mp4.write_bytes(sdk.videos.download_content(video.id).read())
    nv, na, video_s, audio_s = _streams(mp4)
    assert (nv, na) == (1, 1) and abs(video_s - audio_s) <= 1 / FPS
    wav = sdk.videos.download_content(video.id, extra_query={"variant": "audio"}).read()
    assert wav[:4] == b"RIFF" and wav[8:12] == b"WAVE"
    silent = sdk.videos.create_and_poll(prompt="a mime", model=MODEL, seconds="0.3", size="64x64",
                                        extra_body={"steps": 2, "generate_sound": False}, poll_interval_ms=100)
    raw = sdk.videos.with_raw_response.retrieve(silent.id).http_response.json()
    assert raw["has_audio"] is False


def test_progress_reports_the_audio_decode_as_its_own_stage(client: httpx.Client) -> None:
    # The worker is held until the stream is open, so every stage of the job is seen (a late subscriber
    # gets a snapshot, not the events it missed).
    blocker = hold_worker(client)
    job = client.post("/v1/text-to-video", json={"prompt": "a bell rings", **FAST}).json()
    events = job_events(client, job["id"], release=blocker)
    stages = [d["stage"] for n, d in events if n == "stage"]
    assert stages.index("denoising") < stages.index("decoding") < stages.index("audio_decoding") \
        < stages.index("encoding"), stages
    progress = [d["progress"] for n, d in events if d.get("progress") is not None]
    assert progress == sorted(progress) and progress[-1] == 100
    assert wait_terminal(client, blocker)["state"] == "cancelled"
    metrics = client.get("/metrics").text
    assert 'stage="audio_decode"' in metrics


def test_remix_regenerates_the_soundtrack_and_a_video_only_model_takes_none(client: httpx.Client,
                                                                            tmp_path: Path) -> None:
    parent = _run(client, seed=9)
    r = client.post(f"/v1/videos/{parent['id']}/remix", json={"prompt": "a robot sings"})
    assert r.status_code == 202, r.text
    remix = wait_terminal(client, r.json()["id"])
    assert remix["state"] == "completed" and remix["has_audio"] is True
    assert remix["spec"]["seed"] == 9
    # another model: its own soundtrack defaults (none), not the parent's generate_audio
    r = client.post(f"/v1/videos/{parent['id']}/remix", json={"prompt": "silent", "model": "tiny-ltx-video",
                                                               "steps": 2})
    assert r.status_code == 202, r.text
    other = wait_terminal(client, r.json()["id"])
    assert other["state"] == "completed" and other["has_audio"] is False


def test_models_list_says_which_models_make_audio(client: httpx.Client) -> None:
    models = {m["id"]: m for m in client.get("/v1/models").json()["data"]}
    assert models[MODEL]["audio"]["sample_rate"] == 16000
    assert models["tiny-ltx-video"]["audio"] is None
