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
