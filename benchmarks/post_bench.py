"""`vidserve bench post`: frames per second of the post stage's three steps at 480p, 720p and 1080p.

- interpolate: ``retime`` with the synth ``make_synth`` picks (RIFE when its weights are under the
  weights dir, else the classical DIS-flow fallback), factor 2; output frames per second.
- upscale: ``UpscaleStage`` ×2 (Real-ESRGAN when present, else Lanczos); output frames per second.
- encode: ``encode_stream`` (PyAV) side by side with the ``ffmpeg`` command line fed the same raw RGB
  frames on stdin with the same encoder and options; the ratio is ours / ffmpeg (above 1: we are faster).

Frames are synthetic (a gradient, a moving square and fixed-seed texture, so flow and the encoder have
real work) and made before any timing. Each cell runs once untimed (model load, encoder start-up),
then ``repeats`` timed runs; the median is reported. Defaults keep a cell to a few seconds on a CPU.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from benchmarks.machine import machine_info

RESOLUTIONS = {"480p": (854, 480), "720p": (1280, 720), "1080p": (1920, 1080)}
STAGES = ("interpolate", "upscale", "encode")
Progress = Callable[[str], None]


@dataclass
class PostBenchConfig:
    resolutions: list[str] = field(default_factory=lambda: list(RESOLUTIONS))  # names above or "WxH"
    stages: list[str] = field(default_factory=lambda: list(STAGES))
    frames: int = 6            # source frames for interpolate/upscale cells
    encode_frames: int = 24    # frames per encode cell
    repeats: int = 2
    fps: int = 24
    factor: int = 2            # interpolation factor
    upscale_factor: int = 2
    codec: str = "h264"
    crf: int | None = None     # None: the export default for the codec (h264: 18)
    encoder_preset: str | None = None
    device: str | None = None
    weights_dir: Path = Path("weights/post")
    ffmpeg: bool = True


def size_of(name: str) -> tuple[int, int]:
    if name in RESOLUTIONS:
        return RESOLUTIONS[name]
    w, h = name.lower().split("x")
    return int(w), int(h)


def synthetic_clip(n: int, width: int, height: int, seed: int = 0) -> np.ndarray:
    """(n, H, W, 3) uint8: a diagonal gradient, fixed texture and a square moving 1% of the width per frame."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([x / width * 200, y / height * 200, (x + y) / (width + height) * 255], axis=-1)
    base += rng.normal(0, 6, size=(height, width, 1)).astype(np.float32)
    side = max(8, height // 6)
    clip = np.empty((n, height, width, 3), dtype=np.uint8)
    for i in range(n):
        frame = base.copy()
        left = int(width * 0.1 + i * width * 0.01)
        top = height // 2 - side // 2
        frame[top:top + side, left:left + side] = (250, 240, 40)
        clip[i] = np.clip(frame, 0, 255).astype(np.uint8)
    return clip


def find_ffmpeg() -> str | None:
    """A system ffmpeg, else the static build the imageio-ffmpeg wheel carries (dev extra)."""
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg
    except ImportError:
        return None
    exe: str = imageio_ffmpeg.get_ffmpeg_exe()
    return exe


def ffmpeg_version(exe: str) -> str:
    out = subprocess.run([exe, "-version"], capture_output=True, text=True, timeout=30).stdout
    return out.splitlines()[0] if out else "unknown"


def _timed(fn: Callable[[], int], repeats: int) -> tuple[float, int, list[float]]:
    fn()  # untimed: model load, encoder start-up, caches
    times: list[float] = []
    count = 0
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        count = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), count, times


def _cell(stage: str, res: str, size: tuple[int, int], frames_out: int, seconds: float, times: list[float],
          **extra: Any) -> dict[str, Any]:
    return {"stage": stage, "resolution": res, "width": size[0], "height": size[1], "frames_out": frames_out,
            "seconds": seconds, "fps": frames_out / seconds if seconds > 0 else None, "runs_s": times, **extra}


def bench_interpolate(cfg: PostBenchConfig, res: str, clip: np.ndarray) -> dict[str, Any]:
    from pipelines.post.interpolate import make_synth, retime
    from pipelines.post.spec import InterpolateSpec

    synth = make_synth(InterpolateSpec(factor=cfg.factor), cfg.weights_dir, cfg.device)
    fps_in = Fraction(cfg.fps)

    def run() -> int:
        return sum(1 for _ in retime(iter(clip), fps_in, fps_in * cfg.factor, synth))

    seconds, n, times = _timed(run, cfg.repeats)
    return _cell("interpolate", res, (clip.shape[2], clip.shape[1]), n, seconds, times, method=synth.method,
                 factor=cfg.factor, frames_in=len(clip))


