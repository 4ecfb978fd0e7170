"""Archive jobs end to end: real `radlabel serve` processes on loopback, a real SQLite file.

Uploads in each format (raw body and multipart), progress, downloads in each format, the
errors file, the noise profile on a hand-computed archive, cancel, auth isolation, limits,
and restart-resume after SIGKILL (every id exactly once, the same labels as an uninterrupted
run).
"""

from __future__ import annotations

import io
import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from labeler.gls import soft_target
from labeler.schema import load_schema
from tests.service.server import Server

ROOT = Path(__file__).resolve().parents[2]
KEY_A, KEY_B = "job-key-a-0123456789", "job-key-b-0123456789"
A = {"Authorization": f"Bearer {KEY_A}"}
B = {"Authorization": f"Bearer {KEY_B}"}


def corpus(n: int) -> list[dict[str, str]]:
    """n real reports (IU, then synthetic) with unique ids."""
    rows = []
    for path in (ROOT / "data/reports.jsonl", ROOT / "data/synthetic/reports.jsonl"):
        with path.open(encoding="utf-8") as handle:
            rows += [{"id": r["id"], "text": r["text"]} for r in map(json.loads, handle)]
    return rows[:n]


def jsonl_bytes(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode("utf-8")


def csv_bytes(rows: list[dict[str, str]]) -> bytes:
    import csv

    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["id", "text"])
    w.writerows([[r["id"], r["text"]] for r in rows])
    return out.getvalue().encode("utf-8")


def parquet_bytes(rows: list[dict[str, str]]) -> bytes:
    sink = io.BytesIO()
    pq.write_table(pa.table({"id": [r["id"] for r in rows], "text": [r["text"] for r in rows]}), sink)
    return sink.getvalue()


def wait_done(srv: Server, job_id: str, headers: dict[str, str], timeout: float = 180) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = httpx.get(f"{srv.url}/v1/jobs/{job_id}", headers=headers, timeout=10).json()
        if st["state"] in ("done", "failed", "cancelled"):
            return st
        time.sleep(0.1)
    raise TimeoutError(f"job {job_id} not finished: {st}")


def results(srv: Server, job_id: str, fmt: str, headers: dict[str, str] = A) -> httpx.Response:
    r = httpx.get(f"{srv.url}/v1/jobs/{job_id}/results", params={"format": fmt}, headers=headers, timeout=60)
    assert r.status_code == 200, r.text
    return r


def u_by_id(jsonl: str) -> dict[str, dict[str, int | None]]:
    out = {}
    for line in jsonl.splitlines():
        rec = json.loads(line)
        out[rec["id"]] = {k: v["u"] for k, v in rec["findings"].items()}
    return out


def submit(srv: Server, body: bytes, kind: str, headers: dict[str, str] = A, **params: Any) -> str:
    r = httpx.post(
        f"{srv.url}/v1/jobs",
        content=body,
        headers={**headers, "Content-Type": kind},
        params=params,
        timeout=60,
    )
    assert r.status_code == 202, r.text
    assert r.headers["location"] == r.json()["url"] and r.json()["state"] == "queued"
    return str(r.json()["id"])


def submit_file(srv: Server, name: str, body: bytes, kind: str | None = None, **params: Any) -> str:
    files = {"file": (name, body, kind) if kind else (name, body)}
    r = httpx.post(f"{srv.url}/v1/jobs", files=files, headers=A, params=params, timeout=60)
    assert r.status_code == 202, r.text
    return str(r.json()["id"])


def env(data_dir: Path, **extra: str) -> dict[str, str]:
    return {
        "RADLABEL_API_KEYS": f"{KEY_A},{KEY_B}",
        "RADLABEL_DATA_DIR": str(data_dir),
        "RADLABEL_JOB_CHUNK_ROWS": "16",
        "RADLABEL_MAX_UPLOAD_BYTES": "400000",
        **extra,
    }


