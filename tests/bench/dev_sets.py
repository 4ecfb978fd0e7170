"""The three-dev-set table of BENCHMARKS.md: rules and model bundles on IU, synthetic and
impression-only dev (macro-F1, uncertain F1, u exact, spurious and missed mentions per report).

Run: `python -m tests.bench.dev_sets [BUNDLE ...]` (the embedded default when none is given);
writes results/dev_sets.json.
"""

from __future__ import annotations

import sys
from pathlib import Path

from labeler.base import Labeler
from labeler.bundles import embedded_bundle
from labeler.metrics import evaluate
from labeler.model.labeler import ModelLabeler
from labeler.records import Report
from labeler.rules.labeler import RuleLabeler
from labeler.schema import load_schema
from tests.accuracy.test_floors import dev_sets
from tests.bench.common import machine, save

NAMES = {"iu": "IU dev", "synthetic": "synthetic dev", "impressions": "impression-only dev"}


def main() -> None:
    bundles = [Path(p) for p in sys.argv[1:]] or [embedded_bundle()]
    labelers: dict[str, Labeler] = {"rules": RuleLabeler()}
    for b in bundles:
        labelers[f"{b.name} int8"] = ModelLabeler.from_bundle(b, variant="int8")
    schema = load_schema()
    out: dict[str, dict[str, dict[str, float]]] = {}
    print(f"{machine()}\n")
    print("| labeler | set | macro-F1 | uncertain F1 | u exact | spurious / report | missed / report |")
    print("|---|---|---|---|---|---|---|")
    for name, lab in labelers.items():
        out[name] = {}
        for key, dev in dev_sets().items():
            recs = lab.label([Report(id=k, text=t) for k, t in zip(dev.gold, dev.texts, strict=True)])
            r = evaluate({x.id: x.u_map() for x in recs}, dev.gold, schema)
            row = {
                "macro_f1": r.macro_f1,
                "uncertain_f1": r.per_status["uncertain"]["f1"],
                "u_exact": r.u_exact,
                "spurious": r.spurious_per_report,
                "missed": r.missed_per_report,
            }
            out[name][key] = row
            print(
                f"| {name} | {NAMES[key]} | {r.macro_f1:.4f} | {row['uncertain_f1']:.3f} | {r.u_exact:.3f} "
                f"| {r.spurious_per_report:.3f} | {r.missed_per_report:.3f} |"
            )
    save("dev_sets", {"machine": machine(), "results": out})


if __name__ == "__main__":
    main()
