"""The shared report reader: row numbers, per-row errors, and counts that match the rows."""

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from labeler.errors import InvalidInput
from labeler.rows import count_rows, read_rows


def test_jsonl_rows_numbers_errors_and_count(tmp_path):
    p = tmp_path / "a.jsonl"
    p.write_bytes(
        b'{"id": "1", "text": "No effusion."}\n\n  \n{oops\n\xff\xfe\n[1]\n{"id": "2", "text": "Edema."}\n'
    )
    rows = list(read_rows(p))
    assert [n for n, _ in rows] == [1, 4, 5, 6, 7]
    assert [r.get("__error__", "").split(" (")[0] for _, r in rows] == [
        "",
        "not valid JSON",
        "not valid UTF-8",
        "not a JSON object with id and text",
        "",
    ]
    assert count_rows(p) == len(rows)


def test_csv_multiline_records_count_and_line_numbers(tmp_path):
    p = tmp_path / "a.csv"
    p.write_text('id,text\n1,"Heart normal.\nNo effusion."\n\n2,Edema.\n3\n')
    rows = list(read_rows(p))
    assert [(n, r.get("id")) for n, r in rows] == [(2, "1"), (5, "2"), (6, None)]
    assert rows[0][1]["text"] == "Heart normal.\nNo effusion."
    assert rows[2][1]["__error__"] == "expected 2 fields, found 1"
    assert count_rows(p) == 3
    q = tmp_path / "b.csv"
    q.write_text("report,other\nNo effusion.,x\n")
    with pytest.raises(InvalidInput, match="must name an id and a text column"):
        list(read_rows(q))
    assert list(read_rows(q, need_id=False)) == [(2, {"text": "No effusion."})]


def test_parquet_and_text_counts(tmp_path):
    p = tmp_path / "a.parquet"
    pq.write_table(pa.table({"id": ["a", "b", "c"], "text": ["x", None, "z"]}), p)
    assert count_rows(p) == len(list(read_rows(p))) == 3
    t = tmp_path / "a.txt"
    t.write_text("one\n\ntwo\r\n")
    assert list(read_rows(t, "txt")) == [(1, {"text": "one"}), (3, {"text": "two"})]
    assert count_rows(t, "txt") == 2
    with pytest.raises(InvalidInput, match="not a readable Parquet"):
        count_rows(t, "parquet")
    with pytest.raises(InvalidInput, match="cannot read"):
        count_rows(tmp_path / "none.jsonl")
