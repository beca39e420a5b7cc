"""``quality: "final"`` in LTX-2's conditioned modes over HTTP on the tiny model: image-to-video and
first+last frame run both stages (the job's events, the sidecar's flow record, the MP4 at the requested
size with its soundtrack), and the conditioning images are honoured in both stages, each at its own
size: the latents the real transformer receives at the first step of stage 1 (half size) and of stage 2
(full size) carry the images' latents (stage 2's exactly as a draft at the full size does). A size whose half
is no valid size is a 400 naming the field that queues nothing."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import httpx
import pytest
import torch
from PIL import Image

from tests.server.conftest import hold_worker, job_events, wait_terminal

MODEL = "tiny-ltx-2"
# 128x64, 9 frames: 2 latent frames of 2x4 tokens at the full size, of 1x2 at stage 1's half size.
FULL, HALF = 2 * 4, 1 * 2  # tokens per latent frame
BASE = {"model": MODEL, "steps": 2, "seed": 3, "num_frames": 9}
PATHS = {"image-to-video": "/v1/image-to-video", "first-last-frame": "/v1/first-last-frame-to-video"}


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Flat colours at the request's 2:1 aspect, so fitting them to either stage's size is a plain resize."""
    root = tmp_path_factory.mktemp("final-images")
    out = {}
    for name, rgb in (("red", (230, 20, 20)), ("blue", (20, 20, 230))):
        path = root / f"{name}.png"
        Image.new("RGB", (128, 64), rgb).save(path)
        out[name] = "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()
    return out


class TransformerInputs:
    """The packed video latents every LTX-2 transformer call receives (its ``proj_in`` input), found
    through a global forward pre-hook: the in-process engine runs the real modules in this process."""

    def __init__(self) -> None:
        self.calls: list[torch.Tensor] = []
        self._hooked: set[int] = set()
        self._handles: list[Any] = [torch.nn.modules.module.register_module_forward_pre_hook(self._find)]

    def _find(self, module: Any, args: Any) -> None:
        from diffusers import LTX2VideoTransformer3DModel

        if isinstance(module, LTX2VideoTransformer3DModel) and id(module) not in self._hooked:
            self._hooked.add(id(module))
            self._handles.append(module.proj_in.register_forward_pre_hook(self._record))

    def _record(self, module: Any, args: Any) -> None:
        self.calls.append(args[0][0].detach().float().clone())  # (tokens, channels); CFG rows share latents

    def take(self) -> list[torch.Tensor]:
        calls, self.calls = self.calls, []
        return calls

    def remove(self) -> None:
        for h in self._handles:
            h.remove()


@pytest.fixture()
def inputs() -> Iterator[TransformerInputs]:
    record = TransformerInputs()
    yield record
    record.remove()


def _body(mode: str, images: dict[str, str], first: str = "red", **kw: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"prompt": "a lighthouse, waves and gulls", "image": images[first], **BASE, **kw}
    if mode == "first-last-frame":
        body["last_image"] = images["blue" if first == "red" else "red"]
    return body


def _submit(client: httpx.Client, mode: str, body: dict[str, Any]) -> str:
    r = client.post(PATHS[mode], json=body)
    assert r.status_code == 202, r.text
    return str(r.json()["id"])


def _run(client: httpx.Client, mode: str, body: dict[str, Any]) -> dict[str, Any]:
    job = wait_terminal(client, _submit(client, mode, body), timeout=180)
    assert job["state"] == "completed", job
    return job


