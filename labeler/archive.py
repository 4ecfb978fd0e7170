"""Label a whole archive of report shards into Parquet GLS manifest shards.

Input: a file, a directory, or a glob of Parquet / JSONL / CSV shards with `id` and `text`. Each
input shard becomes one output shard `<stem>.parquet` (the manifest layout of
`labeler.manifest`, its metadata included) plus `<stem>.errors.jsonl` for rows that could not
be labelled (row number and reason: missing id, empty text, control characters, a duplicate id).
Output shards are written to a temporary name and renamed when complete, so a rerun skips
finished shards and redoes a shard that was cut off: resumable, never a half-written shard
passed off as done. `label_batch` is the one per-batch function every engine runs (the local
engine here, Ray Data in `labeler.archive_ray`), so both give the same labels for the same
batches.
"""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labeler.base import Labeler, check_reports
from labeler.errors import InvalidInput, LabelerError
from labeler.manifest import manifest_table
from labeler.records import Report
from labeler.rows import read_rows
from labeler.schema import Schema

SUFFIXES = (".parquet", ".jsonl", ".ndjson", ".csv")


def find_shards(spec: str) -> list[Path]:
    """The input shards named by a file, a directory or a glob, in a stable order.

    Raises:
        InvalidInput: nothing matches.
    """
    path = Path(spec)
    if path.is_dir():
        found = [p for p in path.iterdir() if p.suffix in SUFFIXES]
    elif path.is_file():
        found = [path]
    else:
        found = [Path(p) for p in glob.glob(spec) if Path(p).suffix in SUFFIXES]
    if not found:
        raise InvalidInput(f"no Parquet, JSONL or CSV shards at {spec}")
    return sorted(found)


@dataclass
class BatchResult:
    """Labelled reports of one batch and the rows refused."""

    table: Any
    errors: list[dict[str, Any]]


def label_batch(
    labeler: Labeler,
    rows: Sequence[tuple[int, dict[str, Any]]],
    schema: Schema,
    views: Sequence[str] = (),
    mapping: str = "default",
    seen: set[str] | None = None,
    max_chars: int = 20_000,
) -> BatchResult:
    """Label one batch of (row number, {id, text}) rows into manifest rows; bad rows become errors.

    Args:
        labeler: the labeler.
        rows: the batch.
        schema: the label schema.
        views: view labels to add.
        mapping: status mapping.
        seen: ids already labelled in this archive (duplicates are reported, not merged).
        max_chars: the longest report accepted.
    """
    valid: list[tuple[int, Report]] = []
    errors: list[dict[str, Any]] = []
    for n, row in rows:
        reason = row.get("__error__")
        rid, text = row.get("id"), row.get("text")
        if reason is None and (rid is None or str(rid) == ""):
            reason = "missing id"
        elif reason is None and not isinstance(text, str):
            reason = "missing text"
        if reason is None:
            report = Report(id=str(rid), text=str(text))
            try:
                check_reports([report], max_chars)
            except LabelerError as exc:
                reason = str(exc).replace("report 0 ", "report ")
        if reason is not None:
            errors.append({"row": n, "id": None if rid is None else str(rid), "reason": reason})
            continue
        valid.append((n, report))
    # Every valid row is labelled, duplicates too, and the later copies dropped afterwards: an
    # int8 model's labels depend slightly on the batch a report runs in (activations are
    # quantized per batch), so the batch must not depend on what earlier batches or shards held.
    labelled = labeler.label([r for _, r in valid], views=views, mapping=mapping) if valid else []
    records = []
    for (n, report), record in zip(valid, labelled, strict=True):
        if seen is not None and report.id in seen:
            errors.append({"row": n, "id": report.id, "reason": f"duplicate id {report.id}"})
            continue
        records.append(record)
        if seen is not None:
            seen.add(report.id)
    errors.sort(key=lambda e: int(e["row"]))
    model_sha = getattr(labeler, "sha256", "")
    table = manifest_table(records, schema, views, mapping, labeler.name, model_sha)
    return BatchResult(table, errors)


def label_shard(
    labeler: Labeler,
    shard: Path,
    out_dir: Path,
    schema: Schema,
    views: Sequence[str] = (),
    mapping: str = "default",
    batch_size: int = 256,
    progress: Any = None,
    seen: set[str] | None = None,
) -> tuple[int, int] | None:
    """Label one shard into `<out_dir>/<stem>.parquet` (+ errors); None when it was done before.

    Args:
        seen: ids of the archive labelled so far, across shards; a finished shard adds its ids
            from its output, so duplicates are caught on a resumed run too.

    Returns:
        (labelled, refused) row counts.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    seen = set() if seen is None else seen
    target = out_dir / f"{shard.stem}.parquet"
    if target.exists():
        seen.update(pq.read_table(target, columns=["id"]).column("id").to_pylist())
        return None
    tables: list[Any] = []
    errors: list[dict[str, Any]] = []
    batch: list[tuple[int, dict[str, Any]]] = []

    def flush() -> None:
        result = label_batch(labeler, batch, schema, views, mapping, seen)
        tables.append(result.table)
        errors.extend(result.errors)
        if progress is not None:
            progress(len(batch))
        batch.clear()

    for item in read_rows(shard):
        batch.append(item)
        if len(batch) == batch_size:
            flush()
    if batch or not tables:
        flush()
    table = pa.concat_tables(tables)
    (out_dir / f"{shard.stem}.errors.jsonl").write_text(
        "".join(json.dumps(e) + "\n" for e in errors), encoding="utf-8"
    )
    write_table_atomic(table, target)  # complete: only now does the shard count as done
    return table.num_rows, len(errors)


def write_table_atomic(table: Any, target: Path, durable: bool = False) -> None:
    """Write a Parquet file under a temporary name and rename it: never a partial file as `target`.

    Args:
        durable: also fsync the file before the rename and the directory after it, so the
            rename survives power loss (a job commits the chunk in its database next).

    Raises:
        OSError: the disk is full or not writable.
    """
    import pyarrow.parquet as pq

    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".parquet.partial")
    pq.write_table(table, partial)
    if durable:
        with partial.open("rb+") as handle:
            os.fsync(handle.fileno())
    partial.replace(target)
    if durable:
        fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