def bench_upscale(cfg: PostBenchConfig, res: str, clip: np.ndarray) -> dict[str, Any]:
    from pipelines.post.spec import UpscaleSpec
    from pipelines.post.upscale import UpscalePlan, UpscaleStage

    stage = UpscaleStage(UpscaleSpec(factor=cfg.upscale_factor), cfg.weights_dir, cfg.device)
    plans: list[UpscalePlan] = []

    def run() -> int:
        return sum(1 for _ in stage.stream(iter(clip), plans))

    seconds, n, times = _timed(run, cfg.repeats)
    return _cell("upscale", res, (clip.shape[2], clip.shape[1]), n, seconds, times, method=plans[0].method,
                 factor=cfg.upscale_factor, out_size=list(plans[0].dst))


def _ffmpeg_args(exe: str, size: tuple[int, int], fps: int, encoder: str, options: dict[str, object],
                 pix_fmt: str, out: Path) -> list[str]:
    args = [exe, "-hide_banner", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
            "-s", f"{size[0]}x{size[1]}", "-r", str(fps), "-i", "-", "-c:v", encoder]
    for key, value in options.items():
        args += ["-b:v" if key == "b" else f"-{key}", str(value)]  # the same AVOptions PyAV sets
    return [*args, "-pix_fmt", pix_fmt, "-movflags", "+faststart", str(out)]


def _pipe_ffmpeg(args: list[str], frames: Iterable[np.ndarray]) -> int:
    proc = subprocess.Popen(args, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin is not None
    n = 0
    for f in frames:
        proc.stdin.write(np.ascontiguousarray(f).tobytes())
        n += 1
    proc.stdin.close()
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.wait() != 0:
        raise RuntimeError(f"ffmpeg failed: {err.strip()[:500]}")
    return n


def bench_encode(cfg: PostBenchConfig, res: str, clip: np.ndarray, tmp: Path, exe: str | None) -> dict[str, Any]:
    from pipelines.post.export import ENCODERS, EncodeSettings, _video_options, encode_stream
    from pipelines.post.spec import DEFAULT_CONTAINER

    container = "mp4" if cfg.codec != "prores" else "mov"
    if cfg.codec == "vp9":
        container = DEFAULT_CONTAINER["vp9"]
    settings = EncodeSettings(codec=cfg.codec, container=container, fps=Fraction(cfg.fps), crf=cfg.crf,
                              encoder_preset=cfg.encoder_preset)
    ours_path = tmp / f"ours-{res}.{container}"
    size = (clip.shape[2], clip.shape[1])
    options = _video_options(settings)
    sides: dict[str, Callable[[], int]] = {"ours": lambda: encode_stream(iter(clip), ours_path, settings)}
    ff_path = tmp / f"ffmpeg-{res}.{container}"
    args: list[str] = []
    if exe is not None:
        pix_fmt = "yuv422p10le" if cfg.codec == "prores" else "yuv420p"
        args = _ffmpeg_args(exe, size, cfg.fps, ENCODERS[cfg.codec], options, pix_fmt, ff_path)
        sides["ffmpeg"] = lambda: _pipe_ffmpeg(args, clip)
    times: dict[str, list[float]] = {name: [] for name in sides}
    for fn in sides.values():
        fn()  # untimed: encoder start-up, page cache
    n = 0
    for i in range(max(1, cfg.repeats)):
        # alternate the order so load from elsewhere on the machine falls on both sides alike
        for name in (list(sides) if i % 2 == 0 else list(reversed(sides))):
            t0 = time.perf_counter()
            n = sides[name]()
            times[name].append(time.perf_counter() - t0)
    seconds = statistics.median(times["ours"])
    cell = _cell("encode", res, size, n, seconds, times["ours"], codec=cfg.codec, encoder=ENCODERS[cfg.codec],
                 options={k: str(v) for k, v in options.items()}, bytes=ours_path.stat().st_size)
    if exe is not None:
        ff_s = statistics.median(times["ffmpeg"])
        ff_fps = n / ff_s if ff_s > 0 else None
        cell["ffmpeg"] = {"fps": ff_fps, "seconds": ff_s, "runs_s": times["ffmpeg"], "bytes": ff_path.stat().st_size,
                          "command": " ".join([*args[:-1], "OUT"])}
        cell["ratio_vs_ffmpeg"] = cell["fps"] / ff_fps if cell["fps"] and ff_fps else None
    return cell


def run_post_bench(cfg: PostBenchConfig, progress: Progress | None = None) -> dict[str, Any]:
    say = progress or (lambda msg: None)
    bad = [s for s in cfg.stages if s not in STAGES]
    if bad:
        raise ValueError(f"stages={bad}: accepted values: {', '.join(STAGES)}")
    exe = find_ffmpeg() if cfg.ffmpeg and "encode" in cfg.stages else None
    cells: list[dict[str, Any]] = []
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="vidserve-post-bench-") as tmp_dir:
        tmp = Path(tmp_dir)
        for res in cfg.resolutions:
            w, h = size_of(res)
            clip = synthetic_clip(max(cfg.frames, cfg.encode_frames), w, h)
            for stage in cfg.stages:
                say(f"{stage} {res}")
                if stage == "interpolate":
                    cells.append(bench_interpolate(cfg, res, clip[:cfg.frames]))
                elif stage == "upscale":
                    cells.append(bench_upscale(cfg, res, clip[:cfg.frames]))
                else:
                    cells.append(bench_encode(cfg, res, clip[:cfg.encode_frames], tmp, exe))
    settings = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(cfg).items()}
    methods = sorted({c["method"] for c in cells if "method" in c})
    return {
        "benchmark": "post",
        "created_at": started,
        "machine": {**machine_info(), "cpu_threads_used": _threads()},
        "settings": settings,
        "device": _device(cfg.device),
        "weights": "learned" if any(m not in ("lanczos", "classical-dis-flow") for m in methods) else "fallback",
        "methods": methods,
        "ffmpeg": {"path": exe, "version": ffmpeg_version(exe)} if exe else None,
        # two different FFmpeg/x264 builds are compared: record both
        "pyav": {"version": av.__version__, "libraries": {k: ".".join(map(str, v))
                                                        for k, v in av.library_versions.items()}},
        "cells": cells,
        "summary": summarize(cells),
    }


