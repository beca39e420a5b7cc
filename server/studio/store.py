"""``StudioStore``: projects, shots, reviews and handoffs in the jobs database (same SQLite file, WAL).

Its own connection and lock, so the job layer's write path is untouched; SQLite's file lock orders
writers across the two. Every change is one transaction: nothing half-written.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from server.studio.models import Handoff, HandoffState, Project, Review, Shot, ShotStatus, Verdict

_SCHEMA = """
CREATE TABLE IF NOT EXISTS studio_projects (
    id TEXT PRIMARY KEY,
    key_id TEXT NOT NULL,
    name TEXT NOT NULL,
    aspect_ratio TEXT,
    resolution TEXT,
    model TEXT,
    visual_bible TEXT NOT NULL DEFAULT '',
    notes TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS studio_projects_key ON studio_projects(key_id);
CREATE TABLE IF NOT EXISTS studio_shots (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    scene TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    camera_move TEXT NOT NULL DEFAULT '',
    duration REAL,
    acceptance_note TEXT NOT NULL DEFAULT '',
    prompt TEXT NOT NULL DEFAULT '',
    model TEXT,
    status TEXT NOT NULL,
    multiple_selects INTEGER NOT NULL DEFAULT 0,
    keyframe TEXT,
    last_image TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    refs TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS studio_shots_project ON studio_shots(project_id, position);
CREATE TABLE IF NOT EXISTS studio_reviews (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT NOT NULL,
    shot_id TEXT,
    verdict TEXT,
    verdict_set INTEGER NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    author TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS studio_reviews_job ON studio_reviews(job_id, seq);
CREATE TABLE IF NOT EXISTS studio_handoffs (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    key_id TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at REAL NOT NULL,
    completed_at REAL,
    path TEXT,
    error TEXT,
    selects INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS studio_handoffs_project ON studio_handoffs(project_id, created_at);
"""

PROJECT_FIELDS = ("name", "aspect_ratio", "resolution", "model", "visual_bible", "notes")
SHOT_FIELDS = ("position", "name", "scene", "description", "camera_move", "duration", "acceptance_note", "prompt",
               "model", "status", "multiple_selects", "keyframe", "last_image", "refs")


class StudioStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        with self._lock:
            self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def _rows(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    # --- projects ---

    def add_project(self, project: Project) -> None:
        with self._tx() as db:
            db.execute("INSERT INTO studio_projects VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (project.id, project.key_id, project.name, project.aspect_ratio, project.resolution,
                        project.model, project.visual_bible, project.notes, project.created_at, project.updated_at))

    def project(self, project_id: str) -> Project | None:
        rows = self._rows("SELECT * FROM studio_projects WHERE id = ?", (project_id,))
        return Project(**dict(rows[0])) if rows else None

    def projects(self, key_id: str | None) -> list[Project]:
        if key_id is None:
            rows = self._rows("SELECT * FROM studio_projects ORDER BY created_at DESC")
        else:
            rows = self._rows("SELECT * FROM studio_projects WHERE key_id = ? ORDER BY created_at DESC", (key_id,))
        return [Project(**dict(r)) for r in rows]

    def count_projects(self, key_id: str) -> int:
        return int(self._rows("SELECT COUNT(*) FROM studio_projects WHERE key_id = ?", (key_id,))[0][0])

    def update_project(self, project_id: str, now: float, **values: Any) -> None:
        self._update("studio_projects", PROJECT_FIELDS, project_id, now, values)

    def delete_project(self, project_id: str) -> None:
        with self._tx() as db:
            shots = [r["id"] for r in db.execute("SELECT id FROM studio_shots WHERE project_id = ?", (project_id,))]
            for shot_id in shots:
                db.execute("DELETE FROM studio_reviews WHERE shot_id = ?", (shot_id,))
            db.execute("DELETE FROM studio_shots WHERE project_id = ?", (project_id,))
            db.execute("DELETE FROM studio_handoffs WHERE project_id = ?", (project_id,))
            db.execute("DELETE FROM studio_projects WHERE id = ?", (project_id,))

    # --- shots ---

    def add_shot(self, shot: Shot) -> None:
        with self._tx() as db:
            if shot.position <= 0:  # next after the last one
                row = db.execute("SELECT MAX(position) FROM studio_shots WHERE project_id = ?",
                                 (shot.project_id,)).fetchone()
                shot.position = int(row[0] or 0) + 1
            db.execute("INSERT INTO studio_shots VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (shot.id, shot.project_id, shot.position, shot.name, shot.scene, shot.description,
                        shot.camera_move, shot.duration, shot.acceptance_note, shot.prompt, shot.model,
                        shot.status.value, int(shot.multiple_selects), shot.keyframe, shot.last_image,
                        shot.created_at, shot.updated_at, json.dumps(shot.references)))

    def shot(self, shot_id: str) -> Shot | None:
        rows = self._rows("SELECT * FROM studio_shots WHERE id = ?", (shot_id,))
        return _shot(rows[0]) if rows else None

    def shots(self, project_id: str) -> list[Shot]:
        rows = self._rows("SELECT * FROM studio_shots WHERE project_id = ? ORDER BY position, created_at",
                          (project_id,))
        return [_shot(r) for r in rows]

    def update_shot(self, shot_id: str, now: float, **values: Any) -> None:
        if "status" in values and isinstance(values["status"], ShotStatus):
            values["status"] = values["status"].value
        if "multiple_selects" in values:
            values["multiple_selects"] = int(values["multiple_selects"])
        if "references" in values:
            values["refs"] = json.dumps(values.pop("references"))
        self._update("studio_shots", SHOT_FIELDS, shot_id, now, values)

    def delete_shot(self, shot_id: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM studio_reviews WHERE shot_id = ?", (shot_id,))
            db.execute("DELETE FROM studio_shots WHERE id = ?", (shot_id,))

    # --- reviews ---

    def add_review(self, review: Review) -> Review:
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO studio_reviews (job_id, shot_id, verdict, verdict_set, note, author, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (review.job_id, review.shot_id, review.verdict.value if review.verdict else None,
                 int(review.verdict_set), review.note, review.author, review.created_at))
            review.seq = int(cur.lastrowid or 0)
        return review

    def reviews(self, job_ids: list[str]) -> dict[str, list[Review]]:
        """Each job's reviews, oldest first."""
        out: dict[str, list[Review]] = {j: [] for j in job_ids}
        if not job_ids:
            return out
        marks = ", ".join("?" for _ in job_ids)
        for r in self._rows(f"SELECT * FROM studio_reviews WHERE job_id IN ({marks}) ORDER BY seq", tuple(job_ids)):
            out[r["job_id"]].append(Review(
                seq=r["seq"], job_id=r["job_id"], shot_id=r["shot_id"],
                verdict=Verdict(r["verdict"]) if r["verdict"] else None, verdict_set=bool(r["verdict_set"]),
                note=r["note"], author=r["author"], created_at=r["created_at"]))
        return out

    # --- handoffs ---

    def add_handoff(self, handoff: Handoff) -> None:
        with self._tx() as db:
            db.execute("INSERT INTO studio_handoffs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (handoff.id, handoff.project_id, handoff.key_id, handoff.state.value, handoff.created_at,
                        handoff.completed_at, handoff.path, handoff.error, handoff.selects))

    def latest_handoff(self, project_id: str) -> Handoff | None:
        rows = self._rows("SELECT * FROM studio_handoffs WHERE project_id = ? ORDER BY created_at DESC LIMIT 1",
                          (project_id,))
        return _handoff(rows[0]) if rows else None

    def handoffs_in(self, state: HandoffState) -> list[Handoff]:
        return [_handoff(r) for r in self._rows("SELECT * FROM studio_handoffs WHERE state = ?", (state.value,))]

    def finish_handoff(self, handoff_id: str, state: HandoffState, completed_at: float, path: str | None = None,
                       error: str | None = None) -> None:
        with self._tx() as db:
            db.execute("UPDATE studio_handoffs SET state = ?, completed_at = ?, path = ?, error = ? WHERE id = ?",
                       (state.value, completed_at, path, error, handoff_id))

    def _update(self, table: str, allowed: tuple[str, ...], record_id: str, now: float,
                values: dict[str, Any]) -> None:
        bad = set(values) - set(allowed)
        if bad:
            raise KeyError(f"unknown {table} fields: {sorted(bad)}")
        values = {**values, "updated_at": now}
        sets = ", ".join(f"{k} = ?" for k in values)
        with self._tx() as db:
            db.execute(f"UPDATE {table} SET {sets} WHERE id = ?", [*values.values(), record_id])


def _shot(row: sqlite3.Row) -> Shot:
    data = dict(row)
    data["status"] = ShotStatus(data["status"])
    data["multiple_selects"] = bool(data["multiple_selects"])
    data["references"] = json.loads(data.pop("refs") or "{}")
    return Shot(**data)


def _handoff(row: sqlite3.Row) -> Handoff:
    data = dict(row)
    data["state"] = HandoffState(data["state"])
    return Handoff(**data)
