"""Reading report files and writing label files (JSONL and CheXpert-style CSV).

Inputs come as JSONL (`{"id", "text"}`), CSV (one report column as the CheXpert labeler
expects, or `id,text` columns), Parquet (`id`, `text`) or plain text (one report per line),
read by `labeler.rows`. A bad line is reported with its line number; the caller decides
whether to skip it or stop.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

from pydantic import ValidationError

from labeler.errors import InvalidInput
from labeler.records import Report, ReportLabels
from labeler.rows import RowFormat, read_rows, row_format
from labeler.schema import Schema

OutputFormat = Literal["jsonl", "csv"]

# CheXpert labeler convention for status in CSV files: 1 / 0 / -1 / blank.
CSV_STATUS = {"present": "1", "absent": "0", "uncertain": "-1", "not_mentioned": ""}


@dataclass(frozen=True)
class LineError:
    """A line of an input file that could not be read as a report."""

    line: int
    reason: str


def read_reports(path: Path, fmt: RowFormat | None = None) -> Iterator[tuple[int, Report | LineError]]:
    """Yield (line number, report or error) for each non-blank input line.

    Rows come from `labeler.rows.read_rows` (the reader every path shares); a row without an id
    takes its line number as id.

    Args:
        path: the input file.
        fmt: its format; from the suffix when None (.jsonl/.json/.ndjson, .csv, .parquet,
            anything else one report per line).

    Raises:
        InvalidInput: the file cannot be opened.
    """
    for n, row in read_rows(path, fmt or row_format(path, default="txt"), need_id=False):
        if "__error__" in row:
            yield n, LineError(n, str(row["__error__"]))
            continue
        rid = row.get("id")
        try:
            yield (
                n,
                Report.model_validate(
                    {"id": str(n) if rid in (None, "") else str(rid), "text": row.get("text")}
                ),
            )
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            yield n, LineError(n, f"field {where!r}: {first['msg']}")


def write_jsonl(records: Iterable[ReportLabels], handle: IO[str]) -> int:
    """Write records as JSON lines; returns how many were written."""
    n = 0
    for rec in records:
        handle.write(rec.model_dump_json(by_alias=True) + "\n")
        n += 1
    return n


def csv_header(schema: Schema, views: Iterable[str] = ()) -> list[str]:
    """CSV columns: id, one status column per finding (CheXpert 1/0/-1/blank), then u columns."""
    keys = [*schema.keys, schema.derived.key]
    cols = ["id", *keys, *[f"u_{k}" for k in keys]]
    for v in views:
        cols += [f"{v}:{label}" for label in schema.view(v).labels]
    return cols


def csv_row(rec: ReportLabels, schema: Schema, views: Iterable[str] = ()) -> list[str]:
    """One CSV row in the column order of `csv_header`."""
    keys = [*schema.keys, schema.derived.key]
    row = [rec.id]
    row += [CSV_STATUS[rec.findings[k].status] for k in keys]
    row += ["" if rec.findings[k].u is None else str(rec.findings[k].u) for k in keys]
    for v in views:
        labels = (rec.views or {}).get(v, {})
        row += [CSV_STATUS[labels[lab].status] if lab in labels else "" for lab in schema.view(v).labels]
    return row


def read_u_file(path: Path) -> dict[str, dict[str, int | None]]:
    """Read a label file (radlabel records or `{"id", "u"}` lines) into id -> finding -> u.

    Raises:
        InvalidInput: a line is not valid, naming its line number.
    """
    out: dict[str, dict[str, int | None]] = {}
    with path.open(encoding="utf-8") as handle:
        for n, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                rid = str(obj["id"])
                if "findings" in obj:
                    u = {k: v.get("u") for k, v in obj["findings"].items()}
                else:
                    u = dict(obj["u"])
            except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
                raise InvalidInput(f"{path}:{n}: not a label line ({exc})") from exc
            bad = {
                k: v for k, v in u.items() if v is not None and (not isinstance(v, int) or not -3 <= v <= 3)
            }
            if bad:
                raise InvalidInput(f"{path}:{n}: u values out of -3..3: {bad}")
            out[rid] = u
    return out
