"""Video-shaped request inputs: a source video (upload or the id of a finished video), a mask (image or
video) and reference images. Each is checked at the edge with PyAV/Pillow in a thread, so a bad file
is a 4xx naming the field and the limit and nothing is queued. Torch-free."""

from __future__ import annotations

import io
import tempfile
from dataclasses import dataclass
from pathlib import Path

import av
from starlette.concurrency import run_in_threadpool

from pipelines.core.source_video import SourceVideoError, VideoLimits, VideoProbe, probe_video
from server.api.body import RequestBody, read_image
from server.api.errors import ApiError, InvalidRequest, PayloadTooLarge, UnsupportedMediaType
from server.api.submit import REFERENCE_PREFIX
from server.api.uploads import ImageUpload
from server.settings import Settings

_VIDEO_EXT = {"mp4": ".mp4", "mov": ".mov", "webm": ".webm", "matroska": ".mkv", "avi": ".avi"}


@dataclass(frozen=True)
class VideoUpload:
    """A checked source video (or mask video): its bytes as a job input, and what decoding found."""

    upload: ImageUpload
    probe: VideoProbe


def limits_of(settings: Settings) -> VideoLimits:
    return VideoLimits(max_seconds=settings.max_video_seconds, max_frames=settings.max_video_frames,
                       max_pixels=settings.max_video_pixels)


def _as_api_error(field: str, exc: SourceVideoError) -> ApiError:
    message = f"{field}: {exc}"
    if exc.kind == "too_large":
        return PayloadTooLarge(message, field, "video_too_large")
    if exc.kind == "unsupported":
        return UnsupportedMediaType(message, field, "unsupported_video")
    return InvalidRequest(message, field, "invalid_video")


def _probe_bytes(data: bytes, limits: VideoLimits) -> tuple[VideoProbe, str]:
    with tempfile.NamedTemporaryFile(suffix=".video") as f:
        f.write(data)
        f.flush()
        probe = probe_video(Path(f.name), limits)
        with av.open(f.name) as container:
            names = container.format.name.split(",")
    ext = next((_VIDEO_EXT[n] for n in names if n in _VIDEO_EXT), ".mp4")
    return probe, ext


async def check_video(field: str, data: bytes, settings: Settings) -> VideoUpload:
    """``data`` as a source video within the server's limits; 413/415/400 naming ``field`` and the limit."""
    if len(data) > settings.max_video_upload_bytes:
        raise PayloadTooLarge(f"{field}: file is {len(data)} bytes, over the {settings.max_video_upload_bytes} "
                              "byte limit (max_video_upload_bytes)", field, "video_too_large")
    if not data:
        raise InvalidRequest(f"{field}: the file is empty", field, "invalid_video")
    try:
        probe, ext = await run_in_threadpool(_probe_bytes, data, limits_of(settings))
    except SourceVideoError as exc:
        raise _as_api_error(field, exc) from exc
    return VideoUpload(ImageUpload(field, data, ext, probe.width, probe.height), probe)


async def read_video_file(body: RequestBody, field: str, settings: Settings) -> VideoUpload | None:
    upload = body.files.pop(field, None)
    if upload is None:
        return None
    limit = settings.max_video_upload_bytes
    if upload.size is not None and upload.size > limit:
        raise PayloadTooLarge(f"{field}: file is {upload.size} bytes, over the {limit} byte limit "
                              "(max_video_upload_bytes)", field, "video_too_large")
    return await check_video(field, await upload.read(limit + 1), settings)


async def read_mask(body: RequestBody, settings: Settings) -> ImageUpload | None:
    """``mask``: one image (every frame) or a video (resampled like the source). White: regenerate."""
    upload = body.files.get("mask")
    if upload is not None:
        head = await upload.read(16)
        await upload.seek(0)
        if not _looks_like_image(head):
            video = await read_video_file(body, "mask", settings)
            return video.upload if video else None
    return await read_image(body, "mask", settings.max_upload_bytes, settings.max_upload_pixels)


def _looks_like_image(head: bytes) -> bool:
    return head.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"BM")) or (head[:4] == b"RIFF"
                                                                              and head[8:12] == b"WEBP")


async def read_references(body: RequestBody, settings: Settings, limit: int) -> dict[str, ImageUpload]:
    """Reference images: files ``reference_images`` (one) or ``reference_images[0]``…, or a JSON list of
    data URLs / base64 under ``reference_images``. At most ``limit`` (0: the model takes none)."""
    names = sorted(k for k in body.files if k == "reference_images" or k.startswith("reference_images["))
    listed = body.fields.pop("reference_images", None)
    if listed is not None and not isinstance(listed, list):
        listed = [listed]
    count = len(names) + len(listed or [])
    if count and count > limit:
        raise InvalidRequest(f"reference_images: {count} given; this model takes "
                             f"{f'at most {limit}' if limit else 'none'}", "reference_images")
    out: dict[str, ImageUpload] = {}
    for j, value in enumerate(listed or []):
        key = f"reference_images[{len(names) + j}]"  # the field a 4xx names
        body.fields[key] = value
        names.append(key)
    for i, name in enumerate(names):
        img = await read_image(body, name, settings.max_upload_bytes, settings.max_upload_pixels)
        assert img is not None
        out[f"{REFERENCE_PREFIX}{i}"] = ImageUpload(f"{REFERENCE_PREFIX}{i}", img.data, img.ext, img.width,
                                                    img.height)
    return out


def extract_audio(video: bytes) -> bytes | None:
    """The source's first audio track remuxed (no re-encode) into an .m4a, or None when there is none or
    its codec does not fit MP4 (the post stage muxes it onto the output)."""
    out = io.BytesIO()
    try:
        with av.open(io.BytesIO(video), mode="r") as src:
            if not src.streams.audio:
                return None
            a = src.streams.audio[0]
            with av.open(out, mode="w", format="ipod") as dst:
                stream = dst.add_stream_from_template(a)
                for packet in src.demux(a):
                    if packet.dts is None:
                        continue
                    packet.stream = stream
                    dst.mux(packet)
    except (av.FFmpegError, ValueError):
        return None
    return out.getvalue() or None
