"""Where a student loses hedged (uncertain) labels: the figures behind BENCHMARKS.md "Hedge weight".

Per dev set, the pooled precision and recall of the status "uncertain" for a bundle (int8); on IU
dev, each single annotator against the adjudicated gold (the teacher-level ceiling); the share of
hedged labels among the teacher's IU train mentions; and two other decodings of the same logits
(status group first; "mentioned" when P(not mentioned) < 0.5).

Run: `python -m tests.bench.hedges [BUNDLE]` (the embedded default when none is given). Writes
tests/bench/results/hedges.json.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

import labeler.model.labeler as model_labeler
from labeler.bundles import embedded_bundle
from labeler.decode import softmax
from labeler.metrics import evaluate
from labeler.records import Report
from labeler.schema import Schema, class_to_u, load_schema, u_to_class
from tests.accuracy.test_floors import dev_sets
from tests.bench.common import DATA, machine, save

UMap = dict[str, int | None]
Decoder = Callable[[npt.NDArray[np.float32], Sequence[str]], list[UMap]]
GROUPS = [[u_to_class(u) for u in us] for us in ((-3, -2), (-1, 0, 1), (2, 3))]


def grouped(by_mass: bool) -> Decoder:
    """Decode by status group: the group with the most mass, then its likeliest u. With
    `by_mass`, a finding is mentioned when P(not mentioned) < 0.5 (else by the plain argmax)."""

    def decode(logits: npt.NDArray[np.float32], keys: Sequence[str]) -> list[UMap]:
        out = []
        for row in softmax(logits):
            u: UMap = {}
            for k, p in zip(keys, row, strict=True):
                mentioned = p[0] < 0.5 if by_mass else p.argmax() != 0
                group = max(GROUPS, key=lambda g: float(p[g].sum()))
                u[k] = class_to_u(group[int(np.argmax(p[group]))]) if mentioned else None
            out.append(u)
        return out

    return decode


def uncertain_pr(pred: dict[str, UMap], gold: dict[str, UMap], schema: Schema) -> dict[str, float]:
    """Pooled precision and recall of the status "uncertain" (default mapping)."""
    status = schema.mapping("default").status
    tp = fp = fn = 0
    for rid, g in gold.items():
        for k in schema.keys:
            gs, ps = status(g.get(k)), status(pred[rid].get(k))
            tp += gs == ps == "uncertain"
            fp += gs != "uncertain" and ps == "uncertain"
            fn += gs == "uncertain" and ps != "uncertain"
    return {"tp": tp, "fp": fp, "fn": fn, "precision": tp / max(tp + fp, 1), "recall": tp / max(tp + fn, 1)}


def main() -> None:
    bundle = Path(sys.argv[1]) if len(sys.argv) > 1 else embedded_bundle()
    schema = load_schema()
    lab = model_labeler.ModelLabeler.from_bundle(bundle, variant="int8")
    status = schema.mapping("default").status
    out: dict[str, object] = {"machine": machine(), "bundle": str(bundle)}
    print(f"{machine()}, {bundle.name} int8\n")

    decoders: dict[str, Decoder] = {
        "argmax": model_labeler.logits_to_u,
        "status group first": grouped(False),
        "status group first, mentioned by mass": grouped(True),
    }
    rows: dict[str, dict[str, dict[str, float]]] = {}
    sets = dev_sets()
    for name, decoder in decoders.items():
        model_labeler.logits_to_u = decoder  # the labeler decodes through this module name
        rows[name] = {}
        for key, dev in sets.items():
            recs = lab.label([Report(id=k, text=t) for k, t in zip(dev.gold, dev.texts, strict=True)])
            pred = {r.id: r.u_map() for r in recs}
            r = evaluate(pred, dev.gold, schema)
            rows[name][key] = {"macro_f1": r.macro_f1, **uncertain_pr(pred, dev.gold, schema)}
            row = rows[name][key]
            print(
                f"{name:38s} {key:11s} macro-F1 {r.macro_f1:.4f}  uncertain P {row['precision']:.3f} "
                f"R {row['recall']:.3f} ({row['tp']:.0f} tp, {row['fp']:.0f} fp, {row['fn']:.0f} fn)"
            )
    model_labeler.logits_to_u = decoders["argmax"]
    out["decodings"] = rows

    dev = [json.loads(line) for line in (DATA / "labels/dev_gold.jsonl").open(encoding="utf-8")]
    gold = {d["id"]: d["u"] for d in dev}
    annotators = {}
    for who in ("a", "b"):
        r = evaluate({d["id"]: d[who] for d in dev}, gold, schema)
        annotators[who] = {"macro_f1": r.macro_f1, "uncertain_f1": r.per_status["uncertain"]["f1"]}
        print(
            f"IU dev annotator {who} vs adjudicated: macro-F1 {r.macro_f1:.4f}, uncertain F1 "
            f"{annotators[who]['uncertain_f1']:.3f}"
        )
    out["annotators"] = annotators

    mentions = hedged = 0
    for line in (DATA / "labels/teacher_train.jsonl").open(encoding="utf-8"):
        for u in json.loads(line)["u"].values():
            if u is not None:
                mentions += 1
                hedged += status(u) == "uncertain"
    print(f"IU train teacher: {hedged} hedged of {mentions} mentions ({hedged / mentions:.1%})")
    out["teacher_hedged"] = {"hedged": hedged, "mentions": mentions}
    save("hedges", out)


if __name__ == "__main__":
    main()
