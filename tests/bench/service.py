"""Service benchmark: a real `radlabel serve` under two load drivers, in one run.

Measures, on the IU dev reports, requests against the embedded default model:
- the raw labeler's throughput (one `label()` call over all reports, as the CLI runs it), and
  the service's own batcher in this process without HTTP (workers, run size and evidence as the
  service plans them for a plain request), each before and after the rows (ratios use the mean);
- service throughput and latency p50/p99 at 1, 8 and 32 concurrent clients sending one report
  per request, with dynamic batching on (the defaults), on with one worker (the old default),
  and off (max batch size 1, no wait);
- the same with 16 reports per request (8 clients), where HTTP costs less per report;
- per row: the server's CPU per report and the driver's CPU per request, the batcher's mean
  run size, and the p99 of the server's own request and queue-wait histograms;
- optionally (`--soak SECONDS [--soak-driver wrk]`) a soak at 32 clients, every text unique:
  server RSS minute by minute and errors.

Both drivers run on the same cores as the server: the httpx one (Python, 2-7 ms of CPU per
request) and wrk (C, `tests/bench/wrk.py`, when installed), whose rows are closer to clients on
other machines. Run: `python -m tests.bench.service [--seconds 12] [--soak 600]`; writes
results/service.json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from concurrent.futures import wait
from pathlib import Path
from typing import NamedTuple

import httpx

from labeler.bundles import embedded_bundle
from labeler.model.labeler import ModelLabeler
from labeler.records import Report
from service.metrics import ServiceMetrics
from service.runtime import Runtime
from service.settings import ServiceSettings
from tests.bench import wrk
from tests.bench.common import dev_split, fresh, machine, save
from tests.service.server import Server

LABELS_ROUTE = 'route="/v1/labels"'


def buckets(srv: Server, name: str, where: str = "") -> dict[float, float]:
    """Cumulative bucket counts {le: count} of a histogram, summed over the label sets that
    contain `where` (e.g. `route="/v1/labels"`)."""
    out: dict[float, float] = {}
    for line in httpx.get(srv.url + "/metrics", timeout=10).text.splitlines():
        if line.startswith(name + "_bucket{") and where in line:
            le = float(line.split('le="')[1].split('"')[0])
            out[le] = out.get(le, 0.0) + float(line.rsplit(" ", 1)[1])
    return out


def bucket_quantile(before: dict[float, float], after: dict[float, float], q: float) -> float:
    """Upper bound (ms) of the bucket holding the q-quantile of what was observed in between."""
    delta = {le: after[le] - before.get(le, 0.0) for le in sorted(after)}
    total = delta.get(float("inf"), 0.0)
    for le, count in delta.items():
        if total and count >= q * total:
            return 1000 * le
    return float("nan")


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """Resident set size of a process, MB (`field="VmHWM"`: its peak so far)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def load(
    url: str,
    texts: list[str],
    clients: int,
    per_request: int,
    seconds: float,
    unique: bool = False,
    evidence: bool = False,
) -> dict[str, float]:
    """`clients` concurrent loops posting `per_request` reports each, for `seconds`; `unique`
    makes every text new (a numbered line appended), as real traffic is, so caches keyed on
    the text fill up to their bound instead of holding the 311 dev reports."""
    latencies: list[float] = []
    errors = 0
    done_reports = 0
    stop = time.monotonic() + seconds

    async def client(k: int, http: httpx.AsyncClient) -> None:
        nonlocal errors, done_reports
        i = k * 7
        while time.monotonic() < stop:
            batch = [texts[(i + j) % len(texts)] for j in range(per_request)]
            if unique:
                batch = [fresh(t, f"{k}-{i}-{j}") for j, t in enumerate(batch)]
            i += per_request
            body: dict[str, object] = (
                {"text": batch[0]} if per_request == 1 else {"reports": [{"text": t} for t in batch]}
            )
            if evidence:
                body["include"] = ["evidence"]
            t0 = time.perf_counter()
            try:
                resp = await http.post(url + "/v1/labels", json=body)
            except httpx.HTTPError:  # a transport error is an error of the run, not a crash
                errors += 1
                continue
            latencies.append(time.perf_counter() - t0)
            if resp.status_code == 200:
                done_reports += per_request
            else:
                errors += 1

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:
        started = time.monotonic()
        await asyncio.gather(*(client(k, http) for k in range(clients)))
        elapsed = time.monotonic() - started
    lat = sorted(latencies)
    return {
        "reports_per_s": done_reports / elapsed,
        "requests": len(lat),
        "errors": errors,
        "p50_ms": 1000 * statistics.median(lat),
        "p99_ms": 1000 * lat[min(len(lat) - 1, int(0.99 * len(lat)))],
    }


