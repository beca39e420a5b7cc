"""Benchmark results: JSON files under benchmarks/results/, a printed summary, a markdown report."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).parent / "results"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9.]+", "-", text.lower()).strip("-")


def result_name(data: dict[str, Any]) -> str:
    machine = data.get("machine", {})
    device = machine.get("gpu") or f"cpu{machine.get('cpu_count', '')}"
    model = data.get("settings", {}).get("model", "")
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(data.get("created_at", time.time())))
    parts = [stamp, data["benchmark"], model, data.get("weights", ""), device]
    return "-".join(_slug(str(p)) for p in parts if p) + ".json"


def write_result(data: dict[str, Any], out_dir: Path = RESULTS_DIR) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / result_name(data)
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    return path


def _fmt(value: Any, unit: str = "", digits: int = 3) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}g}{unit}"
    return f"{value}{unit}"


def summary_block(data: dict[str, Any]) -> str:
    """The figures that matter, one per line."""
    s = data.get("summary", {})
    lines = [f"== {data['benchmark']} benchmark: {data.get('settings', {}).get('model', '')} "
             f"({data.get('weights', '')} weights) on {data['machine'].get('gpu') or 'CPU'} =="]
    if data["benchmark"] == "pipeline":
        mfu = s.get("mfu")
        lines += [
            f"seconds per denoising step : {_fmt(s.get('step_s'), ' s')}",
            f"MFU                        : {_fmt(mfu * 100 if mfu is not None else None, ' %')}",
            f"seconds per video          : {_fmt(s.get('video_s'), ' s')}",
            f"videos per hour per GPU    : {_fmt(s.get('videos_per_hour_per_gpu'), '', 4)}",
            f"peak VRAM                  : {_fmt(s.get('peak_vram_gb'), ' GB')}",
            f"speed-up vs plain diffusers: {_fmt(s.get('speedup_vs_diffusers'), 'x')}",
            f"PSNR vs plain diffusers    : "
            f"{'identical' if s.get('identical_to_diffusers') else _fmt(s.get('psnr_vs_diffusers_db'), ' dB')}",
        ]
        if s.get("audio_decode_s") is not None:
            lines.append(f"audio decode (VAE+vocoder): {_fmt(s['audio_decode_s'], ' s')} "
                         f"(plain diffusers {_fmt(s.get('audio_decode_s_diffusers'), ' s')})")
        for lv in data.get("levels", []):
            psnr = "identical" if lv["identical_to_exact"] else _fmt(lv["psnr_vs_exact_db"], " dB")
            lines.append(f"speed level {lv['level']:<15}: {_fmt(lv['speedup_vs_exact'], 'x')} vs exact, "
                         f"{_fmt(lv['speedup_vs_diffusers'], 'x')} vs diffusers, PSNR {psnr}, "
                         f"SSIM {_fmt(lv['ssim_vs_exact'])}")
    else:
        for key, value in s.items():
            lines.append(f"{key:<27}: {_fmt(value)}")
    return "\n".join(lines)


_COLUMNS = [
    ("benchmark", lambda d: d["benchmark"]),
    ("model", lambda d: d.get("settings", {}).get("model", "")),
    ("weights", lambda d: d.get("weights", "")),
    ("device", lambda d: d["machine"].get("gpu") or "CPU"),
    ("shape", lambda d: "x".join(str(d.get("settings", {}).get("resolved", {}).get(k, "")) for k in
                                 ("width", "height", "num_frames")) if d["benchmark"] == "pipeline" else ""),
    ("s/step", lambda d: _fmt(d["summary"].get("step_s"))),
    ("MFU %", lambda d: _fmt(d["summary"]["mfu"] * 100 if d["summary"].get("mfu") is not None else None)),
    ("s/video", lambda d: _fmt(d["summary"].get("video_s") or d["summary"].get("latency_mean_s"))),
    ("videos/h", lambda d: _fmt(d["summary"].get("videos_per_hour_per_gpu") or d["summary"].get("videos_per_hour"))),
    ("VRAM GB", lambda d: _fmt(d["summary"].get("peak_vram_gb"))),
    ("vs diffusers", lambda d: _fmt(d["summary"].get("speedup_vs_diffusers"), "x")),
    ("overhead %", lambda d: _fmt(d["summary"].get("server_overhead_pct"))),
]


def markdown_report(paths: Iterable[Path]) -> str:
    rows = []
    for path in sorted(paths):
        data = json.loads(Path(path).read_text())
        rows.append([str(fn(data)) for _, fn in _COLUMNS])
    header = "| " + " | ".join(name for name, _ in _COLUMNS) + " |"
    rule = "| " + " | ".join("---" for _ in _COLUMNS) + " |"
    return "\n".join([header, rule, *("| " + " | ".join(r) + " |" for r in rows)]) + "\n"
