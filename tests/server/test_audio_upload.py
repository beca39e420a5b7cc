"""A soundtrack attached to a creation request is checked at the edge and muxed by the post stage."""

from __future__ import annotations

import io
import wave
from pathlib import Path

import av
import httpx
import numpy as np

from tests.server.conftest import FAST, wait_terminal


def _wav(seconds: float = 1.0, rate: int = 16000) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    samples = (0.3 * np.sin(2 * np.pi * 440 * t) * 32767).astype(np.int16)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())
    return buf.getvalue()


def test_audio_track_is_muxed_into_the_video(client: httpx.Client, tmp_path: Path) -> None:
    r = client.post("/v1/text-to-video", data={"prompt": "a boat with a tone", "steps": str(FAST["steps"])},
                    files={"audio": ("tone.wav", _wav(), "audio/wav")})
    assert r.status_code == 202, r.text
    job = wait_terminal(client, r.json()["id"])
    assert job["state"] == "completed", job
    out = tmp_path / "with_audio.mp4"
    out.write_bytes(client.get(f"/v1/videos/{job['id']}/content").content)
    with av.open(str(out)) as container:
        assert container.streams.video and container.streams.audio
        assert container.streams.audio[0].codec_context.name == "aac"
        assert sum(f.samples for f in container.decode(audio=0)) > 1000
    side = client.get(f"/v1/videos/{job['id']}/content", params={"variant": "sidecar"}).json()
    assert len(side["workflow"]["inputs"]["audio"]) == 64  # its hash is part of the provenance


def test_bad_audio_is_a_400_naming_the_field(client: httpx.Client) -> None:
    junk = b"RIFF....WAVEjunk"
    r = client.post("/v1/text-to-video", data={"prompt": "x"}, files={"audio": ("x.wav", junk, "audio/wav")})
    assert r.status_code == 400 and r.json()["error"]["param"] == "audio", r.text
    silent = io.BytesIO()
    with av.open(silent, "w", format="mp4") as c:  # a video with no audio stream
        s = c.add_stream("libx264", rate=8)
        s.width = s.height = 32
        s.pix_fmt = "yuv420p"
        for _ in range(2):
            for p in s.encode(av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    files = {"audio": ("v.mp4", silent.getvalue(), "video/mp4")}
    r = client.post("/v1/text-to-video", data={"prompt": "x"}, files=files)
    assert r.status_code == 400 and "no audio stream" in r.json()["error"]["message"], r.text
