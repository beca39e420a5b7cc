"""Where a video came from: the short summary on every ``video`` object, the parent chain of an
extended/remixed/re-posted shot, and the LoRA-set key the scheduler groups jobs by. Torch-free."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from server.jobs.models import Job

MAX_LINEAGE = 100


def parent_of(job: Job) -> str | None:
    """The video this one was made from: extend/remix parent, or the source of a re-post."""
    return job.parent_id or job.source_video_id


def lora_key(spec: dict[str, Any]) -> str:
    """Identifies the adapter set a job needs on its model ("" for none): jobs with equal keys run
    back to back without switching adapters."""
    loras = spec.get("loras") or []
    if not loras:
        return ""
    parts = sorted(f"{x.get('sha256')}:{x.get('strength')}:{','.join(x.get('targets') or [])}" for x in loras)
    return f"{spec.get('model')}|" + hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def workflow_record(job: Job) -> dict[str, Any]:
    """What the sidecar keeps of a job's history: parent and relation, take, base seed, the sha256 of
    every input file (images, the extended video) and what the source was."""
    return {"parent_id": parent_of(job), "relation": job.relation or ("post" if job.source_video_id else None),
            **(job.workflow or {})}


def provenance_summary(job: Job, content_url: str) -> dict[str, Any]:
    spec, wf = job.spec, job.workflow or {}
    return {
        "model": job.model,
        "seed": spec.get("seed"),
        "base_seed": wf.get("base_seed"),
        "take": wf.get("take"),
        "takes": wf.get("takes"),
        "parent_id": parent_of(job),
        "relation": job.relation or ("post" if job.source_video_id else None),
        "loras": [{"name": x.get("name"), "sha256": x.get("sha256"), "strength": x.get("strength"),
                   "targets": x.get("targets")} for x in spec.get("loras") or []],
        "inputs": wf.get("inputs", {}),
        "source": wf.get("source"),
        "sidecar": f"{content_url}?variant=sidecar",
    }


def lineage(job_id: str, get: Callable[[str], Job | None]) -> list[dict[str, Any]]:
    """The chain from ``job_id`` back to its first ancestor, newest first. A parent that was deleted
    ends the chain with ``{"id", "deleted": true}``."""
    chain: list[dict[str, Any]] = []
    seen: set[str] = set()
    current: str | None = job_id
    while current is not None and current not in seen and len(chain) < MAX_LINEAGE:
        seen.add(current)
        job = get(current)
        if job is None:
            chain.append({"id": current, "deleted": True})
            break
        chain.append({"id": job.id, "relation": job.relation or ("post" if job.source_video_id else None),
                      "parent_id": parent_of(job), "model": job.model, "seed": job.spec.get("seed"),
                      "prompt": job.spec.get("prompt", ""), "seconds": job.seconds, "size": job.size,
                      "status": job.state.value, "frames": job.workflow.get("frames")})
        current = parent_of(job)
    return chain


def read_sidecar(job: Job) -> dict[str, Any] | None:
    path = job.files.get("sidecar")
    if not path or not Path(path).is_file():
        return None
    data: dict[str, Any] = json.loads(Path(path).read_text())
    return data
