"""The label-noise profile on a hand-computed archive."""

from __future__ import annotations

import pytest

from labeler.profile import flip_mass, profile
from labeler.schema import load_schema

S = load_schema()


def test_flip_mass_is_half_the_positive_rate():
    # r = 1 - 0.417|u|: u=0 -> 0.5, |u|=1 -> 0.2915, |u|=2 -> 0.083, |u|=3 -> r < 0 -> 0
    assert flip_mass(0, S) == pytest.approx(0.5)
    assert flip_mass(1, S) == flip_mass(-1, S) == pytest.approx(0.2915)
    assert flip_mass(-2, S) == pytest.approx(0.083)
    assert flip_mass(3, S) == 0.0


def test_profile_of_a_hand_computed_archive():
    archive = [
        {"pleural_effusion": 3, "pneumothorax": -3},
        {"pleural_effusion": 1, "pneumothorax": -3},
        {"pleural_effusion": -2},
        {"edema": 0},
    ]
    p = profile(archive, S, views=["chexpert14"])
    eff = p.findings["pleural_effusion"]
    assert eff.reports == 4 and eff.mentioned == 3
    assert eff.by_u["3"] == eff.by_u["1"] == eff.by_u["-2"] == eff.by_u["none"] == 1
    assert eff.by_status == {"present": 1, "absent": 1, "uncertain": 1, "not_mentioned": 1}
    assert eff.hedged_share == pytest.approx(2 / 3)
    assert eff.expected_flip_rate == pytest.approx((0 + 0.2915 + 0.083) / 3)
    assert eff.not_mentioned_share == pytest.approx(0.25)
    ptx = p.findings["pneumothorax"]
    assert ptx.hedged_share == 0 and ptx.expected_flip_rate == 0 and ptx.not_mentioned_share == 0.5
    assert p.findings["fracture"].mentioned == 0 and p.findings["fracture"].hedged_share is None
    # no_finding is derived: present only for a report with nothing present or uncertain
    assert p.findings["no_finding"].by_u == {**{str(u): 0 for u in range(-3, 4)}, "3": 1, "-3": 3, "none": 0}
    # summary over the 17 labelled findings x 4 reports: 6 mentioned, 3 hedged (1, -2, 0)
    assert p.summary.reports == 68 and p.summary.mentioned == 6
    assert p.summary.hedged_share == pytest.approx(0.5)
    assert p.summary.expected_flip_rate == pytest.approx((0.2915 + 0.083 + 0.5) / 6)
    assert p.views["chexpert14"]["Pleural Effusion"].mentioned == 3
