"""Workers side by side vs one run with every thread, on the labeler alone (no HTTP, no batcher).

Why the service runs one labeler call per core with one ONNX thread each: this labels the 311
IU dev reports in chunks (as the batcher's takes come) with (a) one worker and a two-thread
session, (b) two workers sharing a one-thread session, (c) one worker and a one-thread
session, for chunks of 1, 8, 16 and the whole input, alternating the setups round by round so
that drift on a noisy VM hits all of them alike.

Run: `python -m tests.bench.workers [--rounds 2]`; writes results/workers.json.
"""

from __future__ import annotations

import argparse
import threading
import time

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
    path = save(
        "workers", {"machine": machine(), "reports": len(reports), "rounds": args.rounds, "rates": table}
    )
    print(f"\n| chunk | {' | '.join(setups)} |\n|---" + "|---" * len(setups) + "|")
    for chunk, row in table.items():
        print(f"| {chunk} | " + " | ".join("-".join(f"{x:.0f}" for x in v) for v in row.values()) + " |")
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
