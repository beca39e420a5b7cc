"""The post stage's one entry point: frames in (array or iterator), an encoded file out.

    frames ─► retime (interpolate / fps) ─► upscale + exact fit ─► encode (+ audio) ─► file

Every step is a generator, so only a couple of frames per step are alive at once: a long 4K clip
streams through in bounded memory, and progress is reported per encoded frame.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from pipelines.core.errors import GenerationCancelled
from pipelines.post.export import EncodeSettings, encode_stream
from pipelines.post.interpolate import NearestSynth, make_synth, retime, target_fps
from pipelines.post.presets import PRESETS
from pipelines.post.spec import ExportSpec, PostSpec, UpscaleSpec, check_post, resolve_codec_container
from pipelines.post.timing import as_rate, output_count
from pipelines.post.upscale import UpscalePlan, UpscaleStage

ProgressFn = Callable[[int, int | None], None]


@dataclass
class PostResult:
    path: Path
    frames_in: int
    frames_out: int
    fps_in: float
    fps_out: float
    size_in: tuple[int, int]
    size_out: tuple[int, int]
    codec: str
    container: str
    methods: dict[str, str] = field(default_factory=dict)  # stage -> method that ran, for the sidecar
    timings: dict[str, float] = field(default_factory=dict)
    audio: bool = False

    def as_record(self) -> dict[str, Any]:
        d = asdict(self)
        d["path"] = str(self.path)
        return d


class _Timed:
    """Wraps a stage's iterator and accumulates wall time spent producing its items (including its
    upstream; ``run_post`` subtracts to get each stage's own share)."""

    def __init__(self, it: Iterable[np.ndarray]) -> None:
        self._it = iter(it)
        self.seconds = 0.0
        self.count = 0

    def __iter__(self) -> Iterator[np.ndarray]:
        return self

    def __next__(self) -> np.ndarray:
        t0 = time.perf_counter()
        try:
            item = next(self._it)
        finally:
            self.seconds += time.perf_counter() - t0
        self.count += 1
        return item


def _even(frame: np.ndarray) -> np.ndarray:
    # yuv420p needs even sides; replicate the edge rather than crop content
    h, w = frame.shape[:2]
    if h % 2 == 0 and w % 2 == 0:
        return frame
    return np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")


def _effective_upscale(spec: PostSpec) -> UpscaleSpec | None:
    """One resize decides the final size: upscale.size, else export.size, else the preset's size.
    A factor alone means "run the model ×factor"; with a preset size it only picks the model."""
    ex = spec.export
    preset = PRESETS.get(ex.preset) if ex.preset else None
    final = spec.upscale.size if spec.upscale and spec.upscale.size else ex.size or (
        "{}x{}".format(*preset.size) if preset and preset.size else None)
    if spec.upscale is None:
        return UpscaleSpec(size=final, method="lanczos", fit=ex.fit or "cover") if final else None
    if final is None:
        return spec.upscale
    return spec.upscale.model_copy(update={"size": final, "factor": None, "fit": ex.fit or spec.upscale.fit})


def run_post(
    frames: np.ndarray | Iterable[np.ndarray],
    fps: float | Fraction,
    spec: PostSpec,
    out_path: Path,
    *,
    n_frames: int | None = None,
    on_progress: ProgressFn | None = None,
    should_stop: Callable[[], bool] | None = None,
    device: str | None = None,
    on_frame: Callable[[int, np.ndarray], None] | None = None,
) -> PostResult:
    """Run interpolate → upscale → encode. ``n_frames`` (known for arrays) makes progress totals exact.
    ``on_frame(index, frame)`` sees each output frame as it goes to the encoder (thumbnails, sheets)."""
    check_post(spec)
    t_start = time.perf_counter()
    if isinstance(frames, np.ndarray):
        n_frames = len(frames)
    fps_in = as_rate(fps)
    methods: dict[str, str] = {}
    source = _Timed(frames)
    first_size: list[tuple[int, int]] = []
    timed = _retime(_note_size(source, first_size), fps_in, n_frames, spec, device, methods)
    stream = timed.stream
    up_spec = _effective_upscale(spec)
    plans: list[UpscalePlan] = []
    upscaled: _Timed | None = None
    if up_spec is not None:
        upscaled = _Timed(UpscaleStage(up_spec, spec.weights_dir, device).stream(stream, plans))
        stream = upscaled

    settings = _encode_settings(spec.export, timed.fps, n_frames, fps_in)
    out_size: list[tuple[int, int]] = []
    reported = _reported(stream, timed.total, should_stop, on_frame, on_progress)
    encoded = encode_stream(_note_size(reported, out_size), Path(out_path), settings, total_frames=timed.total)
    total_s = time.perf_counter() - t_start
    if plans:
        methods["upscale"] = plans[0].method
    return PostResult(
        path=Path(out_path), frames_in=source.count, frames_out=encoded, fps_in=float(fps_in),
        fps_out=float(timed.fps), size_in=first_size[0] if first_size else (0, 0),
        size_out=out_size[0] if out_size else (0, 0), codec=settings.codec, container=settings.container,
        methods=methods, timings=_stage_timings(total_s, source, timed.interpolated, upscaled),
        audio=spec.export.audio is not None,
    )


