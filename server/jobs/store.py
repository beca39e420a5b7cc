"""``JobStore``: job records in SQLite (WAL), committed before a job is acknowledged.

Two connections. Writes go through one, owned by a single writer thread that commits in groups:
it takes every write waiting when it comes round (up to ``MAX_GROUP``), runs each in its own
savepoint (one that fails rolls back alone) and commits them with one sync to disk; only then does
each caller get its answer, so a 202 still means the job is on disk, and a burst of submissions
costs one fsync per group instead of one each. Reads go through the other connection under their
own lock, so a status poll never waits behind a writer's fsync (WAL lets readers see the last
commit while a write is in flight). Progress writes are throttled by the dispatcher.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, TypeVar

from server.jobs.errors import IdempotencyConflict
from server.jobs.models import Job, JobState

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    state TEXT NOT NULL,
    model TEXT NOT NULL,
    spec TEXT NOT NULL,
    created_at REAL NOT NULL,
    priority INTEGER NOT NULL DEFAULT 0,
    seconds TEXT NOT NULL DEFAULT '',
    metadata TEXT NOT NULL DEFAULT '{}',
    key_id TEXT NOT NULL DEFAULT 'anonymous',
    group_id TEXT,
    webhook_url TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    stage TEXT,
    progress INTEGER NOT NULL DEFAULT 0,
    eta_seconds REAL,
    started_at REAL,
    completed_at REAL,
    expires_at REAL,
    error_code TEXT,
    error_message TEXT,
    timings TEXT NOT NULL DEFAULT '{}',
    files TEXT NOT NULL DEFAULT '{}',
    worker_id TEXT,
    post TEXT,
    source_video_id TEXT,
    parent_id TEXT,
    relation TEXT,
    selected INTEGER NOT NULL DEFAULT 0,
    workflow TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state);
CREATE INDEX IF NOT EXISTS jobs_expires ON jobs(expires_at);
CREATE TABLE IF NOT EXISTS idempotency (
    scope TEXT PRIMARY KEY,          -- api key id + the client's Idempotency-Key
    request_hash TEXT NOT NULL,
    job_ids TEXT NOT NULL,
    created_at REAL NOT NULL
);
"""

_JSON_FIELDS = {"spec", "metadata", "timings", "files", "post", "workflow"}
# Columns added after the first release: (name, SQL type). Databases created before get them with
# ALTER TABLE at open, so an upgrade keeps its jobs.
_ADDED_COLUMNS = [("post", "TEXT"), ("source_video_id", "TEXT"), ("parent_id", "TEXT"), ("relation", "TEXT"),
                  ("selected", "INTEGER NOT NULL DEFAULT 0"), ("workflow", "TEXT NOT NULL DEFAULT '{}'")]
_COLUMNS = [f.name for f in fields(Job) if f.name != "queue_position"]
T = TypeVar("T")


@dataclass
class _Write:
    """One caller's write: runs on the writer thread inside the group's transaction."""

    run: Callable[[sqlite3.Connection], Any]
    done: Future[Any]


