"""Download file names that sort the way creators name files by hand: project, scene, shot, take.

``ad_s02_sh012_tk03_seed1234_a1b2c3d4.mp4``: numeric shot/scene labels are zero-padded so a folder of
downloads sorts by shot and then take; the seed and a short id keep every name unique. A job without
labels keeps the plain ``<id>.<ext>``.
"""

from __future__ import annotations

import re

from server.jobs.models import Job

_UNSAFE = re.compile(r"[^A-Za-z0-9.-]+")


def _label(value: object, width: int) -> str:
    text = str(value).strip()
    if text.isdigit():
        return text.zfill(width)
    return _UNSAFE.sub("-", text).strip("-.")[:40]


def download_name(job: Job, ext: str) -> str:
    meta = job.metadata or {}
    parts: list[str] = []
    if meta.get("project"):
        parts.append(_label(meta["project"], 1))
    if meta.get("scene"):
        parts.append("s" + _label(meta["scene"], 2))
    if meta.get("shot"):
        parts.append("sh" + _label(meta["shot"], 3))
    if not parts:
        return f"{job.id}.{ext}"
    take = (job.workflow or {}).get("take")
    if take:
        parts.append(f"tk{int(take):02d}")
    relation = job.relation
    if relation:
        parts.append(_label(relation, 1))
    seed = (job.spec or {}).get("seed")
    if seed is not None:
        parts.append(f"seed{seed}")
    parts.append(job.id.removeprefix("video_")[:8])
    return "_".join(p for p in parts if p) + f".{ext}"
