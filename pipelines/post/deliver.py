"""A job's files when it has a post stage: the post-processed video, its companions and the sidecar.

Two entry points, both torch-free here (``run_post`` imports models only for the steps asked):

- ``write_post_outputs``: after a generation. The generated frames are also kept as ``generated.mp4``
  (the same encode a plain job delivers), so a later re-post starts from what the model made, not
  from an already interpolated/upscaled delivery.
- ``write_repost_outputs``: the post stage again on a finished job's ``generated``/plain MP4 with
  other settings; no model, no denoising. Decoding the H.264 source costs one lossy generation at
  CRF 18 (visually transparent), against keeping a lossless FFV1 copy of every job (~50× the bytes of
  the MP4, measured on a textured 832×480 clip).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import av
import numpy as np

from pipelines.audio import AudioTrack, fit_duration, mix, read_audio, write_wav
from pipelines.core.hashing import file_sha256
from pipelines.encode import encode_mp4
from pipelines.outputs import (
    OutputFiles,
    audio_path,
    audio_record,
    build_sidecar,
    synced_audio,
    write_sidecar,
)
from pipelines.post.companions import Companions
from pipelines.post.run import PostResult, read_video, run_post
from pipelines.post.spec import PostSpec, resolve_codec_container
from pipelines.post.timing import as_rate, output_count

if TYPE_CHECKING:
    from pipelines.result import VideoResult

ProgressFn = Callable[[int, int | None], None]
StopFn = Callable[[], bool]

def video_name(spec: PostSpec) -> str:
    """``video.mp4`` / ``video.webm`` / ``video.mov``: the container decides the extension players trust."""
    return f"video.{resolve_codec_container(spec.export)[1]}"


def expected_frames(spec: PostSpec, n_in: int, fps: float | Fraction) -> int:
    """Frames the post stage will encode for ``n_in`` source frames (the companions' picks need it)."""
    from pipelines.post.interpolate import target_fps

    rate = as_rate(fps)
    n = n_in
    if spec.interpolate is not None:
        out = target_fps(spec.interpolate, rate)
        n, rate = output_count(n, rate, out), out
    if spec.export.fps is not None and as_rate(spec.export.fps) != rate:
        n = output_count(n, rate, as_rate(spec.export.fps))
    return n


def write_post_outputs(
    result: VideoResult,
    spec: PostSpec,
    out_dir: Path,
    extra: dict[str, Any] | None = None,
    *,
    on_progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
    device: str | None = None,
) -> OutputFiles:
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    own = synced_audio(result)
    generated = encode_mp4(result.frames, out_dir / "generated.mp4", result.fps, audio=own)
    generated_s = time.perf_counter() - t0
    video = out_dir / video_name(spec)
    spec, sound = soundtrack(spec, own, len(result.frames) / result.fps, video)
    post, comp = _post(result.frames, result.fps, len(result.frames), spec, video, on_progress, should_stop, device)
    data = build_sidecar(result, generated, generated_s)
    data["generated"] = data.pop("output")
    return _finish(video, post, comp, data, extra, generated, sound)


def write_repost_outputs(
    source: Path,
    spec: PostSpec,
    out_dir: Path,
    extra: dict[str, Any] | None = None,
    *,
    source_sidecar: Path | None = None,
    on_progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
    device: str | None = None,
) -> OutputFiles:
    """Post-process ``source`` (a finished job's generated frames) into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    frames, fps, n, has_audio = read_video(source)
    if n is None:
        n = count_frames(source)
    video = out_dir / video_name(spec)
    # The source's own soundtrack goes along: interpolation and upscaling leave it as it is.
    spec, sound = soundtrack(spec, read_audio(source) if has_audio else None, float(n / fps), video)
    post, comp = _post(frames, fps, n, spec, video, on_progress, should_stop, device)
    data: dict[str, Any] = {"schema": "vidserve.sidecar/1", "created_at": time.time()}
    if source_sidecar is not None and source_sidecar.is_file():
        # provenance of the frames: the generation that made them, as its own sidecar recorded it
        src = json.loads(source_sidecar.read_text())
        data.update({k: src[k] for k in ("spec", "seed", "model", "device", "environment") if k in src})
    data["generated"] = {"file": source.name, "frames": n, "fps": float(fps), "sha256": file_sha256(source)}
    return _finish(video, post, comp, data, extra, source, sound)


@dataclass(frozen=True)
class DeliveredAudio:
    """The soundtrack a delivered file carries: the track, its WAV beside the video, where it came from."""

    track: AudioTrack
    wav: Path
    source: str  # "generated" | "uploaded" | "mix (uploaded at N dB)"


def soundtrack(spec: PostSpec, own: AudioTrack | None, seconds: float,
               video: Path) -> tuple[PostSpec, DeliveredAudio | None]:
    """The audio the delivered file carries, written as ``<video>.audio.wav`` (the ``audio`` variant)
    and set as the export's track: the clip's own soundtrack, or an uploaded one (``export.audio``)
    that replaces it or is mixed under it at ``export.audio_mix_db``. Fitted to ``seconds``."""
    ex = spec.export
    uploaded = read_audio(ex.audio) if ex.audio is not None else None
    if uploaded is not None and own is not None and ex.audio_mode == "mix":
        track, source = mix(own, uploaded, ex.audio_mix_db), f"mix (uploaded at {ex.audio_mix_db:g} dB)"
    elif uploaded is not None:
        track, source = uploaded, "uploaded"
    elif own is not None:
        track, source = own, "generated"
    else:
        return spec, None
    track = fit_duration(track, seconds)
    wav = write_wav(track, audio_path(video))
    export = ex.model_copy(update={"audio": wav})
    return spec.model_copy(update={"export": export}), DeliveredAudio(track, wav, source)


def count_frames(path: Path) -> int:
    """Frames in a file by demuxing packets (no decode): for containers that do not store the count."""
    with av.open(str(path)) as container:
        vs = container.streams.video[0]
        return sum(1 for p in container.demux(vs) if p.size)


def _post(frames: np.ndarray | Any, fps: float | Fraction, n: int, spec: PostSpec, video: Path,
          on_progress: ProgressFn | None, should_stop: StopFn | None,
          device: str | None) -> tuple[PostResult, Companions]:
    comp = Companions(expected_frames(spec, n, fps), float(fps))
    result = run_post(frames, fps, spec, video, n_frames=n, on_progress=on_progress, should_stop=should_stop,
                      device=device, on_frame=comp.see)
    comp.fps = result.fps_out
    return result, comp


def _finish(video: Path, post: PostResult, comp: Companions, data: dict[str, Any],
            extra: dict[str, Any] | None, generated: Path,
            sound: DeliveredAudio | None = None) -> OutputFiles:
    stem = video.with_suffix("")
    thumb, last, sheet, layout = comp.write(stem)
    data["post"] = post.as_record()
    data["spritesheet"] = layout
    data["output"] = {
        "file": video.name, "frames": post.frames_out, "width": post.size_out[0], "height": post.size_out[1],
        "fps": post.fps_out, "codec": post.codec, "container": post.container,
        "bytes": video.stat().st_size, "sha256": file_sha256(video),
    }
    data.setdefault("timings", {}).update({f"post_{k}": v for k, v in post.timings.items()})
    if sound is not None:
        data["audio"] = audio_record(sound.track, sound.wav) | {"source": sound.source,
                                                                "codec_in_video": _audio_codec(video)}
    if extra:
        data.update(extra)
    side = write_sidecar(video, data)
    return OutputFiles(video, thumb, last, side, spritesheet=sheet, generated=generated,
                       audio=sound.wav if sound else None)


def _audio_codec(video: Path) -> str | None:
    with av.open(str(video)) as c:
        return c.streams.audio[0].codec_context.name if c.streams.audio else None