def raw_rate(texts: list[str], threads: int | None) -> float:
    """Reports/s of the labeler itself: one call over all reports (sorted, batches of 8)."""
    lab = ModelLabeler.from_bundle(embedded_bundle(), threads=threads)
    reports = [Report(id=str(i), text=t) for i, t in enumerate(texts)]
    lab.label(reports[:16])
    best = 0.0
    for _ in range(3):
        t0 = time.perf_counter()
        lab.label(reports)
        best = max(best, len(reports) / (time.perf_counter() - t0))
    return best


def batcher_rate(texts: list[str], data_dir: Path) -> tuple[float, int, int | None]:
    """Reports/s of the service's own batching without HTTP: the service's runtime (labeler,
    workers, run size, lean twin, warm-up, as `radlabel serve` builds them) in this process, every
    report a plain request of its own, all queued at once. Returns (rate, workers, threads)."""
    runtime = Runtime(ServiceSettings(data_dir=data_dir), ServiceMetrics())  # type: ignore[call-arg]
    runtime.start()
    try:
        if not runtime.wait(300) or runtime.batcher is None or runtime.info is None:
            raise RuntimeError(f"the runtime did not get ready: {runtime.error}")
        reports = [Report(id=str(i), text=t) for i, t in enumerate(texts)]
        best = 0.0
        for _ in range(4):  # the first round warms the session up
            t0 = time.perf_counter()
            wait([runtime.batcher.submit([r], evidence=False) for r in reports])
            best = max(best, len(reports) / (time.perf_counter() - t0))
        return best, runtime.info.workers, runtime.info.threads
    finally:
        runtime.stop()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads, so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def serve(tmp: Path, name: str, env: dict[str, str]) -> Server:
    srv = Server(tmp / f"{name}.log", env=env)
    srv.wait_ready()
    return srv


class Load(NamedTuple):
    """A load row: `clients` concurrent clients, `per` reports per request, and whether each
    request asks for evidence spans (spec `32x1`, `8x16`, `32x1e`)."""

    clients: int
    per: int
    evidence: bool = False

    @classmethod
    def parse(cls, spec: str) -> Load:
        clients, per = spec.rstrip("e").split("x")
        return cls(int(clients), int(per), spec.endswith("e"))

    def __str__(self) -> str:
        tail = ", with evidence" if self.evidence else ""
        return f"{self.clients} clients x {self.per} report(s){tail}"


def measure(
    srv: Server,
    driver: str,
    texts: list[str],
    bodies: dict[tuple[int, bool], Path],
    load_spec: Load,
    seconds: float,
) -> dict[str, float]:
    """One row: a load from one driver, with the server-side figures read around it."""
    clients, per, evidence = load_spec
    runs0, sizes0 = srv.metric("radlabel_batch_size_count"), srv.metric("radlabel_batch_size_sum")
    wait0 = buckets(srv, "radlabel_queue_wait_seconds")
    served0 = buckets(srv, "radlabel_request_duration_seconds", LABELS_ROUTE)
    cpu0 = cpu_seconds(srv.proc.pid)
    if driver == "wrk":
        row = wrk.load(srv.url, bodies[(per, evidence)], clients, per, seconds)
    else:
        own0 = time.process_time()
        row = asyncio.run(load(srv.url, texts, clients, per, seconds, evidence=evidence))
        row["driver_cpu_ms_per_request"] = 1000 * (time.process_time() - own0) / max(row["requests"], 1.0)
    done = row["reports_per_s"] * seconds
    row["server_cpu_ms_per_report"] = 1000 * (cpu_seconds(srv.proc.pid) - cpu0) / max(done, 1.0)
    # where a tail comes from: the batcher queue, the server as a whole, or the driver
    row["queue_wait_p99_le_ms"] = bucket_quantile(wait0, buckets(srv, "radlabel_queue_wait_seconds"), 0.99)
    row["server_p99_le_ms"] = bucket_quantile(
        served0, buckets(srv, "radlabel_request_duration_seconds", LABELS_ROUTE), 0.99
    )
    runs = srv.metric("radlabel_batch_size_count") - runs0
    row["mean_batch"] = (srv.metric("radlabel_batch_size_sum") - sizes0) / runs if runs else 0.0
    return row


