"""The video-to-video shape: OpenAI's ``POST /v1/videos/edits`` and the native ``POST /v1/video-to-video``."""

from __future__ import annotations

from pydantic import Field

from server.api.requests.base import PromptFields
from server.api.requests.fields import AspectRatio, FlowShift, Fps, ImageFit, NumFrames, Resolution, Side, Speed


class VideoEditRequest(PromptFields):
    """The fields of both video-to-video routes besides the files (``video``, ``mask``,
    ``reference_images``, ``audio``). Size: ``size`` "WxH" or ``width``/``height``; unset, the model's
    default size in the source's orientation."""

    size: str | None = Field(default=None, max_length=32)  # a longer text than create's: map_size's 400 names it
    aspect_ratio: AspectRatio = None
    resolution: Resolution = None
    width: Side = None
    height: Side = None
    num_frames: NumFrames = None
    seconds: float | str | None = None
    fps: Fps = None
    flow_shift: FlowShift = None
    image_fit: ImageFit = "cover"
    speed: Speed = "exact"
    keep_audio: bool = Field(default=True, description="mux the source's sound onto the output")
