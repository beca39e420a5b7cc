"""The official openai SDK, unchanged, pointed at the server."""

from __future__ import annotations

from pathlib import Path

import openai
import pytest

from pipelines.encode import probe
from tests.server.conftest import API_KEY, LiveServer


@pytest.fixture()
def sdk(server: LiveServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=API_KEY, max_retries=0)


def test_create_and_poll_retrieve_list_download_delete(sdk: openai.OpenAI, tmp_path: Path) -> None:
    video = sdk.videos.create_and_poll(prompt="a lighthouse", seconds="1", size="64x96",
                                       extra_body={"steps": 2, "metadata": {"via": "sdk"}}, poll_interval_ms=100)
    assert video.status == "completed", video
    assert video.size == "64x96" and video.seconds == "1" and video.progress == 100
    assert sdk.videos.retrieve(video.id).id == video.id
    listed = sdk.videos.list(limit=5)
    assert video.id in [v.id for v in listed.data]
    content = sdk.videos.download_content(video.id)
    path = tmp_path / "v.mp4"
    path.write_bytes(content.read())
    info = probe(path)
    # 1 s at 24 fps rounds up to LTX's 8k+1 rule: 25 frames.
    assert (info.frames, info.width, info.height) == (25, 64, 96)
    thumb = sdk.videos.download_content(video.id, variant="thumbnail")
    assert thumb.read()[:4] == b"RIFF"
    deleted = sdk.videos.delete(video.id)
    assert deleted.deleted is True and deleted.id == video.id
    with pytest.raises(openai.NotFoundError):
        sdk.videos.retrieve(video.id)


def test_input_reference_is_image_to_video(sdk: openai.OpenAI, color_images: dict[str, Path]) -> None:
    with color_images["red"].open("rb") as f:
        video = sdk.videos.create_and_poll(prompt="pan", input_reference=f, extra_body={"steps": 2},
                                           poll_interval_ms=100)
    assert video.status == "completed", video
    raw = sdk.videos.with_raw_response.retrieve(video.id).http_response.json()
    assert raw["spec"]["mode"] == "image-to-video"


def test_sdk_errors(sdk: openai.OpenAI, server: LiveServer) -> None:
    with pytest.raises(openai.BadRequestError) as exc:
        sdk.videos.create(prompt="x", size="1280x721")
    assert "multiples of 32" in str(exc.value) and "size" in str(exc.value)
    with pytest.raises(openai.BadRequestError) as exc:
        sdk.videos.create(prompt="x", seconds="60")
    assert "seconds" in str(exc.value) and "accepted" in str(exc.value)
    with pytest.raises(openai.BadRequestError):
        sdk.videos.create(prompt="x", model="sora-2")
    bad = openai.OpenAI(base_url=f"{server.url}/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.videos.list()
