import json

import pytest
from pydantic import ValidationError

from labeler.errors import InvalidInput, SchemaMismatch
from labeler.schema import Schema, aggregate_u, class_to_u, load_schema, u_to_class


def test_schema_has_17_findings_and_derived():
    s = load_schema()
    assert len(s.keys) == 17
    assert s.derived.key == "no_finding"
    assert "support_devices" in s.derived.ignore
    assert s.smoothing.k == pytest.approx(0.417) and s.smoothing.r0 == 1.0


def test_default_and_chexpert_mappings_differ_on_hedges():
    s = load_schema()
    d, c = s.mapping("default"), s.mapping("chexpert")
    assert [d.status(u) for u in (3, 2, 1, 0, -1, -2, -3, None)] == [
        "present",
        "present",
        "uncertain",
        "uncertain",
        "uncertain",
        "absent",
        "absent",
        "not_mentioned",
    ]
    assert [c.status(u) for u in (3, 2, -2, -3)] == ["present", "uncertain", "uncertain", "absent"]


def test_unknown_mapping_and_view_are_invalid_input():
    s = load_schema()
    with pytest.raises(InvalidInput, match="unknown status mapping"):
        s.mapping("nope")
    with pytest.raises(InvalidInput, match="unknown view"):
        s.view("nope")


def test_schema_rejects_extra_keys_and_bad_views():
    raw = load_schema().model_dump()
    with pytest.raises(ValidationError):
        Schema.model_validate({**raw, "surprise": 1})
    raw["views"]["chexpert14"]["labels"]["Lung Lesion"] = ["nodule", "tumour"]
    with pytest.raises(ValidationError, match="unknown"):
        Schema.model_validate(raw)


def test_status_mapping_must_cover_scale():
    raw = json.loads(load_schema().model_dump_json())
    raw["status_mappings"]["broken"] = {"present": [3], "uncertain": [1], "absent": [-3]}
    with pytest.raises(ValidationError, match="cover"):
        Schema.model_validate(raw)


def test_unknown_schema_version():
    with pytest.raises(SchemaMismatch):
        load_schema("99")
    with pytest.raises(SchemaMismatch):
        load_schema().check_version("2", "bundle")


def test_no_finding_derivation_ignores_support_devices():
    s = load_schema()
    assert s.derive_no_finding({"support_devices": 3, "cardiomegaly": -3}) == 3
    assert s.derive_no_finding({"cardiomegaly": 1}) == -3
    assert s.derive_no_finding({"cardiomegaly": -2}) == 3
    assert s.derive_no_finding({}) == 3


def test_aggregate_most_positive_wins():
    assert aggregate_u([None, -3, 1]) == 1
    assert aggregate_u([-3, -2]) == -2
    assert aggregate_u([None, None]) is None


def test_class_codes_round_trip():
    for u in (None, -3, -2, -1, 0, 1, 2, 3):
        assert class_to_u(u_to_class(u)) == u
    assert u_to_class(None) == 0 and u_to_class(-3) == 1 and u_to_class(3) == 7


def test_packaged_annotation_guide_is_the_shared_labels_md():
    from pathlib import Path

    from distill.teachers.prompt import guide_text

    shared = Path(__file__).resolve().parents[3] / "shared" / "LABELS.md"
    if not shared.is_file():
        pytest.skip("../shared is not beside this checkout")
    assert guide_text() == shared.read_text(encoding="utf-8")
