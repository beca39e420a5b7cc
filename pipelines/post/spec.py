"""What a caller asks of the post stage, and the checks that run at the edge.

Torch-free, so the API can validate a ``post`` object without importing models. Every rule raises
``InvalidSpec`` with a dotted field name (``post.upscale.size``) and the bad value.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import ConfigDict

from pipelines.core.errors import InvalidSpec
from pipelines.core.validation import NoBoolNumbers
from pipelines.post.presets import PRESETS

Fit = Literal["cover", "contain"]
Codec = Literal["h264", "hevc", "av1", "vp9", "prores"]
Container = Literal["mp4", "webm", "mov"]
AudioMode = Literal["replace", "mix"]
MIX_DB_RANGE = (-60.0, 12.0)

MIN_SIDE = 16
MAX_SIDE = 7680  # 8K; beyond that no platform accepts the file anyway
MAX_FPS = 240
# Which codecs each container can carry in a way players accept.
CONTAINER_CODECS: dict[str, tuple[str, ...]] = {
    "mp4": ("h264", "hevc", "av1", "vp9"),
    "webm": ("vp9", "av1"),
    "mov": ("h264", "hevc", "prores"),
}
DEFAULT_CONTAINER = {"h264": "mp4", "hevc": "mp4", "av1": "mp4", "vp9": "webm", "prores": "mov"}


class InterpolateSpec(NoBoolNumbers):
    """Exactly one of ``factor`` (2–8) or ``fps`` (target rate)."""

    model_config = ConfigDict(extra="forbid")

    factor: int | None = None
    fps: float | None = None
    # "auto": learned RIFE when its weights are on disk, else the classical fallback.
    method: Literal["auto", "rife", "classical"] = "auto"
    model: str = "rife"  # name under the post weights dir, or a path to flownet.pkl/.safetensors
    scale: float = 1.0  # RIFE flow resolution; 0.5 for 4K keeps the flow search range in pixels
    batch: int = 4


class UpscaleSpec(NoBoolNumbers):
    """Exactly one of ``factor`` (2 or 4) or ``size`` ("WxH")."""

    model_config = ConfigDict(extra="forbid")

    factor: int | None = None
    size: str | None = None
    fit: Fit = "cover"
    method: Literal["auto", "model", "lanczos"] = "auto"
    model: str = "realesrgan-x4plus"
    tile: int = 256  # input pixels per tile side; bounds GPU memory whatever the frame size
    overlap: int = 16


class ExportSpec(NoBoolNumbers):
    model_config = ConfigDict(extra="forbid")

    preset: str | None = None
    codec: Codec | None = None
    container: Container | None = None
    crf: int | None = None
    bitrate: int | None = None  # bits per second; wins over crf when both are given
    encoder_preset: str | None = None
    fps: float | None = None  # output rate; frames are dropped/repeated to meet it if not interpolating
    size: str | None = None  # "WxH", overrides the preset's size
    fit: Fit | None = None
    audio: Path | None = None  # WAV (or any file PyAV decodes) muxed as AAC (mp4/mov), Opus (webm), PCM (ProRes)
    # With a generated soundtrack: ``audio`` replaces it, or is mixed under it at ``audio_mix_db``.
    audio_mode: AudioMode = "replace"
    audio_mix_db: float = 0.0


class PostSpec(NoBoolNumbers):
    model_config = ConfigDict(extra="forbid")

    interpolate: InterpolateSpec | None = None
    upscale: UpscaleSpec | None = None
    export: ExportSpec = ExportSpec()
    weights_dir: Path = Path("weights/post")


_SIZE = re.compile(r"^(\d+)[xX×](\d+)$")


def parse_size(field: str, value: str) -> tuple[int, int]:
    """'1080x1920' -> (1080, 1920), width first like every tool users know."""
    m = _SIZE.match(value.strip())
    if not m:
        raise InvalidSpec(field, value, "must be WIDTHxHEIGHT, e.g. 1080x1920")
    w, h = int(m.group(1)), int(m.group(2))
    for side in (w, h):
        if not MIN_SIDE <= side <= MAX_SIDE:
            raise InvalidSpec(field, value, f"each side must be between {MIN_SIDE} and {MAX_SIDE} pixels")
    return w, h


def check_post(spec: PostSpec, field: str = "post") -> None:
    """All cross-field rules; raises InvalidSpec naming the first bad field."""
    it = spec.interpolate
    if it is not None:
        f = f"{field}.interpolate"
        if (it.factor is None) == (it.fps is None):
            raise InvalidSpec(f, it.model_dump(exclude_defaults=True), "give exactly one of factor or fps")
        if it.factor is not None and not 2 <= it.factor <= 8:
            raise InvalidSpec(f"{f}.factor", it.factor, "must be between 2 and 8")
        if it.fps is not None and not 0 < it.fps <= MAX_FPS:
            raise InvalidSpec(f"{f}.fps", it.fps, f"must be above 0 and at most {MAX_FPS}")
        if not 0.125 <= it.scale <= 4:
            raise InvalidSpec(f"{f}.scale", it.scale, "must be between 0.125 and 4")
        if not 1 <= it.batch <= 64:
            raise InvalidSpec(f"{f}.batch", it.batch, "must be between 1 and 64")
    up = spec.upscale
    if up is not None:
        f = f"{field}.upscale"
        if (up.factor is None) == (up.size is None):
            raise InvalidSpec(f, up.model_dump(exclude_defaults=True), "give exactly one of factor or size")
        if up.factor is not None and up.factor not in (2, 4):
            raise InvalidSpec(f"{f}.factor", up.factor, "must be 2 or 4")
        if up.size is not None:
            parse_size(f"{f}.size", up.size)
        if not 32 <= up.tile <= 4096:
            raise InvalidSpec(f"{f}.tile", up.tile, "must be between 32 and 4096")
        if not 0 <= up.overlap < up.tile // 2:
            raise InvalidSpec(f"{f}.overlap", up.overlap, "must be at least 0 and under half the tile")
    check_export(spec.export, f"{field}.export")


def check_export(ex: ExportSpec, field: str = "export") -> None:
    if ex.preset is not None and ex.preset not in PRESETS:
        raise InvalidSpec(f"{field}.preset", ex.preset, f"unknown preset; known: {', '.join(PRESETS)}")
    codec, container = resolve_codec_container(ex)
    if codec not in CONTAINER_CODECS[container]:
        raise InvalidSpec(
            f"{field}.codec", codec,
            f"cannot go in {container}; {container} takes {', '.join(CONTAINER_CODECS[container])}",
        )
    if ex.crf is not None and not 0 <= ex.crf <= 63:
        raise InvalidSpec(f"{field}.crf", ex.crf, "must be between 0 and 63")
    if ex.bitrate is not None and not 100_000 <= ex.bitrate <= 500_000_000:
        raise InvalidSpec(f"{field}.bitrate", ex.bitrate, "must be between 100000 and 500000000 bits/s")
    if ex.fps is not None and not 0 < ex.fps <= MAX_FPS:
        raise InvalidSpec(f"{field}.fps", ex.fps, f"must be above 0 and at most {MAX_FPS}")
    if ex.size is not None:
        parse_size(f"{field}.size", ex.size)
    if ex.audio is not None and not Path(ex.audio).is_file():
        raise InvalidSpec(f"{field}.audio", str(ex.audio), "no such file")
    lo, hi = MIX_DB_RANGE
    if not lo <= ex.audio_mix_db <= hi:
        raise InvalidSpec(f"{field}.audio_mix_db", ex.audio_mix_db, f"must be between {lo:g} and {hi:g} dB")


def resolve_codec_container(ex: ExportSpec) -> tuple[str, str]:
    """Explicit fields win over the preset; the container follows the codec when neither says."""
    preset = PRESETS.get(ex.preset) if ex.preset else None
    codec: str = ex.codec or (preset.codec if preset else "h264")
    container: str
    if ex.container:
        container = ex.container
    elif preset and not ex.codec:
        container = preset.container
    else:
        container = DEFAULT_CONTAINER[codec]
    return codec, container