@pytest.fixture(scope="module")
def jobs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The default model in fp32 (labels independent of how runs are composed), keys A and B."""
    tmp = tmp_path_factory.mktemp("jobs")
    srv = Server(tmp / "server.log", env=env(tmp / "data", RADLABEL_VARIANT="fp32"))
    srv.wait_ready()
    yield srv
    srv.terminate()


def test_every_upload_format_gives_the_labels_of_the_labels_endpoint(jobs_server):
    srv, rows = jobs_server, corpus(40)
    jobs = {
        "jsonl raw": submit(srv, jsonl_bytes(rows), "application/x-ndjson", view="chexpert14"),
        "csv raw": submit(srv, csv_bytes(rows), "text/csv", view="chexpert14"),
        "parquet raw": submit(srv, parquet_bytes(rows), "application/vnd.apache.parquet", view="chexpert14"),
        "jsonl multipart": submit_file(srv, "a.jsonl", jsonl_bytes(rows), view="chexpert14"),
        "csv multipart": submit_file(srv, "archive.bin", csv_bytes(rows), "text/csv", view="chexpert14"),
        "parquet multipart": submit_file(srv, "a.parquet", parquet_bytes(rows), view="chexpert14"),
    }
    direct = httpx.post(
        f"{srv.url}/v1/labels", json={"reports": rows, "view": "chexpert14"}, headers=A, timeout=60
    ).json()["results"]
    want = {r["id"]: {k: v["u"] for k, v in r["findings"].items()} for r in direct}
    for how, job_id in jobs.items():
        st = wait_done(srv, job_id, A)
        assert (st["state"], st["done"], st["total"], st["labelled"], st["errors"]) == (
            "done",
            40,
            40,
            40,
            0,
        ), how
        assert st["reports_per_s"] > 0 and st["finished"] and st["view"] == ["chexpert14"]
        got = u_by_id(results(srv, job_id, "jsonl").text)
        assert list(got) == [r["id"] for r in rows], how  # input order, each id once
        assert got == want, how


def test_csv_download_is_chexpert_style_and_parquet_is_the_gls_manifest(jobs_server):
    import pandas as pd

    srv, rows = jobs_server, corpus(60)
    job_id = submit(srv, jsonl_bytes(rows), "application/x-ndjson", view="chexpert14")
    assert wait_done(srv, job_id, A)["state"] == "done"
    records = u_by_id(results(srv, job_id, "jsonl").text)

    frame = pd.read_csv(io.StringIO(results(srv, job_id, "csv").text), dtype={"id": str})
    assert list(frame["id"]) == [r["id"] for r in rows]
    for label in ("No Finding", "Cardiomegaly", "Pleural Effusion", "Support Devices"):
        assert set(frame[f"chexpert14:{label}"].dropna().unique()) <= {1, 0, -1}
    statuses = frame["pleural_effusion"]
    u = frame["u_pleural_effusion"]
    assert ((u >= 2) == (statuses == 1)).all() and (u.isna() == statuses.isna()).all()
    assert [None if np.isnan(x) else int(x) for x in u] == [
        records[r["id"]]["pleural_effusion"] for r in rows
    ]

    table = pq.read_table(io.BytesIO(results(srv, job_id, "parquet").content))
    meta = {k.decode(): v.decode() for k, v in table.schema.metadata.items()}
    schema = load_schema()
    assert meta["radlabel.schema_version"] == schema.version
    assert (
        float(meta["radlabel.k"]) == schema.smoothing.k and float(meta["radlabel.r0"]) == schema.smoothing.r0
    )
    assert meta["radlabel.status_mapping"] == "default" and json.loads(meta["radlabel.views"]) == [
        "chexpert14"
    ]
    model = httpx.get(f"{srv.url}/v1/model", headers=A).json()
    assert (
        meta["radlabel.model"] == model["model"] and meta["radlabel.model_sha256"] == model["card"]["sha256"]
    )
    assert table.num_rows == 60 and table.column("id").to_pylist() == [r["id"] for r in rows]
    for k in schema.keys:
        u_col = table.column(f"u.{k}").to_numpy(zero_copy_only=False).astype(float)
        t_col = table.column(f"target.{k}").to_numpy(zero_copy_only=False).astype(float)
        assert np.allclose(t_col, soft_target(u_col, schema.smoothing), equal_nan=True)
        assert list(u_col[~np.isnan(u_col)]) == [
            records[r["id"]][k] for r in rows if records[r["id"]][k] is not None
        ]


def test_bad_rows_are_reported_with_line_and_reason_and_never_fail_the_job(jobs_server):
    srv = jobs_server
    good = corpus(3)
    body = jsonl_bytes(good[:2])
    body += b'{"text": "No effusion."}\n'  # line 3: missing id
    body += b'{"id": "e1", "text": "   "}\n'  # 4: empty text
    body += b'{"id": "e2", "text": "bad \xff byte"}\n'  # 5: not UTF-8
    body += json.dumps(good[0]).encode() + b"\n"  # 6: duplicate id
    body += b'{"id": "e3", "text": "cut\n'  # 7: unparseable
    body += b"\n"  # 8: blank, skipped
    body += json.dumps(good[2]).encode() + b"\n"  # 9: fine
    job_id = submit(srv, body, "application/x-ndjson")
    st = wait_done(srv, job_id, A)
    assert (st["state"], st["labelled"], st["errors"], st["done"], st["total"]) == ("done", 3, 5, 8, 8)
    errs = [
        json.loads(x) for x in httpx.get(f"{srv.url}/v1/jobs/{job_id}/errors", headers=A).text.splitlines()
    ]
    assert [e["line"] for e in errs] == [3, 4, 5, 6, 7]
    reasons = " | ".join(e["reason"] for e in errs)
    for word in ("missing id", "empty", "UTF-8", f"duplicate id {good[0]['id']}", "not valid JSON"):
        assert word in reasons, reasons
    assert errs[3]["id"] == good[0]["id"]
    assert list(u_by_id(results(srv, job_id, "jsonl").text)) == [r["id"] for r in good]


def test_cancel_keeps_what_was_labelled_downloadable(jobs_server):
    srv, rows = jobs_server, corpus(900)
    job_id = submit(srv, jsonl_bytes(rows), "application/x-ndjson")
    deadline = time.monotonic() + 120
    while httpx.get(f"{srv.url}/v1/jobs/{job_id}", headers=A).json()["done"] < 32:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    r = httpx.delete(f"{srv.url}/v1/jobs/{job_id}", headers=A)
    assert r.status_code == 200 and r.json()["state"] == "cancelled", r.text
    time.sleep(1.0)  # the chunk in progress may still commit
    st = httpx.get(f"{srv.url}/v1/jobs/{job_id}", headers=A).json()
    assert st["state"] == "cancelled" and 32 <= st["done"] < 900
    got = u_by_id(results(srv, job_id, "jsonl").text)
    assert list(got) == [r["id"] for r in rows[: st["done"]]]
    again = httpx.delete(f"{srv.url}/v1/jobs/{job_id}", headers=A)
    assert again.status_code == 409 and again.json()["error"]["code"] == "job_finished"


def test_a_job_belongs_to_the_key_that_created_it(jobs_server):
    srv = jobs_server
    job_id = submit(srv, jsonl_bytes(corpus(2)), "application/x-ndjson")
    for path in ("", "/results", "/errors", "/profile"):
        r = httpx.get(f"{srv.url}/v1/jobs/{job_id}{path}", headers=B)
        assert r.status_code == 404 and r.json()["error"]["code"] == "job_not_found", path
    assert httpx.delete(f"{srv.url}/v1/jobs/{job_id}", headers=B).status_code == 404
    assert job_id not in [j["id"] for j in httpx.get(f"{srv.url}/v1/jobs", headers=B).json()["jobs"]]
    assert job_id in [j["id"] for j in httpx.get(f"{srv.url}/v1/jobs", headers=A).json()["jobs"]]
    assert httpx.get(f"{srv.url}/v1/jobs/{job_id}").status_code == 401
    assert (
        httpx.post(f"{srv.url}/v1/jobs", content=b"{}", headers={"Content-Type": "text/csv"}).status_code
        == 401
    )


@pytest.mark.parametrize(
    ("body", "kind", "status", "code"),
    [
        (b"x" * 400_001, "application/x-ndjson", 413, "upload_too_large"),
        (b'{"id": "1", "text": "No effusion."}\n', "application/json", 415, "unsupported_media_type"),
        (b"", "application/x-ndjson", 400, "empty_archive"),
        (b"id,body\n1,No effusion.\n", "text/csv", 400, "bad_archive"),
        (b"PAR1 not parquet at all", "application/vnd.apache.parquet", 400, "bad_archive"),
        (
            b"--x\r\nContent-Disposition: form-data; name=other\r\n\r\nv\r\n--x--\r\n",
            "multipart/form-data; boundary=x",
            400,
            "bad_multipart",
        ),
        (b"whatever", "multipart/form-data", 400, "bad_multipart"),
    ],
)
def test_bad_uploads_get_a_clear_4xx(jobs_server, body, kind, status, code):
    r = httpx.post(
        f"{jobs_server.url}/v1/jobs", content=body, headers={**A, "Content-Type": kind}, timeout=30
    )
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code


def test_unknown_view_and_missing_job(jobs_server):
    r = httpx.post(
        f"{jobs_server.url}/v1/jobs",
        content=jsonl_bytes(corpus(1)),
        headers={**A, "Content-Type": "application/x-ndjson"},
        params={"view": "nope"},
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error"
    assert httpx.get(f"{jobs_server.url}/v1/jobs/0000", headers=A).status_code == 404
    assert httpx.get(f"{jobs_server.url}/v1/jobs/0000/results?format=xml", headers=A).status_code == 422


def test_noise_profile_of_a_hand_computed_archive(tmp_path):
    srv = Server(tmp_path / "server.log", env=env(tmp_path / "data", RADLABEL_LABELER="rules"))
    try:
        srv.wait_ready()
        texts = [
            "FINDINGS: Small left pleural effusion.",  # effusion u=3
            "FINDINGS: Possible small left pleural effusion.",  # u=1
            "FINDINGS: Pleural effusion is likely.",  # u=2
            "FINDINGS: No pleural effusion.",  # u=-3
            "FINDINGS: No pneumothorax.",  # effusion not mentioned; pneumothorax u=-3
        ]
        rows = [{"id": f"r{i}", "text": t} for i, t in enumerate(texts)]
        job_id = submit(srv, jsonl_bytes(rows), "application/x-ndjson", view="chexpert14")
        assert wait_done(srv, job_id, A)["state"] == "done"
        prof = httpx.get(f"{srv.url}/v1/jobs/{job_id}/profile", headers=A).json()
        chart = httpx.get(f"{srv.url}/v1/jobs/{job_id}/profile", params={"format": "png"}, headers=A)
        assert chart.headers["content-type"] == "image/png" and chart.content.startswith(b"\x89PNG")
    finally:
        srv.terminate()
    k = 0.417  # LABELS.md: r = 1 - k|u|; flip mass = max(0, r/2)
    eff = prof["findings"]["pleural_effusion"]
    assert prof["reports"] == 5 and eff["reports"] == 5 and eff["mentioned"] == 4
    assert eff["by_u"] == {"-3": 1, "-2": 0, "-1": 0, "0": 0, "1": 1, "2": 1, "3": 1, "none": 1}
    assert eff["by_status"] == {"present": 2, "absent": 1, "uncertain": 1, "not_mentioned": 1}
    assert eff["hedged_share"] == pytest.approx(2 / 4)
    assert eff["expected_flip_rate"] == pytest.approx(((1 - k) / 2 + (1 - 2 * k) / 2) / 4)
    assert eff["not_mentioned_share"] == pytest.approx(1 / 5)
    ptx = prof["findings"]["pneumothorax"]
    assert (ptx["mentioned"], ptx["hedged_share"], ptx["expected_flip_rate"]) == (1, 0.0, 0.0)
    assert prof["views"]["chexpert14"]["Pleural Effusion"]["mentioned"] == 4
    summary = prof["summary"]  # 5 reports x 17 findings, 5 labels mentioned
    assert summary["reports"] == 5 * 17 and summary["mentioned"] == 5
    assert summary["hedged_share"] == pytest.approx(2 / 5)


def test_sigkill_mid_job_then_restart_resumes_with_every_id_once_and_the_same_labels(tmp_path):
    """The shipped configuration (int8 on CPU): a job interrupted by SIGKILL and resumed gives
    exactly the rows and labels of the same job run without interruption."""
    rows = corpus(700)
    rows[450] = {"id": rows[3]["id"], "text": rows[450]["text"]}  # a duplicate id, reported once
    body = jsonl_bytes(rows)
    data = tmp_path / "data"
    first = Server(tmp_path / "first.log", env=env(data, RADLABEL_MAX_UPLOAD_BYTES="10000000"))
    try:
        first.wait_ready()
        reference = submit(first, body, "application/x-ndjson")
        assert wait_done(first, reference, A)["state"] == "done"
        job_id = submit(first, body, "application/x-ndjson")
        deadline = time.monotonic() + 120
        while True:
            st = httpx.get(f"{first.url}/v1/jobs/{job_id}", headers=A).json()
            if st["done"] >= 64:
                break
            assert time.monotonic() < deadline, st
            time.sleep(0.02)
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait(30)
    finally:
        first.terminate()
    assert st["state"] == "running" and st["done"] < 700, "the kill must land mid-job"
    second = Server(tmp_path / "second.log", env=env(data, RADLABEL_MAX_UPLOAD_BYTES="10000000"))
    try:
        second.wait_ready()
        final = wait_done(second, job_id, A)
        assert (final["state"], final["done"], final["total"], final["errors"]) == ("done", 700, 700, 1)
        resumed = results(second, job_id, "jsonl").text
        uninterrupted = results(second, reference, "jsonl").text
        errors = httpx.get(f"{second.url}/v1/jobs/{job_id}/errors", headers=A).text
        ref_errors = httpx.get(f"{second.url}/v1/jobs/{reference}/errors", headers=A).text
    finally:
        second.terminate()
    ids = [json.loads(line)["id"] for line in resumed.splitlines()]
    assert len(ids) == len(set(ids)) == 699
    assert ids == [r["id"] for i, r in enumerate(rows) if i != 450]
    assert u_by_id(resumed) == u_by_id(uninterrupted)
    assert resumed == uninterrupted
    assert errors == ref_errors and json.loads(errors)["line"] == 451


def test_sigterm_mid_job_exits_cleanly_and_the_job_resumes_after_restart(tmp_path):
    rows = corpus(500)
    data = tmp_path / "data"
    first = Server(tmp_path / "first.log", env=env(data, RADLABEL_MAX_UPLOAD_BYTES="10000000"))
    first.wait_ready()
    job_id = submit(first, jsonl_bytes(rows), "application/x-ndjson")
    deadline = time.monotonic() + 120
    while httpx.get(f"{first.url}/v1/jobs/{job_id}", headers=A).json()["done"] < 32:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    started = time.monotonic()
    assert first.terminate() in (0, -15)  # uvicorn re-raises the signal after a clean shutdown
    assert time.monotonic() - started < 20  # stops after the chunk in progress, not the job
    assert "Application shutdown complete" in first.log_path.read_text()
    second = Server(tmp_path / "second.log", env=env(data, RADLABEL_MAX_UPLOAD_BYTES="10000000"))
    try:
        second.wait_ready()
        final = wait_done(second, job_id, A)
        ids = list(u_by_id(results(second, job_id, "jsonl").text))
    finally:
        second.terminate()
    assert final["state"] == "done" and ids == [r["id"] for r in rows]
