"""Writing one generation's files: the MP4, a thumbnail, the last frame (for chaining shots) and
the JSON sidecar that keeps prompt, seed, model, settings and timings next to the video."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from pipelines.audio import AudioTrack, fit_duration, write_wav
from pipelines.core.hashing import file_sha256
from pipelines.encode import encode_mp4
from pipelines.post.companions import write_spritesheet

if TYPE_CHECKING:
    from pipelines.core.spec import ResolvedSpec
    from pipelines.result import VideoResult


@dataclass(frozen=True)
class OutputFiles:
    video: Path
    thumbnail: Path
    last_frame: Path
    sidecar: Path
    spritesheet: Path | None = None  # a grid of evenly spaced frames (pipelines.post.companions)
    generated: Path | None = None    # with a post stage: the generated frames, plain-encoded (re-post reads them)
    audio: Path | None = None        # the soundtrack alone, 16-bit PCM WAV (what ``variant=audio`` serves)


def audio_path(video: Path) -> Path:
    stem = video.with_suffix("")
    return stem.with_name(stem.name + ".audio.wav")


def synced_audio(result: VideoResult) -> AudioTrack | None:
    """The result's audio fitted to its frames' duration (same start, same end), or None."""
    if result.audio is None:
        return None
    return fit_duration(result.audio, len(result.frames) / result.fps)


def audio_record(track: AudioTrack, wav: Path, generated: AudioTrack | None = None) -> dict[str, Any]:
    """The sidecar's ``audio`` entry; ``generated`` is what the model returned before fitting."""
    rec: dict[str, Any] = {"file": wav.name, **track.record(), "sha256": file_sha256(wav), "codec_in_video": "aac"}
    if generated is not None:
        rec["generated_duration_s"] = round(generated.duration_s, 6)
    return rec


def sidecar_path(video: Path) -> Path:
    return video.with_suffix(".json")


def write_outputs(result: VideoResult, video_path: Path, extra: dict[str, Any] | None = None) -> OutputFiles:
    """Encode ``result`` to ``video_path`` and write its companions beside it."""
    video_path = Path(video_path)
    t0 = time.perf_counter()
    track = synced_audio(result)
    encode_mp4(result.frames, video_path, result.fps, audio=track)
    encode_s = time.perf_counter() - t0
    stem = video_path.with_suffix("")
    thumb = stem.with_name(stem.name + ".thumbnail.webp")
    last = stem.with_name(stem.name + ".last_frame.png")
    frames = result.frames
    Image.fromarray(frames[len(frames) // 2]).save(thumb, quality=85)
    Image.fromarray(frames[-1]).save(last)
    sheet = stem.with_name(stem.name + ".spritesheet.jpg")
    layout = write_spritesheet(frames, sheet, result.fps)
    data = build_sidecar(result, video_path, encode_s)
    data["spritesheet"] = layout
    wav = None
    if track is not None:
        wav = write_wav(track, audio_path(video_path))
        data["audio"] = audio_record(track, wav, result.audio)
    if extra:
        data.update(extra)
    side = write_sidecar(video_path, data)
    return OutputFiles(video_path, thumb, last, side, spritesheet=sheet, audio=wav)


def write_sidecar(video: Path, data: dict[str, Any]) -> Path:
    """Write the sidecar beside ``video`` atomically: readers never see half a JSON file."""
    side = sidecar_path(video)
    tmp = side.with_name(side.name + ".part")
    tmp.write_text(json.dumps(data, indent=2, default=str))
    tmp.replace(side)
    return side


def input_hashes(spec: ResolvedSpec) -> dict[str, str]:
    named = {"image": spec.image, "last_image": spec.last_image, "extend_video": spec.extend_video,
             "video": spec.video, "mask": spec.mask}
    named |= {f"reference_images[{i}]": p for i, p in enumerate(spec.reference_images)}
    return {k: file_sha256(p) for k, p in named.items() if p is not None and p.is_file()}


def build_sidecar(result: VideoResult, video_path: Path, encode_s: float) -> dict[str, Any]:
    from pipelines.families import adapter_for, default_catalog
    from pipelines.provenance import environment

    catalog = default_catalog()
    entry = catalog.get(result.spec.model)
    loc = result.weights
    f = result.frames
    return {
        "schema": "vidserve.sidecar/1",
        "created_at": time.time(),
        "spec": result.spec.model_dump(mode="json"),
        # sha256 of every input file (images, source video, mask, reference images), by spec field.
        "inputs": input_hashes(result.spec),
        # How an extension was made: "chain" (from the last frame) or the model's own ("diffusion_forcing").
        "extend_method": adapter_for(entry).extension_method(entry, result.spec) if entry else None,
        "seed": result.spec.seed,
        "model": {
            "id": result.spec.model,
            "family": entry.family if entry else None,
            # A LoRA distillation's weights are its base's (the bundled LoRAs are under "optimizations").
            "hub_repo": catalog.base_of(entry).hub_repo if entry else None,
            "base_model": entry.base_model if entry else None,
            "revision": loc.revision,
            "weights_path": str(loc.path),
            "weights_source": loc.source,
            "weights_fingerprint": loc.fingerprint,
            "synthetic_tiny_weights": loc.tiny,
        },
        "device": {"device": result.device, "dtype": result.dtype},
        "optimizations": result.optimizations,
        "environment": environment(),
        "timings": {**result.timings, "encode_s": encode_s},
        "step_seconds": result.step_seconds,
        "peak_memory_bytes": result.peak_memory_bytes,
        "output": {
            "file": video_path.name,
            "frames": int(f.shape[0]),
            "height": int(f.shape[1]),
            "width": int(f.shape[2]),
            "fps": result.fps,
            "codec": "h264",
            "bytes": video_path.stat().st_size,
            "sha256": file_sha256(video_path),
            # The decoded-before-encoding frames (uint8 RGB): reproducible where the encoded file's
            # bytes may not be, so a replay can be checked exactly.
            "frames_sha256": hashlib.sha256(np.ascontiguousarray(f).tobytes()).hexdigest(),
        },
    }
