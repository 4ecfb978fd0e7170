"""Where a job's files live under the data directory, and how a results chunk is written.

`<data_dir>/jobs.sqlite3` holds the state (`service.jobstore`); `<data_dir>/jobs/<id>/` holds the
stored input (`input.<format>`) and one Parquet manifest file per committed chunk
(`chunks/<n>.parquet`). A chunk is written under a temporary name, flushed to disk and renamed,
so a crash never leaves a partial file under a final name.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from labeler.archive import write_table_atomic

SUFFIX = {"jsonl": ".jsonl", "csv": ".csv", "parquet": ".parquet"}


class JobFiles:
    """Paths of the job store and of each job's input and result chunks."""

    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir
        self.jobs = data_dir / "jobs"
        self.jobs.mkdir(parents=True, exist_ok=True)

    @property
    def database(self) -> Path:
        """The SQLite file."""
        return self.root / "jobs.sqlite3"

    def dir(self, job_id: str) -> Path:
        """The job's directory."""
        return self.jobs / job_id

    def input(self, job_id: str, fmt: str) -> Path:
        """The stored upload."""
        return self.dir(job_id) / f"input{SUFFIX[fmt]}"

    def chunk(self, job_id: str, n: int) -> Path:
        """The results file of chunk n."""
        return self.dir(job_id) / "chunks" / f"{n:07d}.parquet"

    def remove(self, job_id: str) -> None:
        """Delete a job's files (an upload that was refused)."""
        shutil.rmtree(self.dir(job_id), ignore_errors=True)


def write_chunk(path: Path, table: Any) -> None:
    """Write a results chunk durably (temporary name, fsync, rename, fsync the directory).

    Raises:
        OSError: the disk is full or not writable (the job fails with that reason).
    """
    write_table_atomic(table, path, durable=True)