def settle(srv: Server, timeout: float = 30.0) -> None:
    """Wait until the requests a driver left in flight (wrk stops mid-request) are labelled."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if srv.metric("radlabel_queue_depth") == 0:
            time.sleep(0.5)  # the last runs finish and answer
            if srv.metric("radlabel_queue_depth") == 0:
                return
        time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=12.0, help="duration of each load row")
    parser.add_argument("--soak", type=float, default=0.0, help="soak duration at 32 clients (0: skip)")
    parser.add_argument(
        "--loads",
        default="1x1,8x1,32x1,32x1e,8x16",
        help="comma-separated CLIENTSxREPORTS loads per mode; a trailing e asks for evidence spans",
    )
    parser.add_argument(
        "--modes",
        default="on,w1,off",
        help="comma-separated modes: on, w1, wait5, off ('-' none, e.g. soak only)",
    )
    parser.add_argument("--drivers", default="wrk,httpx", help="load drivers: wrk (when installed), httpx")
    parser.add_argument("--soak-driver", choices=["httpx", "wrk"], default="httpx", help="the soak's driver")
    args = parser.parse_args()
    _, texts, _ = dev_split()
    tmp = Path(tempfile.mkdtemp(prefix="radlabel-bench-"))
    result: dict[str, object] = {"machine": machine(), "reports": len(texts), "seconds": args.seconds}
    # the baselines before and after the rows: this VM drifts 10-30% within minutes
    raw_before = raw_rate(texts, None)
    batcher_before, workers, threads = batcher_rate(texts, tmp / "baseline-before")
    print(
        f"raw {raw_before:.0f} reports/s; batcher in process ({workers} x {threads} thread) "
        f"{batcher_before:.0f}"
    )
    drivers = [d for d in args.drivers.split(",") if d and (d != "wrk" or wrk.available())]
    if "wrk" in args.drivers and "wrk" not in drivers:
        print("wrk is not installed (apt-get install wrk): its rows are skipped", flush=True)
    loads = [Load.parse(spec) for spec in args.loads.split(",") if spec]
    bodies = {
        (per, ev): wrk.write_bodies(tmp / f"bodies{per}{'e' * ev}.jsonl", texts, per, ev)
        for per, ev in {(1, False), *((ld.per, ld.evidence) for ld in loads)}
    }
    rows: dict[str, dict[str, float]] = {}
    # key on the command line -> (row name, server environment)
    modes: dict[str, tuple[str, dict[str, str]]] = {
        "on": ("batching on (default)", {}),
        "w1": ("batching on, 1 worker", {"RADLABEL_WORKERS": "1"}),
        "wait5": ("batching on, max wait 5 ms", {"RADLABEL_MAX_WAIT_MS": "5"}),
        "off": (
            "batching off",
            {"RADLABEL_MAX_BATCH_SIZE": "1", "RADLABEL_MAX_WAIT_MS": "0", "RADLABEL_RUN_BATCH_SIZE": "1"},
        ),
    }
    keys = [k.strip() for k in args.modes.split(",") if k.strip() not in ("", "-")]
    for key in keys:
        mode, env = modes[key]
        srv = serve(tmp, key, env)
        try:
            for driver in drivers:
                for spec in loads:
                    settle(srv)
                    row = measure(srv, driver, texts, bodies, spec, args.seconds)
                    name = f"{mode}, {driver}, {spec}"
                    # a load listed twice: A/B rounds
                    again = sum(1 for k in rows if k == name or k.startswith(f"{name} (round"))
                    rows[f"{name} (round {again + 1})" if again else name] = row
                    print(mode, driver, spec, {k: round(v, 1) for k, v in row.items()}, flush=True)
        finally:
            srv.terminate()
    raw_after = raw_rate(texts, None) if rows else raw_before
    batcher_after = batcher_rate(texts, tmp / "baseline-after")[0] if rows else batcher_before
    raw, in_process = (raw_before + raw_after) / 2, (batcher_before + batcher_after) / 2
    result.update(
        raw_reports_per_s=raw,
        raw_before_after=[raw_before, raw_after],
        batcher_reports_per_s=in_process,
        batcher_before_after=[batcher_before, batcher_after],
        workers=workers,
        threads=threads,
    )
    result["rows"] = rows
    if args.soak:
        srv = serve(tmp, "soak", {})
        try:
            asyncio.run(load(srv.url, texts, 32, 1, 20))  # settle allocator and caches
            before = rss_mb(srv.proc.pid)
            # minute by minute, so a slow climb shows as a trend and not only as two end points
            minutes: list[dict[str, float]] = []
            left = args.soak
            while left > 0:
                span = min(60.0, left)
                if args.soak_driver == "wrk":
                    part = wrk.load(srv.url, bodies[(1, False)], 32, 1, span, unique=True)
                else:
                    part = asyncio.run(load(srv.url, texts, 32, 1, span, unique=True))
                left -= 60.0
                minutes.append({**part, "rss_mb": rss_mb(srv.proc.pid)})
                print(
                    "soak minute", len(minutes), {k: round(v, 1) for k, v in minutes[-1].items()}, flush=True
                )
            requests = sum(m["requests"] for m in minutes)
            soak = {
                "requests": requests,
                "errors": sum(m["errors"] for m in minutes),
                "reports_per_s": requests / args.soak,
                "p50_ms_worst_minute": max(m["p50_ms"] for m in minutes),
                "p99_ms_worst_minute": max(m["p99_ms"] for m in minutes),
                "rss_by_minute_mb": [m["rss_mb"] for m in minutes],
            }
            after = rss_mb(srv.proc.pid)
            result["soak"] = {
                **soak,
                "driver": args.soak_driver,
                "seconds": args.soak,
                "rss_before_mb": before,
                "rss_after_mb": after,
            }
            print("soak", result["soak"], flush=True)
        finally:
            srv.terminate()
    path = save("service" if rows else "service_soak", result)
    print(
        f"\nService on {machine()}; raw labeler {raw:.0f} reports/s (one call of {len(texts)}; "
        f"{raw_before:.0f} before the rows, {raw_after:.0f} after); the batcher in process {in_process:.0f} "
        f"({workers} workers x {threads} thread; {batcher_before:.0f} before, {batcher_after:.0f} after)\n"
    )
    print(
        "| mode, driver, load | reports/s | x raw | x batcher | p50 ms | p99 ms | server p99 <= ms "
        "| queue wait p99 <= ms | mean batch | server CPU ms/report | driver CPU ms/request | errors |\n"
        + "|---" * 12
        + "|"
    )
    for name, r in rows.items():
        print(
            f"| {name} | {r['reports_per_s']:.0f} | {r['reports_per_s'] / raw:.2f} "
            f"| {r['reports_per_s'] / in_process:.2f} | {r['p50_ms']:.1f} "
            f"| {r['p99_ms']:.1f} | {r['server_p99_le_ms']:.0f} | {r['queue_wait_p99_le_ms']:.0f} "
            f"| {r['mean_batch']:.1f} | {r['server_cpu_ms_per_report']:.1f} "
            f"| {r['driver_cpu_ms_per_request']:.2f} | {r['errors']:.0f} |"
        )
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