def summarize(cells: list[dict[str, Any]]) -> dict[str, Any]:
    """One figure per cell: ``<stage>_<res>_fps``, and ``encode_<res>_vs_ffmpeg`` (ours / ffmpeg)."""
    out: dict[str, Any] = {}
    for c in cells:
        out[f"{c['stage']}_{c['resolution']}_fps"] = _round(c["fps"])
        if c["stage"] == "encode" and "ffmpeg" in c:
            out[f"encode_{c['resolution']}_ffmpeg_fps"] = _round(c["ffmpeg"]["fps"])
            out[f"encode_{c['resolution']}_vs_ffmpeg"] = _round(c.get("ratio_vs_ffmpeg"))
    return out


def table(data: dict[str, Any]) -> str:
    """Markdown: one row per resolution, frames per second per stage and the ffmpeg ratio."""
    rows: dict[str, dict[str, Any]] = {}
    for c in data["cells"]:
        row = rows.setdefault(c["resolution"], {})
        row[c["stage"]] = f"{c['fps']:.1f} ({c.get('method') or c.get('encoder')})" if c["fps"] else "—"
        if c["stage"] == "encode" and c.get("ratio_vs_ffmpeg"):
            row["ffmpeg"] = f"{c['ffmpeg']['fps']:.1f}"
            row["ratio"] = f"{c['ratio_vs_ffmpeg']:.2f}x"
    cols = ["interpolate", "upscale", "encode", "ffmpeg", "ratio"]
    lines = ["| resolution | interpolate fps | upscale fps | encode fps | ffmpeg CLI fps | ours / ffmpeg |",
             "| --- | --- | --- | --- | --- | --- |"]
    for res, row in rows.items():
        lines.append("| " + " | ".join([res, *(str(row.get(c, "—")) for c in cols)]) + " |")
    return "\n".join(lines)


def _round(x: float | None) -> float | None:
    return round(x, 3) if x is not None else None


def _threads() -> int | None:
    try:
        import torch

        return int(torch.get_num_threads())
    except ImportError:
        return os.cpu_count()


def _device(device: str | None) -> str:
    import torch

    if device:
        return device
    return "cuda" if torch.cuda.is_available() else "cpu"
