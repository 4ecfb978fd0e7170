"""Accuracy floors: the committed default bundle (int8) and the rule labeler on the three dev
sets may not fall more than 0.01 macro-F1 below the figures BENCHMARKS.md publishes, neither
on the reports as written nor on the same reports flattened onto one line.

FLOORS holds those figures; a second test checks that BENCHMARKS.md states exactly them, so
the two cannot drift apart. A change that moves a figure updates both in one commit.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from distill.data import DevSet
from labeler.bundles import embedded_bundle
from labeler.metrics import evaluate
from labeler.model.labeler import ModelLabeler
from labeler.records import Report
from labeler.rules.labeler import RuleLabeler
from labeler.schema import load_schema

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data"
TOLERANCE = 0.01

# labeler -> dev set -> macro-F1 (BENCHMARKS.md, "Three dev sets")
FLOORS = {
    "rules": {"iu": 0.8697, "synthetic": 0.8643, "impressions": 0.8620},
    "default int8": {"iu": 0.9404, "synthetic": 0.9783, "impressions": 0.9545},
}


def dev_sets() -> dict[str, DevSet]:
    return {
        "iu": DevSet.load("iu", DATA / "reports.jsonl", DATA / "labels/dev_gold.jsonl", "dev"),
        "synthetic": DevSet.load(
            "synthetic", DATA / "synthetic/reports.jsonl", DATA / "synthetic/labels_dev_gold.jsonl", None
        ),
        "impressions": DevSet.load(
            "impressions", DATA / "impressions/reports.jsonl", DATA / "impressions/labels_gold.jsonl", None
        ),
    }


@pytest.fixture(scope="module")
def sets() -> dict[str, DevSet]:
    return dev_sets()


@pytest.mark.parametrize("name", list(FLOORS))
def test_macro_f1_floor_on_every_dev_set(name, sets):
    lab = RuleLabeler() if name == "rules" else ModelLabeler.from_bundle(embedded_bundle(), variant="int8")
    schema = load_schema()
    for key, dev in sets.items():
        floor = FLOORS[name][key] - TOLERANCE
        # as written, and flattened onto one line as CSV exports and HL7 feeds deliver reports:
        # the same floor, so the labels do not depend on line breaks
        for layout, texts in (
            ("as written", dev.texts),
            ("one line", [" ".join(t.split()) for t in dev.texts]),
        ):
            records = lab.label([Report(id=k, text=t) for k, t in zip(dev.gold, texts, strict=True)])
            result = evaluate({r.id: r.u_map() for r in records}, dev.gold, schema)
            assert result.macro_f1 >= floor, f"{name} on {key} {layout}: {result.macro_f1:.4f} < {floor:.4f}"


def test_floors_are_the_published_figures():
    text = (ROOT / "BENCHMARKS.md").read_text(encoding="utf-8")
    section = text.split("## Three dev sets", 1)[1].split("\n## ", 1)[0]
    for name, figures in FLOORS.items():
        row = next(line for line in section.splitlines() if line.startswith(f"| {name} |"))
        for value in figures.values():
            assert f"{value:.4f}" in row, (name, value, row)
