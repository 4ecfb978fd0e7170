"""Durable state of archive jobs: one SQLite file (WAL mode) beside the stored inputs and chunks.

A job is a row in `jobs`; its progress is a row per committed chunk in `chunks`, its refused
input rows are rows in `errors`, and the ids it labelled are rows in `ids` (the duplicate check
lives on disk, so memory stays flat however large the archive). The worker writes a chunk's
results file first (temporary name, fsync, rename) and only then commits the chunk row, its ids
and its errors in one transaction, so after a crash a chunk is either fully counted or redone
from the input: every input row ends up in the results exactly once. `synchronous=FULL` makes a
commit survive power loss, not only a killed process.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from labeler.rows import RowFormat

State = Literal["queued", "running", "done", "failed", "cancelled"]
FINAL: tuple[State, ...] = ("done", "failed", "cancelled")

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    state TEXT NOT NULL,
    format TEXT NOT NULL,
    views TEXT NOT NULL,
    mapping TEXT NOT NULL,
    input_bytes INTEGER NOT NULL,
    total INTEGER,
    reason TEXT,
    created REAL NOT NULL,
    started REAL,
    finished REAL
);
CREATE TABLE IF NOT EXISTS chunks (
    job TEXT NOT NULL REFERENCES jobs(id),
    n INTEGER NOT NULL,
    rows INTEGER NOT NULL,
    labelled INTEGER NOT NULL,
    errors INTEGER NOT NULL,
    seconds REAL NOT NULL,
    committed REAL NOT NULL,
    PRIMARY KEY (job, n)
);
CREATE TABLE IF NOT EXISTS errors (
    job TEXT NOT NULL REFERENCES jobs(id),
    line INTEGER NOT NULL,
    report_id TEXT,
    reason TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS errors_job ON errors(job, line);
CREATE TABLE IF NOT EXISTS ids (
    job TEXT NOT NULL,
    rid TEXT NOT NULL,
    PRIMARY KEY (job, rid)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS jobs_owner ON jobs(owner, created);
"""


@dataclass(frozen=True)
class Job:
    """A job row plus its progress summed over committed chunks."""

    id: str
    owner: str
    state: State
    format: RowFormat
    views: list[str]
    mapping: str
    input_bytes: int
    total: int | None
    reason: str | None
    created: float
    started: float | None
    finished: float | None
    chunks: int
    rows_done: int
    labelled: int
    errors: int
    busy_seconds: float

    @property
    def final(self) -> bool:
        """True once the job will not change any more."""
        return self.state in FINAL


