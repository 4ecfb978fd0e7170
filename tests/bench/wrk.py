"""A second load driver for the service benchmark: wrk, a C load generator, when installed.

The httpx driver is Python on the server's own two cores and spends 2-5 ms of CPU per request
at 32 clients, which the server then lacks; wrk spends a few hundredths of that, so its rows
show what the service does when its clients are elsewhere, as they are in production. wrk has
no Python package: `apt-get install wrk` (Debian), or the rows are skipped.
"""

from __future__ import annotations

import json
import re
import resource
import shutil
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).with_name("wrk_post.lua")

_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def available() -> bool:
    """True when a `wrk` executable is on PATH."""
    return shutil.which("wrk") is not None


def write_bodies(path: Path, texts: list[str], per_request: int, evidence: bool = False) -> Path:
    """One request body per line: a single report, or `per_request` consecutive reports; with
    `evidence`, each asks for evidence spans."""
    with path.open("w", encoding="utf-8") as handle:
        for i, text in enumerate(texts):
            if per_request == 1:
                body: dict[str, object] = {"text": text}
            else:
                body = {"reports": [{"text": texts[(i + j) % len(texts)]} for j in range(per_request)]}
            if evidence:
                body["include"] = ["evidence"]
            handle.write(json.dumps(body) + "\n")
    return path


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()  # type: ignore[union-attr]
    return float(number) * _UNIT_MS[unit]


def parse(out: str, per_request: int, seconds: float) -> dict[str, float]:
    """The row figures from wrk's `--latency` report."""
    latency = {m[0]: _ms(m[1]) for m in re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.M)}
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(bad.group(1)) if bad else 0) + (sum(map(int, sock.groups())) if sock else 0)
    return {
        "reports_per_s": (requests - errors) * per_request / seconds,
        "requests": float(requests),
        "errors": float(errors),
        "p50_ms": latency["50"],
        "p99_ms": latency["99"],
    }


def load(
    url: str, bodies: Path, clients: int, per_request: int, seconds: float, unique: bool = False
) -> dict[str, float]:
    """Run wrk (one thread, `clients` connections) for `seconds`; adds its CPU ms per request.
    `unique` (single-report bodies only) appends a numbered line to every text."""
    args = ["wrk", "-t1", f"-c{clients}", f"-d{seconds:g}s", "--latency", "-s", str(SCRIPT), url]
    args += ["--", str(bodies), *(["unique"] if unique else [])]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    row = parse(out, per_request, seconds)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    row["driver_cpu_ms_per_request"] = 1000 * cpu / max(row["requests"], 1.0)
    return row
