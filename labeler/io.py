"""Reading report files and writing label files (JSONL and CheXpert-style CSV).

Inputs come as JSONL (`{"id", "text"}`), CSV (one report column as the CheXpert labeler
expects, or `id,text` columns) or plain text (one report per line). A bad line is reported
with its line number; the caller decides whether to skip it or stop.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

from pydantic import ValidationError

from labeler.errors import InvalidInput
from labeler.records import Report, ReportLabels
from labeler.schema import Schema

InputFormat = Literal["jsonl", "csv", "txt"]
OutputFormat = Literal["jsonl", "csv"]

# CheXpert labeler convention for status in CSV files: 1 / 0 / -1 / blank.
CSV_STATUS = {"present": "1", "absent": "0", "uncertain": "-1", "not_mentioned": ""}


@dataclass(frozen=True)
class LineError:
    """A line of an input file that could not be read as a report."""

    line: int
    reason: str


def detect_format(path: Path) -> InputFormat:
    """Guess the input format from the file suffix (.jsonl/.json, .csv, anything else text)."""
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json", ".ndjson"):
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    return "txt"


def _jsonl(handle: IO[str]) -> Iterator[tuple[int, Report | LineError]]:
    for n, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            yield n, LineError(n, f"not valid JSON ({exc.msg} at column {exc.colno})")
            continue
        if not isinstance(obj, dict):
            yield n, LineError(n, "expected a JSON object with 'id' and 'text'")
            continue
        if "id" not in obj:
            obj = {**obj, "id": str(n)}
        try:
            yield n, Report.model_validate({"id": str(obj["id"]), "text": obj.get("text")})
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            yield n, LineError(n, f"field {where!r}: {first['msg']}")


def _csv(handle: IO[str]) -> Iterator[tuple[int, Report | LineError]]:
    rows = csv.reader(handle)
    header = next(rows, None)
    if header is None:
        return
    lowered = [h.strip().lower() for h in header]
    if "text" in lowered or "report" in lowered or "reports" in lowered:
        text_col = next(lowered.index(h) for h in ("text", "report", "reports") if h in lowered)
        id_col = lowered.index("id") if "id" in lowered else None
        start = 2
    else:
        # CheXpert labeler style: one column of report text and no header row.
        text_col, id_col, start = 0, None, 1
        rows = iter([header, *rows])  # type: ignore[assignment]
    for n, row in enumerate(rows, start=start):
        if not row or not any(cell.strip() for cell in row):
            continue
        if len(row) <= text_col:
            yield n, LineError(n, f"expected a text column at position {text_col + 1}")
            continue
        rid = row[id_col] if id_col is not None and id_col < len(row) else str(n)
        yield n, Report(id=rid or str(n), text=row[text_col])


def _txt(handle: IO[str]) -> Iterator[tuple[int, Report | LineError]]:
    for n, line in enumerate(handle, start=1):
        if line.strip():
            yield n, Report(id=str(n), text=line.rstrip("\n"))


def read_reports(path: Path, fmt: InputFormat | None = None) -> Iterator[tuple[int, Report | LineError]]:
    """Yield (line number, report or error) for each input line.

    Args:
        path: the input file.
        fmt: its format; guessed from the suffix when None.

    Raises:
        InvalidInput: the file cannot be opened or decoded.
    """
    fmt = fmt or detect_format(path)
    reader = {"jsonl": _jsonl, "csv": _csv, "txt": _txt}[fmt]
    try:
        with path.open(encoding="utf-8", newline="" if fmt == "csv" else None) as handle:
            yield from reader(handle)
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read {path}: {exc}") from exc


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