@pytest.mark.parametrize("mode", list(PATHS))
def test_final_runs_both_stages_in_the_conditioned_modes(client: httpx.Client, images: dict[str, str], mode: str,
                                                         tmp_path: Path) -> None:
    hold = hold_worker(client)
    job_id = _submit(client, mode, _body(mode, images, quality="final", width=128, height=64))
    events = job_events(client, job_id, release=hold)  # followed live, from the queue to the end
    assert events[0][0] == "queued" and events[-1][0] == "completed", events
    job = wait_terminal(client, job_id)
    assert (job["spec"]["mode"], job["spec"]["quality"]) == (mode, "final")
    stages = [d["stage"] for n, d in events if n == "stage"]
    assert stages.index("denoising") < stages.index("upsampling") < stages.index("refining") \
        < stages.index("decoding"), stages
    steps = [(d["step"], d["total"]) for n, d in events if n == "progress" and "step" in d]
    assert steps[-1] == (5, 5)  # 2 steps at half size + the 3 distilled ones
    side = client.get(f"/v1/videos/{job['id']}/content", params={"variant": "sidecar"}).json()
    assert [(s["name"], s["width"], s["height"], s["steps"]) for s in side["optimizations"]["flow"]["stages"]] == [
        ("denoising", 64, 32, 2), ("upsampling", 128, 64, 0), ("refining", 128, 64, 3)]
    video = tmp_path / "final.mp4"
    video.write_bytes(client.get(f"/v1/videos/{job['id']}/content", params={"variant": "video"}).content)
    with av.open(str(video)) as c:
        assert (c.streams.video[0].width, c.streams.video[0].height) == (128, 64) and len(c.streams.audio) == 1
        assert sum(1 for _ in c.decode(video=0)) == 9


def _stage_firsts(calls: list[torch.Tensor], full_tokens: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The first transformer input of stage 1 (half size) and of stage 2 (the first at the full size)."""
    stage2 = next(c for c in calls if c.shape[0] >= full_tokens)
    assert calls[0].shape[0] < full_tokens
    return calls[0], stage2


def _conditioned(x: torch.Tensor, per_frame: int, frames: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """The first latent frame's tokens, and the tokens appended after the video's (first+last's last image)."""
    return x[:per_frame], x[frames * per_frame:]


@pytest.mark.parametrize("mode", list(PATHS))
def test_the_images_condition_both_stages_at_each_stages_size(client: httpx.Client, images: dict[str, str],
                                                              inputs: TransformerInputs, mode: str) -> None:
    """Stage 1's first input carries the images' latents at half size: the same under another seed (clean
    conditioning, not noise), different with the images swapped. Stage 2's carries them re-encoded at the
    full size, exactly as a draft at that size does (not stage 1's latents upscaled), and differs with the
    images swapped. For first+last the last image's latents are appended after the video's in both."""
    final = {"quality": "final", "width": 128, "height": 64}
    runs = {}
    for name, first, seed in (("a", "red", 3), ("seed", "red", 4), ("swapped", "blue", 3)):
        _run(client, mode, _body(mode, images, first=first, **(final | {"seed": seed})))
        runs[name] = _stage_firsts(inputs.take(), 2 * FULL)
    _run(client, mode, _body(mode, images, width=128, height=64))
    draft = inputs.take()[0]

    (a1, a2), (seed1, _), (swapped1, swapped2) = runs["a"], runs["seed"], runs["swapped"]
    assert a2.shape == draft.shape
    for got, same, other, per_frame in ((a1, seed1, swapped1, HALF), (a2, draft, swapped2, FULL)):
        got_first, got_appended = _conditioned(got, per_frame)
        same_first, same_appended = _conditioned(same, per_frame)
        other_first, other_appended = _conditioned(other, per_frame)
        torch.testing.assert_close(got_first, same_first, atol=1e-4, rtol=1e-4)
        assert torch.dist(got_first, other_first) > 1e-3
        assert (got_appended.shape[0] == per_frame) == (mode == "first-last-frame")  # none for image-to-video
        torch.testing.assert_close(got_appended, same_appended, atol=1e-4, rtol=1e-4)
        if mode == "first-last-frame":
            assert torch.dist(got_appended, other_appended) > 1e-3


@pytest.mark.parametrize(("fields", "param", "words"), [
    ({"width": 96, "height": 64}, "width", "multiple of 64"),  # stage 1's half (48) is no multiple of 32
    ({"height": 32}, "height", "multiple of 64"),
])
def test_final_refusals_in_the_conditioned_modes_queue_nothing(client: httpx.Client, images: dict[str, str],
                                                               fields: dict[str, Any], param: str, words: str) -> None:
    before = len(client.get("/v1/videos", params={"limit": 100}).json()["data"])
    body = _body("image-to-video", images, quality="final", width=128, height=64) | fields
    r = client.post(PATHS["image-to-video"], json=body)
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["param"] == param and words in err["message"], err
    assert len(client.get("/v1/videos", params={"limit": 100}).json()["data"]) == before
