"""Model evidence: tracing input positions to report clauses, and picking clauses by attention."""

from __future__ import annotations

import numpy as np

from labeler.model.evidence import Clauses, _clause, mapped_model_text, spans
from labeler.rules.vocab import load_vocabulary
from labeler.tokenize import model_text


def test_mapped_text_is_model_text_traced_to_the_report():
    report = "INDICATION: cough\nFINDINGS:  Heart   normal.\n  No effusion.\n"
    report += "IMPRESSION: Clear.\nIMPRESSION: Stable."
    imp, fin = mapped_model_text(report, load_vocabulary())
    assert (imp.text, fin.text) == model_text(report)
    for mapped in (imp, fin):
        for a in range(len(mapped.text)):
            found = mapped.locate(a, a + 1)
            if mapped.text[a] == " ":
                assert found is None  # a joiner, not report text
            else:
                assert found is not None and report[found[0]] == mapped.text[a]
    start, end, lo, hi = fin.locate(fin.text.index("normal"), fin.text.index("normal") + 6)
    assert report[start:end] == "normal" and report[lo:hi].strip().startswith("Heart")


def test_clause_is_the_sentence_or_the_comma_clause_of_a_long_one():
    text = "FINDINGS: Heart normal. Small left pleural effusion; no pneumothorax."
    start = text.index("pleural")
    assert text[
        slice(*_clause(text, start, start + 7, 10, len(text)))
    ] == "Small left pleural effusion;".rstrip(";")
    long = (
        "FINDINGS: " + "There is a small left pleural effusion, " + "with adjacent basilar opacity " * 4 + "."
    )
    at = long.index("effusion")
    left, right = _clause(long, at, at + 8, 10, len(long))
    assert long[left:right] == "There is a small left pleural effusion"


def test_spans_take_the_most_attended_clause_and_a_heavy_second():
    report = "FINDINGS: Heart normal. Small effusion. No pneumothorax."
    found = Clauses(
        np.array([-1, 0, 0, 1, 1, 2, -1]),
        [(10, 23, "FINDINGS"), (24, 39, "FINDINGS"), (40, 56, "FINDINGS")],
    )
    one = spans(report, found, np.array([0.0, 0.05, 0.05, 0.5, 0.3, 0.1, 0.0], dtype=np.float32))
    assert [e.text for e in one] == ["Small effusion."]
    two = spans(report, found, np.array([0.0, 0.2, 0.2, 0.45, 0.0, 0.15, 0.0], dtype=np.float32))
    assert [e.text for e in two] == ["Heart normal.", "Small effusion."]  # in text order
    assert all(e.section == "FINDINGS" for e in two)


def test_a_lone_impression_is_traced_from_the_body_slot():
    report = "INDICATION: cough\nIMPRESSION:  Small   left effusion."
    imp, fin = mapped_model_text(report, load_vocabulary())
    assert (imp.text, fin.text) == model_text(report) == ("", "Small left effusion.")
    start, end, _, _ = fin.locate(fin.text.index("left"), fin.text.index("left") + 4)
    assert report[start:end] == "left"
