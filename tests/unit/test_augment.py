"""Sentence recombination: which sentences are usable, how seeds are drawn, what labels follow."""

import pytest

from distill.augment import Sentence, clean_sentences, synthesize


def test_seed_weights_balance_findings_then_levels():
    pool = [Sentence("a", {"x": 3})] * 90 + [Sentence("b", {"x": 1})] * 10 + [Sentence("c", {"y": -3})] * 5
    from distill.augment import seed_weights

    w = seed_weights(pool)
    total = sum(w)
    assert sum(w[100:]) / total == pytest.approx(0.5)  # the rare finding seeds as often as the common one
    # within x, levels in proportion to sqrt(90) : sqrt(10)
    assert sum(w[:90]) / sum(w[90:100]) == pytest.approx(3.0)


def test_clean_sentences_localise_labels_and_drop_unowned_mentions():
    text = (
        "FINDINGS: No pneumothorax. Heart size normal. Small effusion noted.\nIMPRESSION: No acute disease."
    )
    u = {"pneumothorax": -3, "cardiomegaly": -3}
    ev = {"pneumothorax": "No pneumothorax", "cardiomegaly": "Heart size normal"}
    got = clean_sentences(text, u, ev)
    assert got is not None
    by_text = {s.text: s.u for s in got}
    assert by_text["No pneumothorax."] == {"pneumothorax": -3}
    assert by_text["Heart size normal."] == {"cardiomegaly": -3}
    # mentions an effusion that the teacher's labels do not cover: unusable
    assert "Small effusion noted." not in by_text
    assert by_text["No acute disease."] == {}
    # a quote found nowhere makes the whole report unusable
    assert clean_sentences(text, u, {**ev, "pneumothorax": "absent quote"}) is None


def test_synthetic_labels_are_the_union_without_conflicts():
    pool = [
        Sentence("No pneumothorax.", {"pneumothorax": -3}),
        Sentence("Small pneumothorax.", {"pneumothorax": 3}),
        Sentence("Cardiomegaly.", {"cardiomegaly": 3}),
        Sentence("Old granuloma.", {"nodule": 3}),
    ]
    for text, u in synthesize(pool, 50, seed=1):
        assert text.startswith("FINDINGS: ")
        for s in pool:
            if s.text in text:
                for k, v in s.u.items():
                    assert u[k] == v


def test_add_synthetic_keeps_real_examples_and_varies_with_the_seed():
    """Per-epoch resampling draws a new synthetic set per seed; one seed always gives the same set."""
    import numpy as np

    from distill.augment import add_synthetic
    from distill.data import Examples
    from labeler.schema import load_schema

    schema = load_schema()
    pool = [
        Sentence("No pneumothorax.", {"pneumothorax": -3}),
        Sentence("Cardiomegaly.", {"cardiomegaly": 3}),
        Sentence("Possible small effusion.", {"pleural_effusion": 1}),
        Sentence("Old granuloma.", {"nodule": 3}),
        Sentence("Lungs are clear.", {}),
    ]
    targets = np.zeros((2, len(schema.keys), 8), np.float32)
    real = Examples(ids=["r1", "r2"], texts=["a", "b"], targets=targets)
    one, same, other = (add_synthetic(real, pool, 5.0, seed, schema) for seed in (1, 1, 2))
    assert one.ids[:2] == ["r1", "r2"] and len(one.ids) == 12 and one.targets.shape[0] == 12
    assert one.texts == same.texts and np.array_equal(one.targets, same.targets)
    assert one.texts[2:] != other.texts[2:]


def test_impression_cut_keeps_only_what_the_impression_says():
    from distill.augment import impression_cut

    text = (
        "INDICATION: Cough.\nCOMPARISON: None.\nFINDINGS: Heart size normal. No pneumothorax. "
        "Small right effusion.\nIMPRESSION: Small right pleural effusion. Possible pneumonia."
    )
    u = {"cardiomegaly": -3, "pneumothorax": -3, "pleural_effusion": 3, "pneumonia": 1}
    ev = {
        "cardiomegaly": "Heart size normal",
        "pneumothorax": "No pneumothorax",
        "pleural_effusion": "Small right effusion ... Small right pleural effusion",
        "pneumonia": "Possible pneumonia",
    }
    cut, labels = impression_cut(text, u, ev)
    assert cut == "INDICATION: Cough.\nIMPRESSION: Small right pleural effusion. Possible pneumonia."
    # the negatives of the FINDINGS are not mentioned in the cut
    assert labels == {"pleural_effusion": 3, "pneumonia": 1}
    # no impression, or a label without a quote: no cut
    assert impression_cut("FINDINGS: No pneumothorax.", {"pneumothorax": -3}, ev) is None
    assert impression_cut(text, u, {k: v for k, v in ev.items() if k != "pneumonia"}) is None
    # the impression mentions a finding whose quote came from elsewhere: refused, not mislabelled
    ev2 = {**ev, "pleural_effusion": "Small right effusion"}
    assert impression_cut(text, u, ev2) is None


def test_impression_cuts_are_added_with_their_own_ids(tmp_path):
    import json

    import numpy as np

    from distill.augment import add_impression_cuts
    from distill.data import Examples, targets_from_u
    from labeler.schema import load_schema

    schema = load_schema()
    text = "FINDINGS: No pneumothorax.\nIMPRESSION: Cardiomegaly."
    labels = tmp_path / "l.jsonl"
    labels.write_text(
        json.dumps(
            {
                "id": "r1",
                "u": {"pneumothorax": -3, "cardiomegaly": 3},
                "evidence": {"pneumothorax": "No pneumothorax", "cardiomegaly": "Cardiomegaly"},
            }
        )
        + "\n"
    )
    ex = Examples(["r1"], [text], np.stack([targets_from_u({"pneumothorax": -3, "cardiomegaly": 3}, schema)]))
    out = add_impression_cuts(ex, [labels], {"r1": {"text": text}}, 1.0, 0, schema)
    assert out.ids == ["r1", "cut-r1"] and out.texts[1] == "IMPRESSION: Cardiomegaly."
    assert np.array_equal(out.targets[1], targets_from_u({"cardiomegaly": 3}, schema))


def test_relayout_keeps_what_the_model_reads():
    import random

    from distill.augment import relayout
    from labeler.tokenize import model_text

    text = "INDICATION: Cough.\nFINDINGS: Small left pleural effusion.\nIMPRESSION: Possible pneumonia."
    seen = set()
    for seed in range(30):
        made = relayout(text, random.Random(seed))
        assert made is not None and model_text(made) == model_text(text), made
        seen.add("\n" in made)
    assert seen == {True, False}  # one-line and multi-line layouts both occur
    bare = relayout("No pneumothorax.", random.Random(0))
    assert bare is not None and model_text(bare) == ("", "No pneumothorax.")