class JobStore:
    """Thread-safe access to the jobs database (one connection, one lock: calls are short)."""

    def __init__(self, path: Path, timeout: float = 30.0) -> None:
        """`timeout`: seconds a call waits for a lock held by another connection before it fails."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=timeout)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @staticmethod
    def new_id() -> str:
        """A fresh job id (its input is stored under it before the job row exists)."""
        return uuid.uuid4().hex

    def create(
        self, job_id: str, owner: str, fmt: str, views: Sequence[str], mapping: str, input_bytes: int
    ) -> None:
        """Register a queued job whose input is already stored under `job_id`."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO jobs (id, owner, state, format, views, mapping, input_bytes, created) "
                "VALUES (?, ?, 'queued', ?, ?, ?, ?, ?)",
                (job_id, owner, fmt, ",".join(views), mapping, input_bytes, time.time()),
            )

    _SELECT = """
        SELECT j.*, COUNT(c.n) AS chunks, COALESCE(SUM(c.rows), 0) AS rows_done,
               COALESCE(SUM(c.labelled), 0) AS labelled, COALESCE(SUM(c.errors), 0) AS n_errors,
               COALESCE(SUM(c.seconds), 0) AS busy_seconds
        FROM jobs j LEFT JOIN chunks c ON c.job = j.id
    """

    @staticmethod
    def _job(row: sqlite3.Row) -> Job:
        return Job(
            id=row["id"],
            owner=row["owner"],
            state=row["state"],
            format=row["format"],
            views=[v for v in row["views"].split(",") if v],
            mapping=row["mapping"],
            input_bytes=row["input_bytes"],
            total=row["total"],
            reason=row["reason"],
            created=row["created"],
            started=row["started"],
            finished=row["finished"],
            chunks=row["chunks"],
            rows_done=row["rows_done"],
            labelled=row["labelled"],
            errors=row["n_errors"],
            busy_seconds=row["busy_seconds"],
        )

    def get(self, job_id: str, owner: str | None = None) -> Job | None:
        """A job by id (only when it belongs to `owner`, if given)."""
        with self._lock:
            row = self._db.execute(self._SELECT + " WHERE j.id = ? GROUP BY j.id", (job_id,)).fetchone()
        if row is None or (owner is not None and row["owner"] != owner):
            return None
        return self._job(row)

    def of_owner(self, owner: str, limit: int = 100) -> list[Job]:
        """The owner's jobs, newest first."""
        with self._lock:
            rows = self._db.execute(
                self._SELECT + " WHERE j.owner = ? GROUP BY j.id ORDER BY j.created DESC LIMIT ?",
                (owner, limit),
            ).fetchall()
        return [self._job(r) for r in rows]

    def next_runnable(self) -> Job | None:
        """The oldest job that is running (interrupted by a restart) or queued."""
        with self._lock:
            row = self._db.execute(
                self._SELECT + " WHERE j.state IN ('running', 'queued') GROUP BY j.id "
                "ORDER BY j.state = 'queued', j.created LIMIT 1"
            ).fetchone()
        return None if row is None else self._job(row)

    def start(self, job_id: str, total: int) -> bool:
        """Mark a job running with its row count; False when it was cancelled meanwhile."""
        with self._tx() as db:
            cur = db.execute(
                "UPDATE jobs SET state = 'running', total = ?, started = COALESCE(started, ?) "
                "WHERE id = ? AND state IN ('queued', 'running')",
                (total, time.time(), job_id),
            )
            return cur.rowcount == 1

    def known_ids(self, job_id: str, ids: Sequence[str]) -> set[str]:
        """Which of these report ids the job has labelled in committed chunks (the duplicate
        check lives on disk, so a 10^7-report job does not hold its ids in memory)."""
        found: set[str] = set()
        unique = list(dict.fromkeys(ids))
        with self._lock:
            for i in range(0, len(unique), 900):
                part = unique[i : i + 900]
                marks = ",".join("?" * len(part))
                rows = self._db.execute(
                    f"SELECT rid FROM ids WHERE job = ? AND rid IN ({marks})",  # noqa: S608 (placeholders only)
                    (job_id, *part),
                ).fetchall()
                found.update(r["rid"] for r in rows)
        return found

    def commit_chunk(
        self,
        job_id: str,
        n: int,
        rows: int,
        labelled: Sequence[str],
        errors: Sequence[dict[str, Any]],
        seconds: float,
    ) -> None:
        """Count a chunk whose results file is in place, with its labelled ids and refused rows,
        in one transaction."""
        with self._tx() as db:
            db.executemany("INSERT INTO ids (job, rid) VALUES (?, ?)", [(job_id, r) for r in labelled])
            db.execute(
                "INSERT INTO chunks (job, n, rows, labelled, errors, seconds, committed) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (job_id, n, rows, len(labelled), len(errors), seconds, time.time()),
            )
            db.executemany(
                "INSERT INTO errors (job, line, report_id, reason) VALUES (?, ?, ?, ?)",
                [(job_id, e["row"], e.get("id"), e["reason"]) for e in errors],
            )

    def committed(self, job_id: str) -> list[int]:
        """Chunk numbers counted so far, in order."""
        with self._lock:
            rows = self._db.execute("SELECT n FROM chunks WHERE job = ? ORDER BY n", (job_id,)).fetchall()
        return [r["n"] for r in rows]

    def errors(self, job_id: str) -> list[tuple[int, str | None, str]]:
        """(line, report id, reason) of the refused rows, in input order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT line, report_id, reason FROM errors WHERE job = ? ORDER BY line", (job_id,)
            ).fetchall()
        return [(r["line"], r["report_id"], r["reason"]) for r in rows]

    def finish(self, job_id: str, state: State, reason: str | None = None) -> bool:
        """Move an unfinished job to a final state; False when it was already final."""
        with self._tx() as db:
            cur = db.execute(
                "UPDATE jobs SET state = ?, reason = ?, finished = ? "
                "WHERE id = ? AND state IN ('queued', 'running')",
                (state, reason, time.time(), job_id),
            )
            return cur.rowcount == 1

    def state(self, job_id: str) -> State | None:
        """The job's state alone (the worker checks it between chunks for a cancel)."""
        with self._lock:
            row = self._db.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return None if row is None else row["state"]
