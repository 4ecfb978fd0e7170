"""Is candidate B better than A on the dev sets, or is the difference noise? A paired bootstrap.

IU dev has 311 reports and only 69 hedged gold labels, so one found or missed hedge moves its
uncertain F1 by ~0.01 and seeds of one recipe differ by as much (BENCHMARKS.md "Ensembles").
This resamples the reports of each dev set with replacement (the same draw for both labelers)
and scores both on every draw, giving the difference B - A in macro-F1 and pooled uncertain F1
with a 95% interval and the share of draws where B is ahead.

Run: `python -m tests.bench.paired BUNDLE_A BUNDLE_B [--rounds 1000]` (int8; `rules` names the
rule labeler). Writes tests/bench/results/paired.json.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from labeler.base import Labeler
from labeler.metrics import evaluate
from labeler.model.labeler import ModelLabeler
from labeler.records import Report
from labeler.rules.labeler import RuleLabeler
from labeler.schema import Schema, load_schema
from tests.accuracy.test_floors import dev_sets
from tests.bench.common import machine, save

UMap = dict[str, int | None]


def load(name: str) -> Labeler:
    """`rules` or a bundle directory (int8)."""
    return RuleLabeler() if name == "rules" else ModelLabeler.from_bundle(Path(name), variant="int8")


def scores(
    pred: dict[str, UMap], gold: dict[str, UMap], ids: list[str], schema: Schema
) -> tuple[float, float]:
    """(macro-F1, pooled uncertain F1) over the reports `ids` (repeats count again)."""
    # evaluate() keys by report id, so a resampled set gets fresh ids for its repeats
    p = {f"{n}:{i}": pred[i] for n, i in enumerate(ids)}
    g = {f"{n}:{i}": gold[i] for n, i in enumerate(ids)}
    r = evaluate(p, g, schema)
    return r.macro_f1, r.per_status["uncertain"]["f1"]


def difference(
    preds: dict[str, dict[str, UMap]], gold: dict[str, UMap], ids: list[str], schema: Schema
) -> Any:
    """B's (macro-F1, uncertain F1) minus A's over the reports `ids`."""
    return np.subtract(scores(preds["b"], gold, ids, schema), scores(preds["a"], gold, ids, schema))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--rounds", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    schema = load_schema()
    labelers = {"a": load(args.a), "b": load(args.b)}
    rng = np.random.default_rng(args.seed)
    out: dict[str, dict[str, float]] = {}
    print(f"{machine()}\nB = {args.b}, A = {args.a}, {args.rounds} paired bootstrap draws per set\n")
    print("| set | B - A macro-F1 (95% interval) | B ahead | B - A uncertain F1 (95% interval) | B ahead |")
    print("|---|---|---|---|---|")
    for key, dev in dev_sets().items():
        reports = [Report(id=k, text=t) for k, t in zip(dev.gold, dev.texts, strict=True)]
        preds = {n: {r.id: r.u_map() for r in lab.label(reports)} for n, lab in labelers.items()}
        ids = list(dev.gold)
        whole = difference(preds, dev.gold, ids, schema)
        draws = ([ids[i] for i in rng.integers(0, len(ids), len(ids))] for _ in range(args.rounds))
        diffs = [difference(preds, dev.gold, draw, schema) for draw in draws]
        d = np.nan_to_num(np.array(diffs))
        lo, hi = np.percentile(d, [2.5, 97.5], axis=0)
        ahead = (d > 0).mean(axis=0)
        row = {
            "macro_f1_diff": float(whole[0]),
            "macro_f1_lo": float(lo[0]),
            "macro_f1_hi": float(hi[0]),
            "macro_f1_b_ahead": float(ahead[0]),
            "uncertain_f1_diff": float(whole[1]),
            "uncertain_f1_lo": float(lo[1]),
            "uncertain_f1_hi": float(hi[1]),
            "uncertain_f1_b_ahead": float(ahead[1]),
        }
        out[key] = row
        print(
            f"| {key} | {row['macro_f1_diff']:+.4f} ({lo[0]:+.4f}, {hi[0]:+.4f}) | {ahead[0]:.0%} "
            f"| {row['uncertain_f1_diff']:+.3f} ({lo[1]:+.3f}, {hi[1]:+.3f}) | {ahead[1]:.0%} |"
        )
    save("paired", {"machine": machine(), "a": args.a, "b": args.b, "rounds": args.rounds, "results": out})


if __name__ == "__main__":
    main()
