"""Turning a validated creation request into job records: model choice, OpenAI size/seconds
mapping, images saved under the job folder, ``n`` takes, idempotency hash, admission."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipelines import resolve
from pipelines.core.catalog import Mode, ModelEntry
from pipelines.core.errors import InvalidSpec, ModelUnavailable
from pipelines.core.shapes import Shape, fit_report, pick_shape
from pipelines.core.spec import GenerationSpec, ImageFit, ResolvedSpec, check_seed, frames_for_seconds
from pipelines.weights import WeightsLocator
from server.api.audio import Soundtrack, with_audio
from server.api.errors import InvalidRequest
from server.api.uploads import ImageUpload
from server.jobs.models import Job, JobState
from server.jobs.service import JobService

# Reference images travel as uploads named reference_image_0, _1, …; the spec takes them as one list.
REFERENCE_PREFIX = "reference_image_"
_SIZE = re.compile(r"^\s*(\d{1,5})\s*[xX×]\s*(\d{1,5})\s*$")


@dataclass
class Draft:
    """Everything a set of ``n`` jobs needs, before any file is written."""

    mode: Mode
    spec: GenerationSpec          # without its input files: create_jobs adds each take's copies
    images: dict[str, ImageUpload]
    n: int
    seconds: str | None
    metadata: dict[str, str]
    priority: int
    webhook_url: str | None
    post: dict[str, Any] | None = None  # checked PostSpec JSON (server.api.post_fields.parse_post)
    parent_id: str | None = None        # extend/remix: the video this one continues or re-runs
    relation: str | None = None         # "extend" | "remix"
    workflow: dict[str, Any] = field(default_factory=dict)  # history kept on the job (server.jobs.provenance)
    audio: Soundtrack | None = None     # an uploaded soundtrack for the post stage to mux (server.api.audio)
    seeds: list[int] | None = None      # one seed per take (studio takes); else seed, seed+1, ...


def request_hash(endpoint: str, fields: dict[str, Any], images: dict[str, ImageUpload]) -> str:
    canon = {"endpoint": endpoint, "fields": fields, "images": {k: v.sha256 for k, v in sorted(images.items())}}
    return hashlib.sha256(json.dumps(canon, sort_keys=True, default=str).encode()).hexdigest()


class PresentWeights:
    """Whether a model's weights are on disk, as every submission asks: ``WeightsLocator.find``
    walks the candidate folders and fingerprints the index, a third of a submission's time on the
    event loop in a burst. A model found stays found for ``ttl_s`` (weights removed meanwhile fail
    that job at load, with the reason); one not found is looked for again at once, so weights just
    put in place are served by the next request."""

    def __init__(self, locator: WeightsLocator, ttl_s: float = 5.0) -> None:
        self.locator = locator
        self.ttl_s = ttl_s
        self._found: dict[str, float] = {}  # model id -> monotonic time it was last found

    def find(self, model_id: str) -> bool:
        now = time.monotonic()
        seen = self._found.get(model_id)
        if seen is not None and now - seen < self.ttl_s:
            return True
        if self.locator.find(model_id) is None:
            self._found.pop(model_id, None)
            return False
        self._found[model_id] = now
        return True


def pick_model(requested: str | None, default: str | None, service: JobService,
               locator: WeightsLocator | PresentWeights | None = None) -> ModelEntry:
    """The catalog entry for the request; with ``locator``, its weights must be on disk (a 400
    now rather than a failed job later)."""
    model = requested or default
    if not model:
        raise InvalidRequest("model: no model given and no default model is configured or present", "model")
    entry = service.catalog.get(model)
    if entry is None:
        served = ", ".join(service.catalog.ids())
        raise InvalidSpec("model", model, f"unknown model; known models: {served}")
    found = locator is None or (locator.find(entry.id) if isinstance(locator, PresentWeights)
                                else locator.find(entry.id) is not None)
    if not found:
        weights = locator.locator if isinstance(locator, PresentWeights) else locator
        assert weights is not None
        present = ", ".join(loc.model_id for loc in weights.present()) or "none"
        raise ModelUnavailable(entry.id, f"weights are not present on this server (served here: {present}); "
                               f"add them with `vidserve weights pull {entry.id}`")
    return entry


def map_size(entry: ModelEntry, size: str) -> tuple[int, int]:
    """OpenAI ``size`` "WxH" onto the model's rules; the 400 says which values are accepted."""
    r, d = entry.rules, entry.defaults
    # Examples: the default and its portrait/landscape swap (the same shape for a square default).
    examples = dict.fromkeys((f"{d.width}x{d.height}", f"{d.height}x{d.width}"))
    accepted = (f"accepted: 'WIDTHxHEIGHT' with both sides multiples of {r.size_multiple} between {r.min_side} "
                f"and {r.max_side} for {entry.id} (e.g. {', '.join(examples)}; default {d.width}x{d.height})")
    m = _SIZE.match(size)
    if not m:
        raise InvalidRequest(f"size={size!r}: not WIDTHxHEIGHT; {accepted}", "size")
    w, h = int(m.group(1)), int(m.group(2))
    for side in (w, h):
        if side % r.size_multiple or not r.min_side <= side <= r.max_side:
            raise InvalidRequest(f"size={size!r}: {accepted}", "size")
    return w, h


