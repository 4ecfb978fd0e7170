"""How often the student's evidence spans overlap the reference evidence.

Synthetic dev: the reference is the writer's verbatim evidence quote per label (every part of a
`a ... b` quote located in the report). IU dev has no quotes in its gold, so there the reference
is the rule labeler's spans (a proxy: it says whether the student points at the phrase a
lexicon would). Counted over findings both the gold and the model mention.

Run: `python -m tests.bench.evidence BUNDLE`; writes results/evidence.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from labeler.model.labeler import ModelLabeler
from labeler.records import Report
from labeler.rules.labeler import RuleLabeler
from tests.accuracy.test_floors import DATA, dev_sets
from tests.bench.common import machine, save


def _quote_spans(text: str, quote: str) -> list[tuple[int, int]]:
    low = text.lower()
    out = []
    for part in (p.strip() for p in quote.split("...")):
        at = low.find(part.lower()) if part else -1
        if at >= 0:
            out.append((at, at + len(part)))
    return out


def _overlaps(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> bool:
    return any(s < e2 and s2 < e for s, e in a for s2, e2 in b)


def main() -> None:
    bundle = Path(sys.argv[1])
    lab = ModelLabeler.from_bundle(bundle)
    if not lab.backend.has_attention:
        raise SystemExit(f"{bundle} has no attention output (bundled before model evidence)")
    sets = dev_sets()
    quotes = {}
    for line in (DATA / "synthetic/labels_dev_gold.jsonl").open(encoding="utf-8"):
        obj = json.loads(line)
        quotes[obj["id"]] = obj.get("evidence", {})
    result: dict[str, dict[str, float]] = {}
    for name, reference in (("synthetic", "writer's quotes"), ("iu", "rule labeler spans")):
        dev = sets[name]
        reports = [Report(id=k, text=t) for k, t in zip(dev.gold, dev.texts, strict=True)]
        model = lab.label(reports)
        rules = RuleLabeler().label(reports) if name == "iu" else None
        hit = total = 0
        for i, (rep, rec) in enumerate(zip(reports, model, strict=True)):
            for key, gold_u in dev.gold[rep.id].items():
                f = rec.findings[key]
                if gold_u is None or f.u is None:
                    continue
                if rules is not None:
                    ref = [(e.start, e.end) for e in rules[i].findings[key].evidence]
                else:
                    ref = _quote_spans(rep.text, quotes.get(rep.id, {}).get(key, ""))
                if not ref:
                    continue
                total += 1
                hit += _overlaps([(e.start, e.end) for e in f.evidence], ref)
        result[name] = {"overlap": hit / total if total else float("nan"), "n": total, "reference": reference}
        print(f"{name}: {hit}/{total} = {hit / max(total, 1):.3f} of model spans overlap the {reference}")
    save("evidence", {"machine": machine(), "bundle": str(bundle), "results": result})


if __name__ == "__main__":
    main()
