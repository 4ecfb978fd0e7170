import json

import numpy as np
import pytest

from distill.data import load_examples
from labeler.errors import InvalidInput
from labeler.schema import load_schema

S = load_schema()
REPORTS = {"a": {"text": "FINDINGS: Cardiomegaly."}, "b": {"text": "FINDINGS: No effusion."}}


def write(tmp_path, rows):
    p = tmp_path / "labels.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return p


def test_hard_and_soft_targets(tmp_path):
    soft = [0.0, 0.0, 0.0, 0.0, 0.0, 0.2, 0.3, 0.5]
    p = write(
        tmp_path,
        [
            {"id": "a", "u": {"cardiomegaly": 3}, "probs": {"cardiomegaly": soft}},
            {"id": "b", "u": {"pleural_effusion": -3}},
            {"id": "zzz", "u": {}},
        ],
    )
    ex = load_examples(REPORTS, p, S)
    assert ex.ids == ["a", "b"]  # ids without a report are skipped
    i = S.keys.index("cardiomegaly")
    np.testing.assert_allclose(ex.targets[0, i], soft)
    j = S.keys.index("pleural_effusion")
    assert ex.targets[1, j].argmax() == 1 and ex.targets[1, i].argmax() == 0  # -3 and not mentioned


def test_bad_lines_name_the_line(tmp_path):
    p = write(tmp_path, [{"id": "a", "u": {"cardiomegaly": 3}}, {"id": "b", "u": {"nodule": 7}}])
    with pytest.raises(InvalidInput, match=":2:"):
        load_examples(REPORTS, p, S)
    p = write(tmp_path, [{"id": "a", "u": {}, "probs": {"nodule": [1.0, 0.5]}}])
    with pytest.raises(InvalidInput, match=":1: probs"):
        load_examples(REPORTS, p, S)


def test_dev_sets_and_corpora_join_by_id(tmp_path):
    import json

    import numpy as np

    from distill.data import DevSet, Examples, concat
    from labeler.errors import InvalidInput

    reports = tmp_path / "r.jsonl"
    reports.write_text("".join(json.dumps({"id": i, "text": f"text {i}"}) + "\n" for i in ("a", "b", "c")))
    gold = tmp_path / "g.jsonl"
    gold.write_text(
        json.dumps({"id": "b", "u": {"edema": -3}}) + "\n" + json.dumps({"id": "z", "u": {}}) + "\n"
    )
    dev = DevSet.load("x", reports, gold, None)
    assert dev.texts == ["text b"] and dev.gold == {"b": {"edema": -3}}
    a = Examples(["a"], ["t"], np.zeros((1, 17, 8), dtype=np.float32))
    assert concat(a, Examples(["b"], ["u"], a.targets)).ids == ["a", "b"]
    with pytest.raises(InvalidInput, match="two corpora"):
        concat(a, a)
