import math

import pytest

from labeler.errors import InvalidInput
from labeler.metrics import evaluate, quadratic_kappa, to_view
from labeler.schema import load_schema

S = load_schema()


def test_hand_computed_case():
    gold = {"a": {"cardiomegaly": 3}, "b": {"cardiomegaly": -3}, "c": {"cardiomegaly": 1}, "d": {}}
    pred = {
        "a": {"cardiomegaly": 3},
        "b": {"cardiomegaly": 1},
        "c": {"cardiomegaly": 1},
        "d": {"cardiomegaly": -3},
    }
    r = evaluate(pred, gold, S)
    row = r.per_finding["cardiomegaly"]
    # present: tp1 fp0 fn0 -> 1; absent: tp0 fp1 fn1 -> 0; uncertain: tp1 fp1 fn0 -> 2/3
    assert row["f1_present"] == pytest.approx(1.0)
    assert row["f1_absent"] == pytest.approx(0.0)
    assert row["f1_uncertain"] == pytest.approx(2 / 3)
    assert row["f1"] == pytest.approx((1 + 0 + 2 / 3) / 3)
    assert r.macro_f1 == pytest.approx(row["f1"])  # the only finding with gold support
    assert math.isnan(r.per_finding["hernia"]["f1"])
    # u over gold-mentioned: a exact, b |1-(-3)| = 4, c exact
    assert r.u_exact == pytest.approx(2 / 3)
    assert r.u_mae == pytest.approx(4 / 3)


def test_missed_mention_costs_three():
    r = evaluate({"a": {}}, {"a": {"pneumothorax": -3, "nodule": 3}}, S)
    assert r.u_mae == 3 and r.u_exact == 0
    assert r.per_status["absent"]["f1"] == 0


def test_pooled_status_counts():
    gold = {"a": {"cardiomegaly": 3, "nodule": 3}}
    pred = {"a": {"cardiomegaly": 3, "nodule": -3}}
    r = evaluate(pred, gold, S)
    assert r.per_status["present"]["f1"] == pytest.approx(2 * 1 / (2 * 1 + 0 + 1))
    assert r.per_status["present"]["support"] == 2


def test_missing_prediction_is_an_error():
    with pytest.raises(InvalidInput, match="no prediction"):
        evaluate({}, {"a": {}}, S)


def test_kappa():
    assert quadratic_kappa([1, 2, 3], [1, 2, 3]) == pytest.approx(1.0)
    assert quadratic_kappa([-3, 3], [3, -3]) < 0
    # by hand: observed weighted disagreement 2/4, expected 22/16 -> 1 - 0.5/1.375 = 7/11
    assert quadratic_kappa([0, 1, 2, 2], [0, 2, 2, 1]) == pytest.approx(7 / 11)


def test_view_aggregation_for_eval():
    v = to_view({"nodule": -3, "mass": 1, "consolidation": -3}, S, "chexpert14")
    assert v["Lung Lesion"] == 1 and v["Lung Opacity"] == 1 and v["Pneumothorax"] is None
    assert v["No Finding"] == -3


def test_spurious_and_missed_mentions_per_report_by_hand():
    from labeler.metrics import evaluate
    from labeler.schema import load_schema

    gold = {"a": {"edema": -3}, "b": {}, "c": {"pneumothorax": 3, "edema": 1}}
    pred = {
        "a": {"edema": -3, "cardiomegaly": -3, "pneumothorax": -3},  # 2 spurious
        "b": {"fracture": 3},  # 1 spurious
        "c": {"pneumothorax": 3},  # 1 missed (edema)
    }
    r = evaluate(pred, gold, load_schema())
    assert r.spurious_per_report == 1.0  # 3 over 3 reports
    assert r.missed_per_report == 1 / 3
    # u over the 3 gold-mentioned labels: edema exact, pneumothorax exact, edema missed (error 3)
    assert r.u_exact == 2 / 3 and r.u_mae == 1.0
