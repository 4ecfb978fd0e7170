"""Archive-job benchmark, in one run on this machine:

1. raw labeler: `label()` in batches of 256 over a 20k-report archive (as label-archive runs it);
2. the same archive as an HTTP job against a real `radlabel serve` (upload -> done, polled);
3. interactive latency (1 client, one report per request) idle, then while a job runs;
4. memory: server RSS before, during and after uploading a ~200 MB archive, and while its
   job labels for `--label-seconds` (then it is cancelled: labelling all of it takes ~20 min);
5. `radlabel label-archive` on the 20k archive in 8 JSONL shards, local engine vs Ray Data on a
   local 2-CPU Ray (wall time, startup included).

Reports are the IU + synthetic reports, cycled with unique ids. The load driver and the server
share the machine's cores. Run: `python -m tests.bench.jobs`; writes results/jobs.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from labeler.bundles import embedded_bundle
from labeler.model.labeler import ModelLabeler
from labeler.records import Report
from tests.bench.common import DATA, machine, save
from tests.bench.service import rss_mb
from tests.service.server import RADLABEL, Server


def texts() -> list[str]:
    out = []
    for path in (DATA / "reports.jsonl", DATA / "synthetic/reports.jsonl"):
        with path.open(encoding="utf-8") as handle:
            out += [json.loads(line)["text"] for line in handle]
    return out


def write_archive(path: Path, n: int, pool: list[str]) -> int:
    with path.open("w", encoding="utf-8") as handle:
        for i in range(n):
            handle.write(json.dumps({"id": f"r{i}", "text": pool[i % len(pool)]}) + "\n")
    return path.stat().st_size


def upload(url: str, path: Path) -> str:
    def body() -> Any:
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                yield chunk

    r = httpx.post(
        url + "/v1/jobs", content=body(), headers={"Content-Type": "application/x-ndjson"}, timeout=600
    )
    r.raise_for_status()
    return str(r.json()["id"])


def wait(url: str, job_id: str, timeout: float = 3600) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st: dict[str, Any] = httpx.get(f"{url}/v1/jobs/{job_id}", timeout=30).json()
        if st["state"] in ("done", "failed", "cancelled"):
            return st
        time.sleep(0.2)
    raise TimeoutError(job_id)


def interactive(url: str, pool: list[str], n: int, stop: threading.Event | None = None) -> dict[str, float]:
    lat = []
    with httpx.Client(timeout=60) as http:
        for i in range(n):
            if stop is not None and stop.is_set():
                break
            t0 = time.perf_counter()
            http.post(url + "/v1/labels", json={"text": pool[(i * 13) % len(pool)]}).raise_for_status()
            lat.append(time.perf_counter() - t0)
    lat.sort()
    return {
        "requests": len(lat),
        "p50_ms": 1000 * statistics.median(lat),
        "p99_ms": 1000 * lat[min(len(lat) - 1, int(0.99 * len(lat)))],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reports", type=int, default=20_000)
    ap.add_argument("--big-mb", type=int, default=200)
    ap.add_argument("--label-seconds", type=float, default=120)
    ap.add_argument("--skip-ray", action="store_true")
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--job-batch-size", type=int, default=None, help="RADLABEL_JOB_BATCH_SIZE (default 16)")
    args = ap.parse_args()
    pool = texts()
    out: dict[str, Any] = {"machine": machine(), "reports": args.reports}
    print(out["machine"], flush=True)
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        archive = tmp / "archive.jsonl"
        out["archive_mb"] = write_archive(archive, args.reports, pool) / 1e6

        # 1. raw labeler, batches of 256 as label-archive calls it (no evidence spans: a
        # manifest keeps u only, and archive labelling skips them everywhere)
        lab = ModelLabeler.from_bundle(embedded_bundle(), variant="int8").without_evidence()
        reports = [Report(id=f"r{i}", text=pool[i % len(pool)]) for i in range(args.reports)]
        t0 = time.perf_counter()
        for i in range(0, len(reports), 256):
            lab.label(reports[i : i + 256])
        raw = args.reports / (time.perf_counter() - t0)
        out["raw_reports_per_s"] = raw
        del lab
        print(f"raw labeler: {raw:.0f} reports/s", flush=True)

        env = {"RADLABEL_DATA_DIR": str(tmp / "data")}
        if args.job_batch_size:
            env["RADLABEL_JOB_BATCH_SIZE"] = str(args.job_batch_size)
            out["job_batch_size"] = args.job_batch_size
        srv = Server(tmp / "server.log", env=env)
        try:
            srv.wait_ready()
            # 2. the archive as a job
            t0 = time.monotonic()
            job = upload(srv.url, archive)
            t_up = time.monotonic()
            st = wait(srv.url, job)
            elapsed = time.monotonic() - t_up
            out["job"] = {
                "upload_s": t_up - t0,
                "label_s": elapsed,
                "reports_per_s": args.reports / elapsed,
                "fraction_of_raw": args.reports / elapsed / raw,
                "state": st["state"],
            }
            print("job:", out["job"], flush=True)

            # 3. interactive latency idle, then while a job runs
            interactive(srv.url, pool, 30)  # warm the connection path
            idle = interactive(srv.url, pool, 400)
            job2 = upload(srv.url, archive)
            while httpx.get(f"{srv.url}/v1/jobs/{job2}").json()["state"] != "running":
                time.sleep(0.05)
            busy = interactive(srv.url, pool, 400)
            st2 = httpx.get(f"{srv.url}/v1/jobs/{job2}").json()
            httpx.delete(f"{srv.url}/v1/jobs/{job2}")
            out["interactive"] = {"idle": idle, "job_running": busy, "job_state_after": st2["state"]}
            print("interactive:", out["interactive"], flush=True)

            if not args.skip_memory:
                # 4. memory with a ~200 MB archive
                big = tmp / "big.jsonl"
                n_big = int(args.reports * args.big_mb * 1e6 / (out["archive_mb"] * 1e6))
                big_mb = write_archive(big, n_big, pool) / 1e6
                pid = srv.proc.pid
                mem: dict[str, Any] = {"archive_mb": big_mb, "rows": n_big}
                mem["rss_before_mb"], mem["hwm_before_mb"] = rss_mb(pid), rss_mb(pid, "VmHWM")
                job3 = upload(srv.url, big)
                mem["rss_after_upload_mb"], mem["hwm_after_upload_mb"] = rss_mb(pid), rss_mb(pid, "VmHWM")
                samples = []
                t0 = time.monotonic()
                while time.monotonic() - t0 < args.label_seconds:
                    time.sleep(5)
                    samples.append((round(time.monotonic() - t0), rss_mb(pid)))
                st3 = httpx.get(f"{srv.url}/v1/jobs/{job3}").json()
                httpx.delete(f"{srv.url}/v1/jobs/{job3}")
                mem["rss_while_labelling_mb"] = samples
                mem["rows_labelled"] = st3["done"]
                mem["hwm_end_mb"] = rss_mb(pid, "VmHWM")
                out["memory"] = mem
                print("memory:", mem, flush=True)
        finally:
            srv.terminate()

        # 5. label-archive local vs ray on 8 shards
        if not args.skip_ray:
            shards = tmp / "shards"
            shards.mkdir()
            lines = archive.read_text(encoding="utf-8").splitlines(keepends=True)
            per = (len(lines) + 7) // 8
            for k in range(8):
                (shards / f"part-{k}.jsonl").write_text("".join(lines[k * per : (k + 1) * per]))
            engines: dict[str, Any] = {}
            for engine, extra in (("local", []), ("ray", ["--engine", "ray", "--ray-cpus", "2"])):
                t0 = time.monotonic()
                subprocess.run(
                    [RADLABEL, "label-archive", str(shards), str(tmp / f"out-{engine}"), *extra],
                    check=True,
                    capture_output=True,
                    cwd=tmp,
                )
                wall = time.monotonic() - t0
                engines[engine] = {"wall_s": wall, "reports_per_s": args.reports / wall}
            engines["ray_over_local"] = engines["ray"]["reports_per_s"] / engines["local"]["reports_per_s"]
            out["engines"] = engines
            print("engines:", engines, flush=True)
    save(
        "jobs" if not (args.skip_memory or args.job_batch_size) else f"jobs_b{args.job_batch_size or 16}", out
    )


if __name__ == "__main__":
    sys.exit(main())
