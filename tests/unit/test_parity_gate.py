"""The parity gate that decides which exported variants a bundle may ship."""

from __future__ import annotations

import pytest

from distill.export import ParityReport


@pytest.mark.parametrize(
    ("variant", "diff", "agreement", "passed"),
    [
        ("fp32", 1.4e-5, 1.0, True),
        ("fp32", 2e-4, 1.0, False),  # argmax agreement does not excuse an fp32 drift
        ("fp32", float("nan"), 1.0, False),
        ("fp16", 0.03, 0.999, True),
        ("fp16", 0.03, 0.99, False),
        ("fp16", float("nan"), 1.0, False),  # overflowed somewhere: never shipped
        ("int8", 0.4, 0.9998, True),
    ],
)
def test_gate(variant, diff, agreement, passed):
    report = ParityReport(variant, 311, diff, agreement)
    assert report.passed is passed
    assert report.to_dict()["passed"] is passed
    assert report.finite is (diff == diff)


def test_card_data_statement_names_corpora_and_licence():
    from distill.card import data_statement

    iu = data_statement({"reports": "data/reports.jsonl", "labels": "data/labels/teacher_train.jsonl"})
    assert iu["non_commercial"] and "non-commercial" in iu["licence"] and "Indiana" in iu["lines"][0]
    both = data_statement(
        {
            "reports": "data/reports.jsonl",
            "labels": "l.jsonl",
            "corpora": [["data/synthetic/reports.jsonl", "data/synthetic/labels_train.jsonl"]],
        }
    )
    assert len(both["lines"]) == 2 and "CC0" in both["lines"][1] and both["non_commercial"]
    syn = data_statement(
        {"reports": "data/synthetic/reports.jsonl", "labels": "data/synthetic/labels_train.jsonl"}
    )
    assert not syn["non_commercial"] and "CC0 data only" in syn["licence"]
