"""int8 whole-input labelling speed of model bundles, timed alternately in one process.

311 IU dev reports per call, length-sorted runs of 8, 2 ONNX Runtime threads, evidence spans
on (as `radlabel label` runs). Rounds alternate between the bundles so machine noise hits them
alike; the median and range are printed.
Run: `python -m tests.bench.bundle_speed BUNDLE [BUNDLE ...] [--rounds 6]`.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from labeler.model.labeler import ModelLabeler
from labeler.records import Report
from tests.bench.common import dev_split, machine


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("bundles", nargs="+", type=Path)
    ap.add_argument("--rounds", type=int, default=6)
    args = ap.parse_args()
    ids, texts, _ = dev_split()
    reports = [Report(id=i, text=t) for i, t in zip(ids, texts, strict=True)]
    labelers = {b: ModelLabeler.from_bundle(b, variant="int8", threads=2) for b in args.bundles}
    rates: dict[Path, list[float]] = {b: [] for b in args.bundles}
    for _ in range(args.rounds):
        for bundle, lab in labelers.items():
            lab.label(reports[:40])  # warm
            started = time.perf_counter()
            lab.label(reports)
            rates[bundle].append(len(reports) / (time.perf_counter() - started))
    print(machine())
    for bundle, r in rates.items():
        print(f"{bundle}: median {statistics.median(r):.0f} reports/s (range {min(r):.0f}-{max(r):.0f})")


if __name__ == "__main__":
    main()
