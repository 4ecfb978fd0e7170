"""The rule labeler on sentences that trip simpler labelers."""

import pytest

from labeler.records import Report
from labeler.rules.context import assign
from labeler.rules.labeler import RuleLabeler
from labeler.rules.vocab import load_vocabulary


@pytest.fixture(scope="module")
def rules() -> RuleLabeler:
    return RuleLabeler()


def u_of(rules: RuleLabeler, text: str) -> dict[str, int | None]:
    rec = rules.label([Report(id="t", text=text)])[0]
    return {k: v.u for k, v in rec.findings.items() if v.u is not None and k != "no_finding"}


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        (
            "No pneumothorax, pleural effusion, or focal consolidation.",
            {"pneumothorax": -3, "pleural_effusion": -3, "consolidation": -3},
        ),
        (
            "No pleural effusion but there is a small left pneumothorax.",
            {"pleural_effusion": -3, "pneumothorax": 3},
        ),
        ("Atelectasis versus pneumonia in the left base.", {"atelectasis": 0, "pneumonia": 0}),
        ("Streaky opacity, atelectasis or scarring.", {"lung_opacity": 3, "atelectasis": 1}),
        ("Small pleural effusion cannot be excluded.", {"pleural_effusion": -1}),
        ("Cannot exclude a small pneumothorax.", {"pneumothorax": -1}),
        ("No large pleural effusion or pneumothorax.", {"pleural_effusion": -2, "pneumothorax": -3}),
        ("Findings likely represent pneumonia.", {"pneumonia": 2}),
        ("Possible right lower lobe infiltrate.", {"lung_opacity": 1}),
        ("Borderline cardiomegaly.", {"cardiomegaly": 1}),
        ("Heart size is upper limits of normal.", {"cardiomegaly": 1}),
        ("The lungs are clear.", {"lung_opacity": -3, "consolidation": -3, "pneumonia": -3, "edema": -3}),
        ("Normal cardiomediastinal silhouette.", {"cardiomegaly": -3, "enlarged_cardiomediastinum": -3}),
        ("Calcified granuloma in the right upper lobe.", {"nodule": 3}),
        ("Previously seen effusion has resolved.", {"pleural_effusion": -3}),
        ("Hyperinflated lungs.", {"emphysema": 1}),
        ("Median sternotomy wires.", {"support_devices": 3}),
        (
            "No displaced rib fractures, pneumothorax, or effusion.",
            {"fracture": -2, "pneumothorax": -3, "pleural_effusion": -3},
        ),
        ("Mild dextro curvature of the upper thoracic spine.", {"scoliosis": 3}),
        ("Mild anterior wedge compression deformity of L1.", {"fracture": 3}),
    ],
)
def test_sentence_certainty(rules, sentence, expected):
    assert u_of(rules, sentence) == expected


def test_generic_bone_statement_sets_no_fracture(rules):
    assert "fracture" not in u_of(
        rules, "No acute osseous abnormality. No acute cardiopulmonary abnormality."
    )


def test_indication_is_context_only(rules):
    text = "INDICATION: evaluate for pneumonia\nFINDINGS: Heart size is normal."
    assert u_of(rules, text) == {"cardiomegaly": -3}


def test_impression_overrides_findings(rules):
    text = "FINDINGS: Possible left basilar pneumonia.\nIMPRESSION: No pneumonia."
    rec = rules.label([Report(id="x", text=text)])[0]
    assert rec.findings["pneumonia"].u == -3
    ev = rec.findings["pneumonia"].evidence[0]
    assert ev.section == "IMPRESSION"
    assert text[ev.start : ev.end] == ev.text == "pneumonia"


def test_findings_used_when_impression_is_silent(rules):
    text = "FINDINGS: Small right pleural effusion.\nIMPRESSION: No acute disease."
    assert u_of(rules, text)["pleural_effusion"] == 3


def test_negation_scope_ends_at_sentence(rules):
    assert u_of(rules, "No pneumothorax. Pleural effusion on the left.") == {
        "pneumothorax": -3,
        "pleural_effusion": 3,
    }


def test_no_finding_derived(rules):
    rec = rules.label([Report(id="x", text="FINDINGS: The lungs are clear. Pacemaker in place.")])[0]
    assert rec.findings["no_finding"].u == 3
    rec = rules.label([Report(id="x", text="FINDINGS: Cardiomegaly.")])[0]
    assert rec.findings["no_finding"].u == -3


def test_hits_have_offsets_in_sentence():
    hits = assign("No evidence of pneumothorax.", load_vocabulary())
    assert [(h.finding, h.u) for h in hits] == [("pneumothorax", -3)]
    assert "No evidence of pneumothorax."[hits[0].start : hits[0].end] == "pneumothorax"
    assert hits[0].cue is not None


def test_flattened_report_keeps_its_labels_and_empty_body_derives_nothing():
    from labeler.assemble import is_empty_body
    from labeler.records import Report
    from labeler.rules.labeler import RuleLabeler

    lab = RuleLabeler()
    flat = "INDICATION: Cough. FINDINGS: Small left pleural effusion. IMPRESSION: No pneumothorax."
    [rec] = lab.label([Report(id="a", text=flat)])
    assert rec.findings["pleural_effusion"].u == 3 and rec.findings["pneumothorax"].u == -3
    assert rec.findings["no_finding"].u == -3
    [empty] = lab.label([Report(id="b", text="Clinical history: evaluate for pneumonia")])
    assert all(f.u is None for f in empty.findings.values()) and is_empty_body(empty, lab.schema)
    assert empty.findings["no_finding"].status == "not_mentioned"
