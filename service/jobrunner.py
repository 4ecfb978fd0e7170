"""The archive-job worker: one thread in the service process that labels stored archives chunk
by chunk through the same dynamic batcher as the interactive requests.

Sharing: the worker submits one chunk at a time in the batcher's background lane; interactive
reports always head the next run and never share a run with background reports, and a
background run holds at most `job_batch_size` reports, so a request arriving while a job runs
waits for one short run at most (BENCHMARKS.md measures the p99). One job runs at a time;
others wait queued.

Durability: chunk n is input rows [n * chunk_rows, (n + 1) * chunk_rows), a fixed split of the
stored input, so a chunk redone after a crash holds the same rows. Its results file is in place
before its database row commits (`service.jobstore`), together with its labelled ids, which
the duplicate check of later chunks queries. On start the worker resumes jobs left running:
committed chunks are checked readable and skipped.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from itertools import islice
from typing import Any

from labeler.archive import label_batch
from labeler.batcher import DynamicBatcher
from labeler.errors import InvalidInput, Overloaded
from labeler.records import Report, ReportLabels
from labeler.rows import count_rows, read_rows
from labeler.schema import Schema
from service.jobfiles import JobFiles, write_chunk
from service.jobstore import Job, JobStore

log = logging.getLogger("radlabel.jobs")


class BackgroundLabeler:
    """The batcher's background lane behind the `Labeler` interface `label_batch` expects."""

    def __init__(self, batcher: DynamicBatcher, name: str, sha256: str) -> None:
        self.batcher = batcher
        self._name = name
        self.sha256 = sha256

    @property
    def name(self) -> str:
        """The served labeler's name."""
        return self._name

    def health(self) -> bool:
        """Always true: the batcher exists only once the labeler is healthy."""
        return True

    def label(
        self, reports: Sequence[Report], views: Sequence[str] = (), mapping: str = "default"
    ) -> list[ReportLabels]:
        """Label through the background lane and wait."""
        return self.batcher.submit(reports, views, mapping, background=True).result()


def chunks(
    rows: Iterator[tuple[int, dict[str, Any]]], size: int
) -> Iterator[list[tuple[int, dict[str, Any]]]]:
    """Consecutive lists of `size` rows (the last may be shorter)."""
    while batch := list(islice(rows, size)):
        yield batch


class JobRunner:
    """Runs queued and interrupted jobs, one at a time, in a daemon thread."""

    def __init__(
        self,
        store: JobStore,
        files: JobFiles,
        batcher: DynamicBatcher,
        schema: Schema,
        labeler: BackgroundLabeler,
        chunk_rows: int,
        max_chars: int,
        on_chunk: Any = None,
        retry_s: float = 5.0,
    ) -> None:
        self.store = store
        self.files = files
        self.batcher = batcher
        self.schema = schema
        self.labeler = labeler
        self.chunk_rows = chunk_rows
        self.max_chars = max_chars
        self.on_chunk = on_chunk
        self.retry_s = retry_s  # after a job store error
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the worker (it resumes interrupted jobs first)."""
        self._thread = threading.Thread(target=self._loop, name="radlabel-jobs", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """A job was queued or cancelled."""
        self._wake.set()

    def stop(self, timeout: float | None = None) -> None:
        """Stop after the chunk in progress; an unfinished job stays `running` and resumes on restart."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                if not self._step():
                    return
            except sqlite3.OperationalError as exc:  # the job store failed (locked, full, I/O):
                # the jobs stay as it last recorded them; try again shortly instead of dying,
                # which left every queued job waiting until a restart
                log.error(
                    "job store error, retrying in %.1f s: %s: %s", self.retry_s, type(exc).__name__, exc
                )
                self._pause(self.retry_s)

    def _pause(self, seconds: float) -> None:
        """Sleep until `seconds` pass or `wake`/`stop` is called."""
        self._wake.wait(seconds)
        self._wake.clear()

    def _step(self) -> bool:
        """Run the next runnable job, or wait a while for one; False once the batcher stops."""
        job = self.store.next_runnable()
        if job is None:
            self._pause(1.0)
            return True
        try:
            self._run(job)
        except Overloaded:  # the batcher is shutting down: resume on restart
            return False
        except sqlite3.OperationalError:  # the store's failure, not the job's: it resumes later
            raise
        except InvalidInput as exc:
            self.store.finish(job.id, "failed", str(exc))
        except OSError as exc:
            self.store.finish(job.id, "failed", f"storage error: {exc.strerror or exc}")
        except Exception as exc:  # a bug: fail this job, keep serving the others
            log.exception("job %s failed", job.id)
            self.store.finish(job.id, "failed", f"internal error ({type(exc).__name__})")
        return True

    def _run(self, job: Job) -> None:
        path = self.files.input(job.id, job.format)
        if not path.is_file():
            raise InvalidInput("the stored input is missing")
        total = job.total if job.total is not None else count_rows(path, job.format)
        if not self.store.start(job.id, total):
            return
        done: set[int] = set(self.store.committed(job.id))
        self._check_chunks(job.id, done)
        log.info("job %s: %s, %d rows, %d chunks already done", job.id, job.format, total, len(done))
        for n, rows in enumerate(chunks(read_rows(path, job.format), self.chunk_rows)):
            if n in done:
                continue
            if self._stopping.is_set() or self.store.state(job.id) != "running":
                return  # shutting down (resumes later) or cancelled
            started = time.monotonic()
            seen = self.store.known_ids(job.id, [str(r["id"]) for _, r in rows if r.get("id") is not None])
            result = label_batch(
                self.labeler, rows, self.schema, job.views, job.mapping, seen, self.max_chars
            )
            write_chunk(self.files.chunk(job.id, n), result.table)
            seconds = time.monotonic() - started
            ids = result.table.column("id").to_pylist()
            self.store.commit_chunk(job.id, n, len(rows), ids, result.errors, seconds)
            if self.on_chunk is not None:
                self.on_chunk(result.table.num_rows, len(result.errors))
        if self.store.finish(job.id, "done"):
            log.info("job %s: done", job.id)

    def _check_chunks(self, job_id: str, done: set[int]) -> None:
        """Every committed chunk's file is there and readable, or the job cannot resume."""
        import pyarrow.parquet as pq

        for n in sorted(done):
            try:
                pq.read_metadata(self.files.chunk(job_id, n))
            except (OSError, ValueError) as exc:  # pyarrow's errors derive from these
                raise InvalidInput(f"results chunk {n} is unreadable ({exc}); the job cannot resume") from exc