def apply_shape(entry: ModelEntry, spec: dict[str, Any], size: str | None, aspect_ratio: str | None,
                resolution: str | None) -> Shape | None:
    """Width/height into ``spec`` from a shape (aspect ratio, resolution) or a ``size``; they exclude
    each other and explicit width/height. Returns the shape when one was asked for."""
    sized = [name for name, v in (("size", size), ("width", spec.get("width")), ("height", spec.get("height")))
             if v is not None]
    if aspect_ratio is not None or resolution is not None:
        name, value = ("aspect_ratio", aspect_ratio) if aspect_ratio is not None else ("resolution", resolution)
        if sized:
            raise InvalidRequest(f"{name}={value!r}: give a shape (aspect_ratio/resolution) or a size "
                                 f"({sized[0]}), not both", name)
        shape = pick_shape(entry, aspect_ratio, resolution)
        spec["width"], spec["height"] = shape.width, shape.height
        return shape
    if size is not None:
        if len(sized) > 1:
            raise InvalidRequest(f"size={size!r}: give size or width/height, not both", "size")
        spec["width"], spec["height"] = map_size(entry, size)
    return None


def fit_warnings(images: dict[str, ImageUpload], width: int, height: int, fit: ImageFit) -> list[str]:
    """What fitting each input image to the video's size costs, when their aspect ratios differ."""
    out = []
    for name in sorted(images):
        img = images[name]
        if not img.width or not img.height:  # copied inputs (remix) whose size was not read
            continue
        report = fit_report(name, (img.width, img.height), (width, height), fit)
        if report is not None:
            out.append(report.message())
    return out


def map_seconds(entry: ModelEntry, seconds: str | float, fps: int | None) -> int:
    """Seconds onto a frame count the model accepts (rounded up to its 4k+1/8k+1 rule)."""
    rate = fps or entry.defaults.fps
    r = entry.rules
    longest = (r.max_frames - 1) / rate
    accepted = (f"accepted for {entry.id} at {rate} fps: up to {longest:.2f} seconds "
                f"(e.g. {', '.join(repr(str(s)) for s in range(1, int(longest) + 1)[:8]) or repr('1')})")
    try:
        value = float(seconds)
    except (TypeError, ValueError):
        raise InvalidRequest(f"seconds={seconds!r}: not a number; {accepted}", "seconds") from None
    if not 0 < value <= longest + 1e-9:
        raise InvalidRequest(f"seconds={seconds!r}: {accepted}", "seconds")
    return max(r.min_frames, frames_for_seconds(entry, value, rate))


def create_jobs(service: JobService, draft: Draft, key_id: str) -> list[Job]:
    """Save each take's inputs under its folder and resolve the spec once, on the first take (the
    one place a spec's files on disk are checked); the other takes are the same spec with their own
    seed and their own copies of the inputs. Any failure removes what was written."""
    base_seed = draft.spec.seed
    if base_seed is None:
        base_seed = draft.seeds[0] if draft.seeds else secrets.randbelow(2**32)
    seeds = [draft.seeds[i] if draft.seeds else base_seed + i for i in range(draft.n)]
    takes = _Takes(draft, base_seed, f"group_{uuid.uuid4().hex[:16]}" if draft.n > 1 else None, time.time())
    folders: list[Path] = []
    jobs: list[Job] = []
    try:
        first: ResolvedSpec | None = None
        for i, seed in enumerate(seeds):
            job_id = f"video_{uuid.uuid4().hex}"
            folders.append(service.new_dir(job_id))
            paths = _save_inputs(draft.images, folders[-1] / "inputs")
            if first is None:
                first = resolve(draft.spec.model_copy(update={"mode": draft.mode, "seed": seed, **paths}),
                                service.catalog)
                _check_soundtrack(draft, first)
                spec = first
            else:
                check_seed(seed)
                spec = first.model_copy(update={"seed": seed, **paths})
            jobs.append(takes.job(job_id, i, spec, folders[-1], key_id))
            if i == 0:
                service.admit(spec)
    except BaseException:
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)
        raise
    return jobs


def _save_inputs(images: dict[str, ImageUpload], folder: Path) -> dict[str, Any]:
    """The take's own copies of the inputs, as spec fields (reference images as one tuple)."""
    paths: dict[str, Any] = {name: img.save(folder) for name, img in images.items()}
    refs = tuple(paths.pop(k) for k in sorted(paths) if k.startswith(REFERENCE_PREFIX))
    if refs:
        paths["reference_images"] = refs
    return paths


def _check_soundtrack(draft: Draft, spec: ResolvedSpec) -> None:
    if draft.audio is not None and draft.audio.mode == "mix" and not spec.generate_audio:
        raise InvalidSpec("audio_mode", "mix", f"{spec.model} generates no audio here to mix under; "
                          "accepted: 'replace'")


@dataclass(frozen=True)
class _Takes:
    """What the n job records of one draft share."""

    draft: Draft
    base_seed: int
    group_id: str | None
    created_at: float

    def job(self, job_id: str, i: int, spec: ResolvedSpec, folder: Path, key_id: str) -> Job:
        draft = self.draft
        post = draft.post
        inputs = {k: v.sha256 for k, v in sorted(draft.images.items())}
        if draft.audio is not None:
            post = with_audio(post, str(draft.audio.upload.save(folder / "inputs")), draft.audio)
            inputs["audio"] = draft.audio.upload.sha256
        warnings = fit_warnings({k: v for k, v in draft.images.items() if k in ("image", "last_image")},
                                spec.width, spec.height, spec.image_fit)
        seconds = draft.seconds or f"{spec.num_frames / spec.fps:.2f}".rstrip("0").rstrip(".")
        return Job(
            id=job_id, seq=0, state=JobState.QUEUED, model=spec.model, spec=spec.model_dump(mode="json"),
            created_at=self.created_at, priority=draft.priority, seconds=seconds, metadata=draft.metadata,
            key_id=key_id, group_id=self.group_id, webhook_url=draft.webhook_url, post=post,
            parent_id=draft.parent_id, relation=draft.relation,
            workflow={**draft.workflow, "take": i + 1, "takes": draft.n, "base_seed": self.base_seed,
                      "inputs": inputs, **({"warnings": warnings} if warnings else {})},
        )
