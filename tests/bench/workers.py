"""Workers side by side vs one run with every thread, and the run size for one-thread workers.

Why the service runs one labeler call per core with one ONNX thread each, in runs of 4:
1. the labeler alone (no HTTP, no batcher) labels the 311 IU dev reports in chunks (as the
   batcher's takes come) with (a) one worker and a two-thread session, (b) two workers sharing
   a one-thread session, (c) one worker and a one-thread session, for chunks of 1, 8, 16 and
   the whole input;
2. the service's batcher in process (two one-thread workers, evidence spans off as for a plain
   request) under 32 and 128 client threads that each keep one single-report request in flight,
   with runs of 1, 2, 4 and 8 reports.
Setups alternate round by round so that drift on a noisy VM hits all of them alike.

Run: `python -m tests.bench.workers [--rounds 2]`; writes results/workers.json.
"""

from __future__ import annotations

import argparse
import threading
import time

from labeler.batcher import DynamicBatcher
from labeler.bundles import embedded_bundle
from labeler.model.labeler import ModelLabeler
from labeler.records import Report
from tests.bench.common import dev_split, machine, save


def rate(labelers: list[ModelLabeler], reports: list[Report], chunk: int) -> float:
    """Reports/s when `len(labelers)` threads take the chunks in turn, each with its labeler."""
    parts = [reports[i : i + chunk] for i in range(0, len(reports), chunk)]
    lock = threading.Lock()
    nxt = 0

    def work(lab: ModelLabeler) -> None:
        nonlocal nxt
        while True:
            with lock:
                if nxt >= len(parts):
                    return
                part = parts[nxt]
                nxt += 1
            lab.label(part)

    threads = [threading.Thread(target=work, args=(lab,)) for lab in labelers]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(reports) / (time.perf_counter() - started)


def in_flight(lab: ModelLabeler, texts: list[str], clients: int, seconds: float) -> tuple[float, float]:
    """(reports/s, mean run size) of the batcher, two workers, with `clients` threads each
    keeping one single-report request in flight."""
    runs: list[int] = []

    class Runs:
        def queued(self, depth: int) -> None:
            pass

        def ran(self, reports: int, tokens: int, waits: object, seconds: float, truncated: int) -> None:
            runs.append(reports)

    lean = lab.without_evidence()
    batcher = DynamicBatcher(
        lab,
        lab.token_counts,
        max_batch_size=64,
        max_wait_s=0.0,
        workers=2,
        lean_labeler=lean,
        observer=Runs(),
    )
    batcher.start()
    done = 0
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client(k: int) -> None:
        nonlocal done
        i = k * 7
        while time.monotonic() < stop:
            batcher.submit([Report(id=str(i), text=texts[i % len(texts)])], evidence=False).result()
            i += 1
            with lock:
                done += 1

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    batcher.stop()
    return done / elapsed, sum(runs) / max(len(runs), 1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    _, texts, _ = dev_split()
    reports = [Report(id=str(i), text=t) for i, t in enumerate(texts)]
    two = ModelLabeler.from_bundle(embedded_bundle(), threads=2, spin=False)
    one = ModelLabeler.from_bundle(embedded_bundle(), threads=1, spin=False)
    for lab in (two, one):
        lab.label(reports[:32])
    setups = {
        "1 worker x 2 threads": [two],
        "2 workers x 1 thread (one session)": [one, one],
        "1 worker x 1 thread": [one],
    }
    table: dict[str, dict[str, list[float]]] = {}
    for chunk in (1, 8, 16, len(reports)):
        row: dict[str, list[float]] = {name: [] for name in setups}
        for _ in range(args.rounds):
            for name, labs in setups.items():
                row[name].append(rate(labs, reports, chunk))
        table[f"chunks of {chunk}"] = row
        print(chunk, {k: [round(x) for x in v] for k, v in row.items()}, flush=True)
    sizes: dict[str, dict[str, list[float]]] = {}
    for clients in (32, 128):
        by_size: dict[str, list[float]] = {f"runs of {n}": [] for n in (1, 2, 4, 8)}
        for _ in range(args.rounds):
            for n in (1, 2, 4, 8):
                one.batch_size = n
                by_size[f"runs of {n}"].append(in_flight(one, texts, clients, 6.0)[0])
        sizes[f"{clients} in flight"] = by_size
        print(clients, {k: [round(x) for x in v] for k, v in by_size.items()}, flush=True)
    one.batch_size = 8
    path = save(
        "workers",
        {
            "machine": machine(),
            "reports": len(reports),
            "rounds": args.rounds,
            "rates": table,
            "run_sizes": sizes,
        },
    )
    print(f"\n| chunk | {' | '.join(setups)} |\n|---" + "|---" * len(setups) + "|")
    for label, row in table.items():
        print(f"| {label} | " + " | ".join("-".join(f"{x:.0f}" for x in v) for v in row.values()) + " |")
    print(
        "\n| requests in flight | " + " | ".join(next(iter(sizes.values()))) + " |\n|---" + "|---" * 4 + "|"
    )
    for label, row in sizes.items():
        print(f"| {label} | " + " | ".join("-".join(f"{x:.0f}" for x in v) for v in row.values()) + " |")
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