class JobStore:
    MAX_GROUP = 256  # writes committed together at most (bounds how long one group holds the lock)

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()  # held by the writer thread while a group's transaction is open
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL: a 202 means the row survives power loss, not just a process crash.
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        have = {r["name"] for r in self._db.execute("PRAGMA table_info(jobs)")}
        for name, sql_type in _ADDED_COLUMNS:
            if name not in have:
                self._db.execute(f"ALTER TABLE jobs ADD COLUMN {name} {sql_type}")
        self._rlock = threading.Lock()
        self._rdb = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._rdb.row_factory = sqlite3.Row
        self._writes: queue.SimpleQueue[_Write | None] = queue.SimpleQueue()
        self.commits = 0  # group commits so far (each one sync to disk)
        self._closed = False
        self._writer = threading.Thread(target=self._write_loop, name="job-store-writer", daemon=True)
        self._writer.start()

    def close(self) -> None:
        """Commit what is queued, stop the writer, close both connections."""
        if self._closed:
            return
        self._closed = True
        self._writes.put(None)
        self._writer.join()
        with self._lock:
            self._db.close()
        with self._rlock:
            self._rdb.close()

    # -- the writer thread ---------------------------------------------------------------------

    def _write(self, run: Callable[[sqlite3.Connection], T]) -> Future[T]:
        """Queue ``run`` for the writer; the future resolves once its group is committed."""
        done: Future[T] = Future()
        if self._closed:
            done.set_exception(RuntimeError(f"job store {self.path} is closed"))
        else:
            self._writes.put(_Write(run, done))
        return done

    def _write_loop(self) -> None:
        while True:
            first = self._writes.get()
            if first is None:
                return
            group, last = [first], False
            while len(group) < self.MAX_GROUP:
                try:
                    more = self._writes.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    last = True
                    break
                group.append(more)
            self._commit(group)
            if last:
                return

    def _commit(self, group: list[_Write]) -> None:
        outcomes: list[tuple[Any, BaseException | None]] = []
        db = self._db
        with self._lock:
            # A waiter may be gone (its task cancelled at shutdown or by a deadline; asyncio.wrap_future
            # cancels the future too). Its write still runs; only its answer is dropped. Once running, a
            # future can no longer be cancelled, so setting its outcome below cannot fail (a cancelled
            # one's set_result raised InvalidStateError and ended the writer thread: every later write
            # would wait for ever).
            told = [w.done.set_running_or_notify_cancel() for w in group]
            try:
                db.execute("BEGIN IMMEDIATE")
                for w in group:
                    db.execute("SAVEPOINT one_write")
                    try:
                        value = w.run(db)
                    except Exception as exc:  # this write alone is undone; the group goes on
                        db.execute("ROLLBACK TO one_write")
                        db.execute("RELEASE one_write")
                        outcomes.append((None, exc))
                    else:
                        db.execute("RELEASE one_write")
                        outcomes.append((value, None))
                db.execute("COMMIT")
                self.commits += 1
            except Exception as exc:  # BEGIN or COMMIT failed (disk full, I/O error): none of it is on disk
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
                for w, tell in zip(group, told, strict=True):
                    if tell:
                        w.done.set_exception(exc)
                return
        for w, tell, (value, error) in zip(group, told, outcomes, strict=True):
            if not tell:
                continue
            if error is not None:
                w.done.set_exception(error)
            else:
                w.done.set_result(value)

    # -- writes --------------------------------------------------------------------------------

    def create(self, jobs: list[Job], idempotency: tuple[str, str] | None = None) -> tuple[list[Job], bool]:
        """Insert ``jobs`` in one transaction, durable on return. With ``(scope, request_hash)``: a
        scope seen before returns its jobs (``created`` False) when the hash matches and raises
        IdempotencyConflict when it does not."""
        return self._write(lambda db: self._insert(db, jobs, idempotency)).result()

    async def create_async(self, jobs: list[Job],
                           idempotency: tuple[str, str] | None = None) -> tuple[list[Job], bool]:
        """``create`` for the event loop: waits for the group commit without holding a thread."""
        return await asyncio.wrap_future(self._write(lambda db: self._insert(db, jobs, idempotency)))

    def _insert(self, db: sqlite3.Connection, jobs: list[Job],
                idempotency: tuple[str, str] | None) -> tuple[list[Job], bool]:
        if idempotency is not None:
            scope, digest = idempotency
            row = db.execute("SELECT request_hash, job_ids FROM idempotency WHERE scope = ?", (scope,)).fetchone()
            if row is not None:
                if row["request_hash"] != digest:
                    raise IdempotencyConflict(scope.split(":", 1)[-1])
                return [j for i in json.loads(row["job_ids"]) if (j := self._get(i, db)) is not None], False
        cols = [c for c in _COLUMNS if c != "seq"]
        seqs = []
        for job in jobs:
            cur = db.execute(
                f"INSERT INTO jobs ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
                [_to_sql(c, getattr(job, c)) for c in cols],
            )
            seqs.append(int(cur.lastrowid or 0))
        if idempotency is not None:
            db.execute(
                "INSERT INTO idempotency (scope, request_hash, job_ids, created_at) VALUES (?, ?, ?, ?)",
                (idempotency[0], idempotency[1], json.dumps([j.id for j in jobs]), jobs[0].created_at),
            )
        for job, seq in zip(jobs, seqs, strict=True):
            job.seq = seq
        return jobs, True

    def idempotent(self, scope: str, digest: str) -> list[Job] | None:
        """The jobs a scope created before (same body), None if unseen; IdempotencyConflict otherwise."""
        with self._rlock:
            row = self._rdb.execute(
                "SELECT request_hash, job_ids FROM idempotency WHERE scope = ?", (scope,)
            ).fetchone()
            if row is None:
                return None
            if row["request_hash"] != digest:
                raise IdempotencyConflict(scope.split(":", 1)[-1])
            return [j for i in json.loads(row["job_ids"]) if (j := self._get(i, self._rdb)) is not None]

    def get(self, job_id: str) -> Job | None:
        with self._rlock:
            return self._get(job_id, self._rdb)

    def _get(self, job_id: str, db: sqlite3.Connection | None = None) -> Job | None:
        row = (db or self._db).execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return _from_row(row) if row else None

    def update(self, job_id: str, **values: Any) -> None:
        """Change fields of a job, durable on return (this thread waits for the group commit)."""
        self.update_later(job_id, **values).result()

    async def update_async(self, job_id: str, **values: Any) -> None:
        """``update`` for the event loop: waits for the group commit without blocking the loop."""
        await asyncio.wrap_future(self.update_later(job_id, **values))

    def update_later(self, job_id: str, **values: Any) -> Future[Any]:
        """Queue the change and return at once; the future resolves once it is on disk. Writes are
        committed in the order they were queued, so a later update of the same job lands after it."""
        bad = set(values) - set(_COLUMNS)
        if bad:
            raise KeyError(f"unknown job fields: {sorted(bad)}")
        if not values:
            done: Future[Any] = Future()
            done.set_result(None)
            return done
        sets = ", ".join(f"{k} = ?" for k in values)
        args = [*(_to_sql(k, v) for k, v in values.items()), job_id]
        return self._write(lambda db: db.execute(f"UPDATE jobs SET {sets} WHERE id = ?", args))

    def update_progress(self, job_id: str, attempt: int, **values: Any) -> None:
        """Progress of a running attempt: written only while that attempt is still the one running,
        so a write that lands late (after the job finished, or was requeued) changes nothing."""
        if set(values) - {"stage", "progress", "eta_seconds"}:
            raise KeyError(f"not progress fields: {sorted(values)}")
        sets = ", ".join(f"{k} = ?" for k in values)
        args = [*(_to_sql(k, v) for k, v in values.items()), job_id, JobState.IN_PROGRESS.value, attempt]
        self._write(lambda db: db.execute(
            f"UPDATE jobs SET {sets} WHERE id = ? AND state = ? AND attempts = ?", args)).result()

    def delete(self, job_id: str) -> None:
        self._write(lambda db: db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))).result()

    # -- reads ---------------------------------------------------------------------------------

    def in_states(self, states: Iterable[JobState]) -> list[Job]:
        wanted = [s.value for s in states]
        with self._rlock:
            rows = self._rdb.execute(
                f"SELECT * FROM jobs WHERE state IN ({', '.join('?' for _ in wanted)}) ORDER BY seq", wanted
            ).fetchall()
        return [_from_row(r) for r in rows]

    def expired(self, now: float) -> list[Job]:
        with self._rlock:
            rows = self._rdb.execute(
                "SELECT * FROM jobs WHERE expires_at IS NOT NULL AND expires_at <= ? ORDER BY seq", (now,)
            ).fetchall()
        return [_from_row(r) for r in rows]

    def counts(self) -> dict[str, int]:
        with self._rlock:
            rows = self._rdb.execute("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state").fetchall()
        return {r["state"]: r["n"] for r in rows}

    def list(
        self,
        *,
        after: str | None = None,
        limit: int = 20,
        order: str = "desc",
        states: list[str] | None = None,
        metadata: dict[str, str] | None = None,
        group_id: str | None = None,
        selected: bool | None = None,
        parent_id: str | None = None,
        key_id: str | None = None,
    ) -> tuple[list[Job], bool]:
        """A page of jobs newest-first (``desc``) or oldest-first, after the job ``after``.
        Returns (jobs, has_more)."""
        where: list[str] = []
        args: list[Any] = []
        op = "<" if order == "desc" else ">"
        with self._rlock:
            if after is not None:
                row = self._rdb.execute("SELECT seq FROM jobs WHERE id = ?", (after,)).fetchone()
                if row is None:
                    from server.jobs.errors import JobNotFound

                    raise JobNotFound(after)
                where.append(f"seq {op} ?")
                args.append(row["seq"])
            if states:
                where.append(f"state IN ({', '.join('?' for _ in states)})")
                args.extend(states)
            for column, wanted in (("group_id", group_id), ("parent_id", parent_id), ("key_id", key_id)):
                if wanted is not None:
                    where.append(f"{column} = ?")
                    args.append(wanted)
            if selected is not None:
                where.append("selected = ?")
                args.append(int(selected))
            for key, value in (metadata or {}).items():
                # json_each, not json_extract: a key with a quote or dot would break a JSON path.
                where.append("EXISTS (SELECT 1 FROM json_each(jobs.metadata) AS m WHERE m.key = ? AND m.value = ?)")
                args.extend([key, value])
            sql = "SELECT * FROM jobs"
            if where:
                sql += " WHERE " + " AND ".join(where)
            sql += f" ORDER BY seq {'DESC' if order == 'desc' else 'ASC'} LIMIT ?"
            args.append(limit + 1)
            rows = self._rdb.execute(sql, args).fetchall()
        jobs = [_from_row(r) for r in rows[:limit]]
        return jobs, len(rows) > limit


def _to_sql(column: str, value: Any) -> Any:
    if column in _JSON_FIELDS:
        return json.dumps(value)
    if isinstance(value, JobState):
        return value.value
    return value


def _from_row(row: sqlite3.Row) -> Job:
    data = {c: row[c] for c in _COLUMNS}
    for c in _JSON_FIELDS:
        data[c] = json.loads(data[c]) if data[c] is not None else None  # NULL: a column added later
    data["state"] = JobState(data["state"])
    data["selected"] = bool(data["selected"])
    data["workflow"] = data["workflow"] or {}
    return Job(**data)
