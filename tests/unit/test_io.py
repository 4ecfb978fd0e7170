import json

import pytest

from labeler.errors import InvalidInput
from labeler.io import LineError, read_reports, read_u_file
from labeler.records import Report


def collect(path):
    return list(read_reports(path))


def test_jsonl_with_bad_lines(tmp_path):
    p = tmp_path / "in.jsonl"
    p.write_text(
        '{"id": "a", "text": "No effusion."}\n{oops\n\n[1]\n{"id": "c"}\n{"text": "Cardiomegaly."}\n'
    )
    got = collect(p)
    assert isinstance(got[0][1], Report) and got[0][1].id == "a"
    assert isinstance(got[1][1], LineError) and got[1][0] == 2 and "JSON" in got[1][1].reason
    assert isinstance(got[2][1], LineError) and got[2][0] == 4
    assert isinstance(got[3][1], LineError) and "text" in got[3][1].reason
    assert isinstance(got[4][1], Report) and got[4][1].id == "6"  # missing id -> line number


def test_csv_chexpert_one_column_and_id_text(tmp_path):
    one = tmp_path / "one.csv"
    one.write_text('"No pneumothorax."\n"Cardiomegaly, stable."\n')
    got = collect(one)
    assert [r.text for _, r in got] == ["No pneumothorax.", "Cardiomegaly, stable."]
    two = tmp_path / "two.csv"
    two.write_text('id,text\nx1,"No effusion, no pneumothorax."\n')
    ((_, rep),) = collect(two)
    assert rep.id == "x1" and rep.text == "No effusion, no pneumothorax."


def test_text_file_one_report_per_line(tmp_path):
    p = tmp_path / "in.txt"
    p.write_text("No effusion.\n\nCardiomegaly.\n")
    assert [(n, r.id) for n, r in collect(p)] == [(1, "1"), (3, "3")]


def test_bad_bytes_cost_one_line_not_the_file(tmp_path):
    p = tmp_path / "bin.jsonl"
    p.write_bytes(b'{"id": "a", "text": "No effusion."}\n\xff\xfe\x00\n{"id": "b", "text": "Edema."}\n')
    got = collect(p)
    assert [(n, type(item).__name__) for n, item in got] == [(1, "Report"), (2, "LineError"), (3, "Report")]
    assert got[1][1].reason == "not valid UTF-8"
    t = tmp_path / "bin.txt"
    t.write_bytes(b"No effusion.\n\xff oops\n")
    assert [type(item).__name__ for _, item in collect(t)] == ["Report", "LineError"]


def test_csv_wrong_field_count_and_parquet_input(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    p = tmp_path / "in.csv"
    p.write_text('id,text\nx1,"No effusion."\nx2,Edema.,extra\n')
    got = collect(p)
    assert got[0][1].id == "x1" and isinstance(got[1][1], LineError) and got[1][0] == 3
    assert "expected 2 fields" in got[1][1].reason
    q = tmp_path / "in.parquet"
    pq.write_table(pa.table({"text": ["No effusion.", "Edema."]}), q)
    assert [(n, r.id, r.text) for n, r in collect(q)] == [(1, "1", "No effusion."), (2, "2", "Edema.")]


def test_missing_file(tmp_path):
    with pytest.raises(InvalidInput, match="cannot read"):
        collect(tmp_path / "absent.jsonl")


def test_read_u_file_both_shapes_and_errors(tmp_path):
    p = tmp_path / "u.jsonl"
    p.write_text(
        json.dumps({"id": "a", "u": {"nodule": 3}})
        + "\n"
        + json.dumps({"id": "b", "findings": {"nodule": {"u": -3}, "mass": {"u": None}}})
        + "\n"
    )
    assert read_u_file(p) == {"a": {"nodule": 3}, "b": {"nodule": -3, "mass": None}}
    p.write_text(json.dumps({"id": "a", "u": {"nodule": 5}}) + "\n")
    with pytest.raises(InvalidInput, match=":1: u values"):
        read_u_file(p)
    p.write_text("nope\n")
    with pytest.raises(InvalidInput, match=":1:"):
        read_u_file(p)
