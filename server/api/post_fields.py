"""The ``post`` object of a creation request: parsed, checked at the edge, stored with the job.

Torch-free (``pipelines.post.spec`` is). A bad value is a 400 naming the field (``post.upscale.size``)
before a job exists, never a job that fails after its denoising.
"""

from __future__ import annotations

import json
import re
from fractions import Fraction
from typing import Any

from pydantic import ValidationError

from pipelines.core.errors import InvalidSpec
from pipelines.post.presets import PRESETS
from pipelines.post.spec import PostSpec, check_post, parse_size, resolve_codec_container
from pipelines.post.timing import as_rate, output_count
from server.api.errors import InvalidRequest

# Model names are looked up under the server's post weights dir; a path would let a client make the
# worker open any file on the server, so only plain names are accepted over HTTP.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def parse_post(raw: Any, field: str = "post") -> dict[str, Any] | None:
    """``raw`` (an object, or a JSON string as multipart carries it) -> the PostSpec as stored with
    the job (defaults filled, ``weights_dir`` left to the worker), or None when absent."""
    if raw is None or raw == "" or raw == {}:
        return None
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise InvalidRequest(f"{field}: not a JSON object ({exc})", field) from exc
    if not isinstance(raw, dict):
        raise InvalidRequest(f"{field}: expected an object with interpolate, upscale and/or export", field)
    if "weights_dir" in raw:
        raise InvalidRequest(f"{field}.weights_dir: set by the server, not the request", f"{field}.weights_dir")
    try:
        spec = PostSpec.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join([field, *(str(p) for p in first["loc"])])
        value = first.get("input")
        shown = f" (got {value!r})" if value is not None and not isinstance(value, dict) else ""
        raise InvalidRequest(f"{name}: {first['msg']}{shown}", name) from exc
    check_post(spec, field)
    if spec.export.audio is not None:
        raise InvalidSpec(f"{field}.export.audio", str(spec.export.audio),
                          "a server-side path is not accepted over HTTP")
    for stage, model in (("interpolate", spec.interpolate), ("upscale", spec.upscale)):
        if model is not None and not _NAME.match(model.model):
            raise InvalidSpec(f"{field}.{stage}.model", model.model,
                              "must be a model name under the server's post weights dir, not a path")
    return spec.model_dump(mode="json", exclude={"weights_dir"})


def expected_output(post: dict[str, Any], width: int, height: int, num_frames: int, fps: float) -> dict[str, Any]:
    """What the post stage will deliver for a clip of this shape: frames, fps, size, codec, container.
    Mirrors ``pipelines.post.run`` (one final size: upscale.size, else export.size, else the preset's)."""
    spec = PostSpec.model_validate(post)
    rate = as_rate(fps)
    frames = num_frames
    if spec.interpolate is not None:
        it = spec.interpolate
        out = rate * it.factor if it.factor is not None else as_rate(it.fps or fps)
        frames, rate = output_count(frames, rate, out), out
    if spec.export.fps is not None and as_rate(spec.export.fps) != rate:
        frames, rate = output_count(frames, rate, as_rate(spec.export.fps)), as_rate(spec.export.fps)
    preset = PRESETS.get(spec.export.preset) if spec.export.preset else None
    up = spec.upscale
    size: tuple[int, int] = (width, height)
    if up is not None and up.size:
        size = parse_size("post.upscale.size", up.size)
    elif spec.export.size:
        size = parse_size("post.export.size", spec.export.size)
    elif preset is not None and preset.size:
        size = preset.size
    elif up is not None and up.factor:
        size = (width * up.factor, height * up.factor)
    codec, container = resolve_codec_container(spec.export)
    # yuv420p encoders need even sides; run_post pads odd ones by one pixel
    size = (size[0] + size[0] % 2, size[1] + size[1] % 2)
    return {"frames": frames, "fps": _num(rate), "width": size[0], "height": size[1], "codec": codec,
            "container": container}


def _num(rate: Fraction) -> float | int:
    return int(rate) if rate.denominator == 1 else round(float(rate), 3)
