"""The one reader of report files: (line number, raw row) from JSONL, CSV, Parquet or text.

Every path that reads reports goes through here: `radlabel label` and `distill teach` (through
`labeler.io.read_reports`), `radlabel label-archive` on either engine, and the service's batch
jobs. One reader means one answer to "what is row 7 of this file" and "what is wrong with it":
a line that is not valid UTF-8, not JSON, not an object, or a CSV record with the wrong number
of fields becomes `{"__error__": reason}` under its number and the rest of the file is still
read; only a file that cannot be opened at all (or a CSV/Parquet file without the columns
asked for) stops the read. Numbers are file lines for JSONL and text, the line a record starts
on for CSV (a header is line 1), and row numbers for Parquet.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from labeler.errors import InvalidInput

RowFormat = Literal["jsonl", "csv", "parquet", "txt"]
Row = tuple[int, dict[str, Any]]

# Report text columns a CSV may name, in order of preference (`report(s)`: the CheXpert labeler's).
TEXT_COLUMNS = ("text", "report", "reports")
_UNDECODABLE = re.compile("[\udc80-\udcff]")  # bytes that were not UTF-8, kept by surrogateescape


def row_format(path: Path, default: RowFormat | None = None) -> RowFormat:
    """The format of a report file from its suffix.

    Args:
        default: the format of any other suffix; None refuses it.

    Raises:
        InvalidInput: an unknown suffix and no default.
    """
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return "parquet"
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    if default is None:
        raise InvalidInput(f"{path.name}: expected a .parquet, .jsonl or .csv archive")
    return default


def read_rows(path: Path, fmt: RowFormat | None = None, need_id: bool = True) -> Iterator[Row]:
    """(number, row) for each non-blank row of a report file, unreadable rows included.

    Args:
        path: the file.
        fmt: its format; from the suffix when None (archives: .parquet, .jsonl, .csv).
        need_id: a CSV/Parquet file must have an `id` column (archives); when False a CSV may
            also be the CheXpert labeler's header-less single column of report text, and rows
            without an id are the caller's to number.

    Raises:
        InvalidInput: the file cannot be opened, or lacks the columns asked for.
    """
    fmt = fmt or row_format(path)
    try:
        if fmt == "parquet":
            yield from _parquet_rows(path, need_id)
        elif fmt == "csv":
            yield from _csv_rows(path, need_id)
        elif fmt == "txt":
            yield from _text_rows(path)
        else:
            yield from _jsonl_rows(path)
    except OSError as exc:
        raise InvalidInput(f"cannot read {path.name}: {exc.strerror or exc}") from exc


def _parquet_file(path: Path) -> Any:
    """The file's `pyarrow.parquet.ParquetFile` (footer read).

    Raises:
        InvalidInput: not a readable Parquet file.
    """
    import pyarrow.lib
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path)
    except pyarrow.lib.ArrowException as exc:
        raise InvalidInput(f"{path.name} is not a readable Parquet file: {exc}") from exc


def _parquet_rows(path: Path, need_id: bool) -> Iterator[Row]:
    handle = _parquet_file(path)
    names = set(handle.schema_arrow.names)
    missing = ({"id", "text"} if need_id else {"text"}) - names
    if missing:
        raise InvalidInput(f"{path.name} has no {' and '.join(sorted(missing))} column")
    columns = ["id", "text"] if "id" in names else ["text"]
    n = 0
    for batch in handle.iter_batches(batch_size=4096, columns=columns):
        for row in batch.to_pylist():
            n += 1
            yield n, row


def _decoded_lines(path: Path) -> Iterator[tuple[int, str | None]]:
    """(line number, text) of each non-blank line; None where the line is not valid UTF-8."""
    with path.open("rb") as handle:
        for n, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                yield n, raw.decode("utf-8")
            except UnicodeDecodeError:
                yield n, None


def _jsonl_rows(path: Path) -> Iterator[Row]:
    for n, line in _decoded_lines(path):
        if line is None:
            yield n, {"__error__": "not valid UTF-8"}
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            yield n, {"__error__": f"not valid JSON ({exc.msg} at column {exc.colno})"}
            continue
        yield n, obj if isinstance(obj, dict) else {"__error__": "not a JSON object with id and text"}


def _text_rows(path: Path) -> Iterator[Row]:
    for n, line in _decoded_lines(path):
        yield n, {"__error__": "not valid UTF-8"} if line is None else {"text": line.rstrip("\r\n")}


def _csv_rows(path: Path, need_id: bool) -> Iterator[Row]:
    with path.open(encoding="utf-8", errors="surrogateescape", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            return
        names = [h.strip().lower().lstrip("\ufeff") for h in header]
        text_col = next((names.index(c) for c in TEXT_COLUMNS if c in names), None)
        id_col = names.index("id") if "id" in names else None
        width = len(names)
        if need_id and (id_col is None or text_col is None):
            raise InvalidInput(f"{path.name}: the CSV header must name an id and a text column")
        if text_col is None:  # the CheXpert labeler's layout: no header, report text in column 1
            text_col, id_col, width = 0, None, 0
            if (first := _csv_row(1, header, text_col, id_col, width)) is not None:
                yield first
        start = reader.line_num + 1
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:  # e.g. a field over the csv module's size limit: skip the record
                n, start = start, reader.line_num + 1
                yield n, {"__error__": f"unparseable CSV record: {exc}"}
                continue
            n, start = start, reader.line_num + 1
            if (item := _csv_row(n, row, text_col, id_col, width)) is not None:
                yield item


def _csv_row(n: int, row: list[str], text_col: int, id_col: int | None, width: int) -> Row | None:
    """One CSV record as a row (None when blank); `width` 0 accepts records of any length."""
    if not any(cell.strip() for cell in row):
        return None
    if width and len(row) != width:
        return n, {"__error__": f"expected {width} fields, found {len(row)}"}
    cells = [row[c] for c in (text_col, id_col) if c is not None and c < len(row)]
    if any(_UNDECODABLE.search(cell) for cell in cells):
        return n, {"__error__": "not valid UTF-8"}
    out: dict[str, Any] = {"text": row[text_col]} if text_col < len(row) else {}
    if id_col is not None:
        out["id"] = row[id_col]
    return n, out


def count_rows(path: Path, fmt: RowFormat | None = None, need_id: bool = True) -> int:
    """How many rows `read_rows` yields for a file, bad rows included, without parsing them
    where the format allows: Parquet from its footer, JSONL and text by counting non-blank lines
    (each is one row, readable or not); CSV records can span lines, so CSV is read through.

    Raises:
        InvalidInput: as `read_rows`.
    """
    fmt = fmt or row_format(path)
    if fmt == "csv":
        return sum(1 for _ in read_rows(path, fmt, need_id))
    try:
        if fmt == "parquet":
            return int(_parquet_file(path).metadata.num_rows)
        with path.open("rb") as handle:
            return sum(1 for raw in handle if raw.strip())
    except OSError as exc:
        raise InvalidInput(f"cannot read {path.name}: {exc.strerror or exc}") from exc
