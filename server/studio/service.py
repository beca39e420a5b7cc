"""``StudioService``: the studio's rules over its store and the job layer — ownership, shot status,
verdicts (one select per shot unless it allows more), takes and their cost, dailies, handoffs."""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from server.jobs.models import Job, JobState
from server.jobs.service import JobService
from server.studio.errors import StudioConflict, StudioNotFound
from server.studio.handoff import HandoffItem, ProjectInfo, write_handoff
from server.studio.models import (
    SHOT_LABEL,
    Handoff,
    HandoffState,
    Project,
    Review,
    Shot,
    ShotStatus,
    Verdict,
)
from server.studio.store import StudioStore

log = logging.getLogger(__name__)

MAX_TAKES_LISTED = 200  # per shot; older takes past this are still jobs, just not on the shot


@dataclass(frozen=True)
class Cost:
    """What takes cost: GPU-seconds (run time × GPUs per job) and the highest peak VRAM."""

    takes: int
    gpu_seconds: float
    peak_vram_bytes: int | None

    @staticmethod
    def of(jobs: list[Job], gpus_per_job: int = 1) -> Cost:
        seconds = 0.0
        peak: int | None = None
        for job in jobs:
            if job.started_at and job.completed_at:
                seconds += (job.completed_at - job.started_at) * gpus_per_job
            p = (job.timings or {}).get("peak_memory_bytes")
            if isinstance(p, int | float):
                peak = int(max(peak or 0, p))
        return Cost(len(jobs), seconds, peak)

    def plus(self, other: Cost) -> Cost:
        peaks = [p for p in (self.peak_vram_bytes, other.peak_vram_bytes) if p is not None]
        return Cost(self.takes + other.takes, self.gpu_seconds + other.gpu_seconds, max(peaks) if peaks else None)


@dataclass(frozen=True)
class TakeView:
    """A take as the studio shows it: the job, its number within the shot, its reviews and cost."""

    job: Job
    number: int
    reviews: list[Review]
    cost: Cost

    @property
    def verdict(self) -> Verdict | None:
        """``select`` while the video is marked selected (this route or ``POST /v1/videos/{id}/select``),
        else the latest maybe/reject given (a select taken back with ``/unselect`` leaves none)."""
        if self.job.selected:
            return Verdict.SELECT
        for review in reversed(self.reviews):
            if review.verdict_set:
                return None if review.verdict is Verdict.SELECT else review.verdict
        return None


