"""The job worker against storage failures: a full disk and an unreadable results chunk fail the
job with a clear reason, never leave a half-written result counted as done.

Real parts: a SQLite file in WAL mode, the tiny ONNX bundle behind the dynamic batcher, and
the kernel's own ENOSPC (the chunk's temporary file is a link to /dev/full).
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path

import pytest

from labeler.batcher import DynamicBatcher
from labeler.model.labeler import ModelLabeler
from labeler.schema import load_schema
from service.jobfiles import JobFiles
from service.jobrunner import BackgroundLabeler, JobRunner
from service.jobstore import JobStore


def setup(
    tmp_path: Path, tiny_bundle: Path, dev_reports, n: int, lock_timeout: float = 30.0, retry_s: float = 5.0
) -> tuple[JobStore, JobFiles, JobRunner, str]:
    files = JobFiles(tmp_path / "data")
    store = JobStore(files.database, timeout=lock_timeout)
    job_id = store.new_id()
    path = files.input(job_id, "jsonl")
    path.parent.mkdir(parents=True)
    path.write_text("".join(json.dumps({"id": r["id"], "text": r["text"]}) + "\n" for r in dev_reports[:n]))
    store.create(job_id, "owner", "jsonl", [], "default", path.stat().st_size)
    return store, files, runner_for(store, files, tiny_bundle, retry_s), job_id


def runner_for(store: JobStore, files: JobFiles, tiny_bundle: Path, retry_s: float = 5.0) -> JobRunner:
    """A fresh worker (as after a restart) with 8-row chunks."""
    model = ModelLabeler.from_bundle(tiny_bundle)
    batcher = DynamicBatcher(model, model.token_counts)
    batcher.start()
    labeler = BackgroundLabeler(batcher, model.name, model.sha256)
    return JobRunner(store, files, batcher, load_schema(), labeler, 8, 20_000, retry_s=retry_s)


def wait_final(store: JobStore, job_id: str) -> None:
    deadline = time.monotonic() + 60
    while not store.get(job_id).final:
        assert time.monotonic() < deadline
        time.sleep(0.02)


def run_until_final(store: JobStore, runner: JobRunner, job_id: str) -> None:
    runner.start()
    wait_final(store, job_id)
    runner.stop(10)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_full_disk_fails_the_job_with_the_reason_and_counts_nothing_half_written(
    tmp_path, tiny_bundle, dev_reports
):
    store, files, runner, job_id = setup(tmp_path, tiny_bundle, dev_reports, 20)
    second = files.chunk(job_id, 1)
    second.parent.mkdir(parents=True)
    second.with_suffix(".parquet.partial").symlink_to("/dev/full")  # chunk 1 hits ENOSPC
    run_until_final(store, runner, job_id)
    job = store.get(job_id)
    assert job.state == "failed" and "No space left on device" in (job.reason or "")
    assert store.committed(job_id) == [0] and job.rows_done == 8  # chunk 0 kept, chunk 1 not counted
    assert not second.exists()


def test_an_unreadable_results_chunk_fails_the_resumed_job(tmp_path, tiny_bundle, dev_reports):
    store, files, runner, job_id = setup(tmp_path, tiny_bundle, dev_reports, 20)
    run_until_final(store, runner, job_id)
    assert store.get(job_id).state == "done"
    # as if the process had died mid-job: running again, one committed chunk damaged on disk
    store._db.execute("UPDATE jobs SET state = 'running', finished = NULL WHERE id = ?", (job_id,))
    store._db.execute("DELETE FROM chunks WHERE job = ? AND n = 2", (job_id,))
    files.chunk(job_id, 1).write_bytes(b"PAR1 damaged")
    run_until_final(store, runner_for(store, files, tiny_bundle), job_id)
    job = store.get(job_id)
    assert job.state == "failed" and "results chunk 1 is unreadable" in (job.reason or "")


def test_a_locked_job_store_delays_the_job_and_the_worker_lives_on(
    tmp_path, tiny_bundle, dev_reports, caplog
):
    """Another connection holds the database's write lock past the store's lock timeout: every
    write of the job worker fails with SQLite's own `database is locked`. The worker retries
    instead of dying (it died, leaving every job queued until a restart), and the job finishes
    once the lock goes."""
    store, files, runner, job_id = setup(
        tmp_path, tiny_bundle, dev_reports, 20, lock_timeout=0.05, retry_s=0.05
    )
    blocker = sqlite3.connect(files.database, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    runner.start()
    try:
        time.sleep(1.0)  # a dozen tries, each refused
        assert runner._thread is not None and runner._thread.is_alive()
        assert store.get(job_id).state == "queued"  # WAL: reads go on under the lock
        assert "database is locked" in caplog.text
    finally:
        blocker.execute("COMMIT")
        blocker.close()
    wait_final(store, job_id)
    runner.stop(10)
    job = store.get(job_id)
    assert job.state == "done" and job.rows_done == 20
    assert not any(r["text"][:40] in caplog.text for r in dev_reports[:20])  # no report text logged