@dataclass
class _Retimed:
    """The stream after interpolation and rate conversion: its rate, frame count (when known) and the
    interpolation's timer."""

    stream: Iterable[np.ndarray]
    fps: Fraction
    total: int | None
    interpolated: _Timed | None


def _retime(stream: Iterable[np.ndarray], fps_in: Fraction, total: int | None, spec: PostSpec,
            device: str | None, methods: dict[str, str]) -> _Retimed:
    """Interpolate to the target rate, then repeat/drop frames to ``export.fps`` if that differs;
    ``total`` (frames the encoder will receive) follows each rate change."""
    fps_now = fps_in
    retimed: _Timed | None = None
    if spec.interpolate is not None:
        synth = make_synth(spec.interpolate, spec.weights_dir, device)
        fps_out = target_fps(spec.interpolate, fps_in)
        methods["interpolate"] = synth.method
        retimed = _Timed(retime(stream, fps_now, fps_out, synth))
        total = output_count(total, fps_now, fps_out) if total else None
        stream, fps_now = retimed, fps_out
    ex = spec.export
    if ex.fps is not None and as_rate(ex.fps) != fps_now:
        # an output rate without interpolation (or beyond it): repeat/drop frames, timing stays exact
        methods["fps_convert"] = "nearest"
        stream = retime(stream, fps_now, as_rate(ex.fps), NearestSynth())
        total = output_count(total, fps_now, as_rate(ex.fps)) if total else None
        fps_now = as_rate(ex.fps)
    return _Retimed(stream, fps_now, total, retimed)


def _note_size(frames: Iterable[np.ndarray], size: list[tuple[int, int]]) -> Iterator[np.ndarray]:
    """Pass frames through, recording the first one's (width, height) in ``size``."""
    for f in frames:
        if not size:
            size.append((f.shape[1], f.shape[0]))
        yield f


def _reported(frames: Iterable[np.ndarray], total: int | None, should_stop: Callable[[], bool] | None,
              on_frame: Callable[[int, np.ndarray], None] | None,
              on_progress: ProgressFn | None) -> Iterator[np.ndarray]:
    """Frames on their way to the encoder: even-sided, shown to ``on_frame``, counted, cancellable."""
    for done, frame in enumerate(frames):  # done: frames already sent
        if should_stop is not None and should_stop():
            raise GenerationCancelled(done, total or 0)
        f = _even(frame)
        if on_frame is not None:
            on_frame(done, f)
        yield f
        if on_progress is not None:
            on_progress(done + 1, total)


def _encode_settings(ex: ExportSpec, fps: Fraction, n_frames: int | None, fps_in: Fraction) -> EncodeSettings:
    codec, container = resolve_codec_container(ex)
    preset = PRESETS.get(ex.preset) if ex.preset else None
    bitrate = ex.bitrate if ex.bitrate is not None else (preset.bitrate if preset and ex.crf is None else None)
    return EncodeSettings(
        codec=codec, container=container, fps=fps, crf=ex.crf, bitrate=bitrate,
        encoder_preset=ex.encoder_preset or (preset.encoder_preset if preset and preset.encoder_preset else None),
        audio=ex.audio,
        # the soundtrack keeps the source clip's duration whatever retiming does to the frame count
        audio_seconds=float(n_frames / fps_in) if n_frames else None,
    )


def _stage_timings(total_s: float, source: _Timed, retimed: _Timed | None, upscaled: _Timed | None) -> dict[str, float]:
    """Inclusive times nest (upscale includes interpolate includes decode); subtract to get each stage's own."""
    timings = {"total_s": total_s, "source_s": source.seconds}
    inner = source.seconds
    if retimed is not None:
        timings["interpolate_s"] = retimed.seconds - inner
        inner = retimed.seconds
    if upscaled is not None:
        timings["upscale_s"] = upscaled.seconds - inner
        inner = upscaled.seconds
    timings["encode_s"] = total_s - inner
    return timings


def read_video(path: Path) -> tuple[Iterator[np.ndarray], Fraction, int | None, bool]:
    """Stream a file's frames as RGB uint8 without decoding it all: (frames, fps, frame count if the
    container knows it, has audio)."""
    container = av.open(str(path))
    vs = container.streams.video[0]
    fps = as_rate(vs.average_rate or vs.guessed_rate or 24)
    n = vs.frames or None
    has_audio = bool(container.streams.audio)

    def gen() -> Iterator[np.ndarray]:
        try:
            for f in container.decode(vs):
                yield f.to_ndarray(format="rgb24")
        finally:
            container.close()

    return gen(), fps, n, has_audio
