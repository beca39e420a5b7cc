"""The handoff an editor opens: selected takes in shot order with their sidecars, an OpenTimelineIO
timeline, a CMX3600 EDL, a shot list CSV and a contact sheet, in one zip.

Names follow the shot list: ``01_wide_establishing_take2.mp4`` (shot order, shot name, take number
within the shot). The timeline has one clip per select in shot order, each clip's notes and verdict
in its metadata; the EDL is written from the same timeline by the OpenTimelineIO CMX3600 adapter.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class HandoffItem:
    """One selected take, with what the handoff says about it."""

    position: int
    shot_name: str
    scene: str
    description: str
    take_number: int
    job_id: str
    seed: int
    model: str
    prompt: str
    verdict: str
    notes: list[str]
    frames: int
    fps: int
    gpu_seconds: float
    peak_vram_bytes: int | None
    video: Path
    sidecar: Path | None = None
    thumbnail: Path | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def stem(self) -> str:
        name = _SLUG.sub("_", self.shot_name.lower()).strip("_")[:48] or "shot"
        return f"{self.position:02d}_{name}_take{self.take_number}"


@dataclass(frozen=True)
class ProjectInfo:
    name: str
    notes: str


def _timeline(project: ProjectInfo, items: list[HandoffItem]) -> Any:
    import opentimelineio as otio

    timeline = otio.schema.Timeline(name=project.name)
    timeline.metadata["vidserve"] = {"project": project.name, "notes": project.notes}
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    timeline.tracks.append(track)
    for item in items:
        rate = float(item.fps)
        duration = otio.opentime.TimeRange(otio.opentime.RationalTime(0, rate),
                                           otio.opentime.RationalTime(item.frames, rate))
        ref = otio.schema.ExternalReference(target_url=f"{item.stem}.mp4", available_range=duration)
        clip = otio.schema.Clip(name=item.stem, media_reference=ref, source_range=duration)
        clip.metadata["vidserve"] = {
            "shot": item.position, "shot_name": item.shot_name, "scene": item.scene,
            "description": item.description, "take": item.take_number, "video_id": item.job_id,
            "seed": item.seed, "model": item.model, "prompt": item.prompt, "verdict": item.verdict,
            "notes": list(item.notes), "gpu_seconds": round(item.gpu_seconds, 3),
        }
        track.append(clip)
    return timeline


def _edl(timeline: Any) -> str:
    import opentimelineio as otio

    # CMX3600 wants one frame rate for the record side; the takes of a project share the model's.
    rate = next((c.source_range.duration.rate for c in timeline.find_clips()), 24.0)
    text: str = otio.adapters.write_to_string(timeline, adapter_name="cmx_3600", rate=rate)
    return text


def _csv(items: list[HandoffItem]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["shot", "shot_name", "scene", "take", "file", "video_id", "seed", "model", "prompt",
                     "verdict", "notes", "gpu_seconds", "peak_vram_bytes"])
    for it in items:
        writer.writerow([it.position, it.shot_name, it.scene, it.take_number, f"{it.stem}.mp4", it.job_id, it.seed,
                         it.model, it.prompt, it.verdict, " | ".join(it.notes), f"{it.gpu_seconds:.2f}",
                         it.peak_vram_bytes if it.peak_vram_bytes is not None else ""])
    return out.getvalue()


def _contact_sheet(project: ProjectInfo, items: list[HandoffItem]) -> str:
    cards = []
    for it in items:
        thumb = (f'<img src="thumbnails/{it.stem}.webp" alt="{html.escape(it.stem)}">' if it.thumbnail
                 else '<div class="none">no thumbnail</div>')
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in it.notes)
        cards.append(
            f'<figure>{thumb}<figcaption><b>{it.position:02d} {html.escape(it.shot_name)}</b> — take '
            f'{it.take_number}<br><a href="{html.escape(it.stem)}.mp4">{html.escape(it.stem)}.mp4</a><br>'
            f'seed {it.seed} · {html.escape(it.model)}<p>{html.escape(it.prompt)}</p><ul>{notes}</ul>'
            f'</figcaption></figure>')
    return ("<!doctype html><meta charset=utf-8><title>" + html.escape(project.name) + " — contact sheet</title>"
            "<style>body{font:14px sans-serif;margin:2em}figure{display:inline-block;width:260px;vertical-align:top;"
            "margin:0 1em 1em 0}img{width:100%}p{color:#444}</style>"
            f"<h1>{html.escape(project.name)}</h1><p>{html.escape(project.notes)}</p>" + "".join(cards))


def write_handoff(path: Path, project: ProjectInfo, items: list[HandoffItem]) -> None:
    """Write the zip to ``path`` (through a temporary name, so a reader never sees half of it)."""
    items = sorted(items, key=lambda i: (i.position, i.take_number))
    timeline = _timeline(project, items)
    import opentimelineio as otio

    tmp = path.with_name(path.name + ".part")
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for it in items:
            zf.write(it.video, f"{it.stem}.mp4", compress_type=zipfile.ZIP_STORED)
            if it.sidecar is not None:
                zf.write(it.sidecar, f"{it.stem}.json")
            if it.thumbnail is not None:
                zf.write(it.thumbnail, f"thumbnails/{it.stem}.webp", compress_type=zipfile.ZIP_STORED)
        zf.writestr("timeline.otio", otio.adapters.write_to_string(timeline, adapter_name="otio_json"))
        zf.writestr(f"{_SLUG.sub('_', project.name.lower()).strip('_') or 'project'}.edl", _edl(timeline))
        zf.writestr("shots.csv", _csv(items))
        zf.writestr("contact-sheet.html", _contact_sheet(project, items))
        zf.writestr("handoff.json", json.dumps({"project": project.name, "takes": [
            {"file": f"{it.stem}.mp4", "video_id": it.job_id, "shot": it.position, "take": it.take_number}
            for it in items]}, indent=2))
    tmp.replace(path)
