"""An attached soundtrack in a creation request (multipart field ``audio``, or a data URL / base64)
with ``audio_mode`` (replace the generated audio, or mix under it at ``audio_mix_db``); the request
fields are ``server.api.requests.audio.AudioFields``.

The upload is checked at the edge (PyAV must find an audio stream in it) and saved with the job's
inputs; the post stage then muxes it (AAC in mp4, Opus in webm, PCM next to ProRes). A client never
names a server-side path. The knobs' ranges and the "this model makes no audio" rule are checked by
``pipelines.audio_spec`` when the spec resolves (a 400 naming the field), before anything is queued.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import av
from starlette.concurrency import run_in_threadpool

from pipelines.post.spec import MIX_DB_RANGE
from server.api.body import RequestBody
from server.api.errors import ApiError, InvalidRequest, PayloadTooLarge
from server.api.requests.audio import AudioFields
from server.api.uploads import ImageUpload, decode_text


class NoSoundtrack(ApiError):
    """``variant=audio`` of a video without one."""

    status = 404
    type = "not_found_error"
    code = "no_audio"


@dataclass(frozen=True)
class Soundtrack:
    """An uploaded track and how it meets the generated one."""

    upload: ImageUpload
    mode: str = "replace"
    mix_db: float = 0.0


def soundtrack(upload: ImageUpload | None, fields: AudioFields) -> Soundtrack | None:
    """The request's soundtrack; 400 for a mix without an uploaded track or a level out of range."""
    lo, hi = MIX_DB_RANGE
    if not lo <= fields.audio_mix_db <= hi:
        raise InvalidRequest(f"audio_mix_db={fields.audio_mix_db!r}: accepted values: {lo:g} to {hi:g} dB",
                             "audio_mix_db")
    if upload is None:
        if fields.audio_mode == "mix":
            raise InvalidRequest("audio_mode='mix': mixing needs an uploaded `audio` track; accepted without one: "
                                 "'replace' (the default)", "audio_mode")
        return None
    return Soundtrack(upload, fields.audio_mode, fields.audio_mix_db)

_EXTS = {"wav": ".wav", "mp3": ".mp3", "ogg": ".ogg", "flac": ".flac", "mov,mp4,m4a,3gp,3g2,mj2": ".m4a",
         "matroska,webm": ".webm", "aac": ".aac"}


def _probe(data: bytes) -> str:
    """The container's file extension; InvalidRequest when there is no decodable audio stream."""
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.audio:
                raise InvalidRequest("audio: the file has no audio stream", "audio")
            stream = container.streams.audio[0]
            next(container.decode(stream), None)  # one frame decodes: not just a plausible header
            return _EXTS.get(container.format.name, ".audio")
    except InvalidRequest:
        raise
    except (av.error.FFmpegError, ValueError, StopIteration) as exc:
        raise InvalidRequest(f"audio: not a decodable audio file ({exc.__class__.__name__})", "audio") from exc


async def read_audio(body: RequestBody, max_bytes: int) -> ImageUpload | None:
    upload = body.files.pop("audio", None)
    if upload is not None:
        if upload.size is not None and upload.size > max_bytes:
            raise PayloadTooLarge(f"audio: file is {upload.size} bytes, over the {max_bytes} byte limit", "audio")
        data = await upload.read(max_bytes + 1)
    else:
        value = body.fields.pop("audio", None)
        if value is None:
            return None
        if not isinstance(value, str):
            raise InvalidRequest("audio: expected a file, a data URL or base64 text", "audio")
        data = decode_text("audio", value, max_bytes)
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"audio: over the {max_bytes} byte limit", "audio")
    if not data:
        raise InvalidRequest("audio: the file is empty", "audio")
    ext = await run_in_threadpool(_probe, data)
    return ImageUpload("audio", data, ext, 0, 0)


def with_audio(post: dict[str, Any] | None, path: str, track: Soundtrack | None = None) -> dict[str, Any]:
    """The job's post spec with the saved audio track to mux (export defaults when there was no post)."""
    from pipelines.post.spec import PostSpec

    base = post or PostSpec().model_dump(mode="json", exclude={"weights_dir"})
    mode = {"audio_mode": track.mode, "audio_mix_db": track.mix_db} if track else {}
    return {**base, "export": {**base.get("export", {}), "audio": path, **mode}}