class StudioService:
    def __init__(self, store: StudioStore, jobs: JobService, files_dir: Path) -> None:
        self.store = store
        self.jobs = jobs
        self.files_dir = files_dir
        self._tasks: set[asyncio.Task[None]] = set()

    def recover(self) -> None:
        """A handoff that was building when the server stopped is failed with the reason (POST again)."""
        for h in self.store.handoffs_in(HandoffState.BUILDING):
            self.store.finish_handoff(h.id, HandoffState.FAILED, time.time(),
                                      error="interrupted by a server restart; POST the handoff again")

    async def stop(self) -> None:
        for task in list(self._tasks):
            await asyncio.wait({task}, timeout=30)

    # --- ownership ---

    def project(self, project_id: str, key_id: str, admin: bool) -> Project:
        project = self.store.project(project_id)
        if project is None or (not admin and project.key_id != key_id):
            raise StudioNotFound("project", project_id)
        return project

    def shot(self, shot_id: str, key_id: str, admin: bool) -> tuple[Shot, Project]:
        shot = self.store.shot(shot_id)
        project = self.store.project(shot.project_id) if shot else None
        if shot is None or project is None or (not admin and project.key_id != key_id):
            raise StudioNotFound("shot", shot_id)
        return shot, project

    def shot_dir(self, shot_id: str) -> Path:
        return self.files_dir / "shots" / shot_id

    def delete_project(self, project: Project) -> None:
        shots = self.store.shots(project.id)
        self.store.delete_project(project.id)
        for shot in shots:
            shutil.rmtree(self.shot_dir(shot.id), ignore_errors=True)
        shutil.rmtree(self.files_dir / "handoffs" / project.id, ignore_errors=True)

    def delete_shot(self, shot: Shot) -> None:
        self.store.delete_shot(shot.id)
        shutil.rmtree(self.shot_dir(shot.id), ignore_errors=True)

    # --- takes ---

    def take_jobs(self, shot_id: str) -> list[Job]:
        jobs, _ = self.jobs.list(metadata={SHOT_LABEL: shot_id}, order="asc", limit=MAX_TAKES_LISTED)
        return jobs

    def takes(self, shot: Shot) -> list[TakeView]:
        jobs = self.take_jobs(shot.id)
        reviews = self.store.reviews([j.id for j in jobs])
        gpus = self.jobs.context_parallel
        return [TakeView(j, i + 1, reviews[j.id], Cost.of([j], gpus)) for i, j in enumerate(jobs)]

    def refresh_status(self, shot: Shot, takes: list[TakeView]) -> Shot:
        """generating → in_review once every take has finished; approved once a take is selected."""
        status = shot.status
        if any(t.verdict is Verdict.SELECT for t in takes):
            status = ShotStatus.APPROVED
        elif status is ShotStatus.GENERATING and takes and all(t.job.state.terminal for t in takes):
            status = ShotStatus.IN_REVIEW
        if status is not shot.status:
            self.store.update_shot(shot.id, time.time(), status=status)
            shot.status = status
        return shot

    def takes_started(self, shot: Shot) -> None:
        if shot.status is not ShotStatus.APPROVED:
            self.store.update_shot(shot.id, time.time(), status=ShotStatus.GENERATING)

    # --- reviews ---

    def review(self, job: Job, key_id: str, verdict: Verdict | None, verdict_set: bool, note: str) -> Review:
        """Record a verdict and/or note. ``select`` marks the job selected; in a shot that allows one
        select, the take selected before becomes ``maybe`` (with a note saying why)."""
        shot_id = (job.metadata or {}).get(SHOT_LABEL)
        shot = self.store.shot(shot_id) if shot_id else None
        now = time.time()
        review = self.store.add_review(Review(0, job.id, shot.id if shot else None, verdict, verdict_set, note,
                                              key_id, now))
        if not verdict_set:
            return review
        if verdict is Verdict.SELECT:
            if shot is not None and not shot.multiple_selects:
                for other in self.takes(shot):
                    if other.job.id != job.id and other.verdict is Verdict.SELECT:
                        self.store.add_review(Review(0, other.job.id, shot.id, Verdict.MAYBE, True,
                                                     f"replaced as the select by {job.id}", key_id, now))
                        self.jobs.select(other.job.id, False)
            self.jobs.select(job.id, True)
        elif job.selected:
            self.jobs.select(job.id, False)
        if shot is not None:
            takes = self.takes(shot)
            if shot.status is ShotStatus.APPROVED and not any(t.verdict is Verdict.SELECT for t in takes):
                # its select was taken back: back to review
                self.store.update_shot(shot.id, now, status=ShotStatus.IN_REVIEW)
                shot.status = ShotStatus.IN_REVIEW
            self.refresh_status(shot, takes)
        return review

    # --- cost and dailies ---

    def shot_cost(self, shot: Shot) -> Cost:
        return Cost.of(self.take_jobs(shot.id), self.jobs.context_parallel)

    def dailies(self, project: Project, since: float) -> list[tuple[Shot, list[TakeView]]]:
        out = []
        for shot in self.store.shots(project.id):
            takes = [t for t in self.takes(shot) if t.job.created_at >= since]
            if takes:
                out.append((shot, takes))
        return out

    # --- handoff ---

    def handoff_items(self, project: Project) -> list[HandoffItem]:
        items = []
        for shot in self.store.shots(project.id):
            for take in self.takes(shot):
                if take.verdict is not Verdict.SELECT:
                    continue
                job = take.job
                video = self.jobs.file_of(job, "video")
                if job.state is not JobState.COMPLETED or video is None:
                    raise StudioConflict(f"shot {shot.position} ({shot.name or shot.id}): the selected take "
                                         f"{job.id} is {job.state.value} and has no video to hand off", "shot_id")
                spec = job.spec
                items.append(HandoffItem(
                    position=shot.position, shot_name=shot.name or shot.description or "shot", scene=shot.scene,
                    description=shot.description, take_number=take.number, job_id=job.id, seed=int(spec["seed"]),
                    model=job.model, prompt=spec.get("prompt", ""), verdict="select",
                    notes=[r.note for r in take.reviews if r.note],
                    frames=int(job.workflow.get("frames") or spec["num_frames"]), fps=int(spec["fps"]),
                    gpu_seconds=take.cost.gpu_seconds, peak_vram_bytes=take.cost.peak_vram_bytes, video=video,
                    sidecar=self.jobs.file_of(job, "sidecar"), thumbnail=self.jobs.file_of(job, "thumbnail")))
        if not items:
            raise StudioConflict(f"project {project.id} has no selected takes: select at least one take "
                                 "(POST /v1/videos/{id}/review with verdict=select) before a handoff", "project_id",
                                 "no_selects")
        return items

    def start_handoff(self, project: Project, key_id: str) -> Handoff:
        current = self.store.latest_handoff(project.id)
        if current is not None and current.state is HandoffState.BUILDING:
            return current
        items = self.handoff_items(project)
        handoff = Handoff(f"handoff_{uuid.uuid4().hex[:16]}", project.id, key_id, HandoffState.BUILDING,
                          time.time(), None, None, None, len(items))
        self.store.add_handoff(handoff)
        path = self.files_dir / "handoffs" / project.id / f"{handoff.id}.zip"
        task = asyncio.get_running_loop().create_task(self._build(handoff, project, items, path))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return handoff

    async def _build(self, handoff: Handoff, project: Project, items: list[HandoffItem], path: Path) -> None:
        try:
            await asyncio.to_thread(write_handoff, path, ProjectInfo(project.name, project.notes), items)
        except Exception as exc:
            log.exception("handoff %s of project %s failed", handoff.id, project.id)
            self.store.finish_handoff(handoff.id, HandoffState.FAILED, time.time(),
                                      error=f"{exc.__class__.__name__}: {exc}")
            return
        # Keep only the newest zip of a project.
        for old in path.parent.glob("*.zip"):
            if old != path:
                old.unlink(missing_ok=True)
        self.store.finish_handoff(handoff.id, HandoffState.COMPLETED, time.time(), path=str(path))
        log.info("handoff %s of project %s: %d takes in %s", handoff.id, project.id, len(items), path)
