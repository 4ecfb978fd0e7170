"""A job's results as a stream of bytes: JSONL records, CheXpert-style CSV, or one Parquet manifest.

The committed chunks are the source of truth (Parquet manifest tables); the three formats are
rendered from them chunk by chunk, so a download of a 10^7-report job holds one chunk in memory
and can start while the job still runs (it then holds what is done so far). JSONL records are
rebuilt from u with the job's views and mapping, as every status, r and target follow from u
(`labeler.assemble.build_record`); the Parquet download is the chunks' rows under one footer.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from labeler.assemble import build_record
from labeler.io import csv_header, csv_row
from labeler.profile import NoiseProfile, profile
from labeler.records import ReportLabels
from labeler.schema import Schema

# a job keeps u (everything else follows from it), not evidence spans or probabilities
NO_EXTRAS = {"findings": {"__all__": {"evidence", "probs"}}}
MEDIA = {"jsonl": "application/x-ndjson", "csv": "text/csv", "parquet": "application/vnd.apache.parquet"}


def _tables(paths: Iterable[Path]) -> Iterator[Any]:
    import pyarrow.parquet as pq

    for path in paths:
        yield pq.read_table(path)


def records(table: Any, schema: Schema, views: list[str], mapping: str) -> Iterator[ReportLabels]:
    """The output records of one manifest table."""
    meta = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
    labeler = meta.get("radlabel.model", "")
    cols = {k: table.column(f"u.{k}").to_pylist() for k in [*schema.keys, schema.derived.key]}
    for i, rid in enumerate(table.column("id").to_pylist()):
        u = {k: cols[k][i] for k in schema.keys}
        body = cols[schema.derived.key][i] is not None  # no_finding is not derived for an empty body
        yield build_record(rid, u, schema, labeler, views=views, mapping=mapping, body=body)


def jsonl(paths: Iterable[Path], schema: Schema, views: list[str], mapping: str) -> Iterator[bytes]:
    """One JSON record per line."""
    for table in _tables(paths):
        yield "".join(
            r.model_dump_json(by_alias=True, exclude=NO_EXTRAS) + "\n"
            for r in records(table, schema, views, mapping)
        ).encode("utf-8")


def csv_rows(paths: Iterable[Path], schema: Schema, views: list[str], mapping: str) -> Iterator[bytes]:
    """CheXpert convention: 1 / 0 / -1 / blank per finding (and view label), then u columns."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(csv_header(schema, views))
    for table in _tables(paths):
        for rec in records(table, schema, views, mapping):
            writer.writerow(csv_row(rec, schema, views))
        yield out.getvalue().encode("utf-8")
        out.seek(0)
        out.truncate()
    if out.tell():
        yield out.getvalue().encode("utf-8")


class _Sink(io.RawIOBase):
    """A write-only file that hands its bytes to the caller in pieces."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self.parts.append(chunk)
        self.size += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self.size

    def take(self) -> bytes:
        data = b"".join(self.parts)
        self.parts.clear()
        return data


def parquet(paths: Iterable[Path], empty: Any) -> Iterator[bytes]:
    """One Parquet GLS manifest: each chunk a row group, the manifest metadata in the footer.

    Args:
        paths: the committed chunk files, in order.
        empty: a zero-row manifest table of the job (its schema, for a job with no chunk yet).
    """
    import pyarrow.parquet as pq

    sink = _Sink()
    writer: Any = None
    for table in _tables(paths):
        if writer is None:
            writer = pq.ParquetWriter(sink, table.schema)
        writer.write_table(table.cast(writer.schema) if table.schema != writer.schema else table)
        yield sink.take()
    if writer is None:
        writer = pq.ParquetWriter(sink, empty.schema)
        writer.write_table(empty)
    writer.close()
    yield sink.take()


def job_profile(paths: Iterable[Path], schema: Schema, views: list[str], mapping: str) -> NoiseProfile:
    """The label-noise profile of what the job has labelled."""

    def u_maps() -> Iterator[dict[str, int | None]]:
        for table in _tables(paths):
            cols = {k: table.column(f"u.{k}").to_pylist() for k in schema.keys}
            for i in range(table.num_rows):
                yield {k: cols[k][i] for k in schema.keys}

    return profile(u_maps(), schema, views, mapping)


def profile_png(result: NoiseProfile) -> bytes:
    """The profile's chart (hedged share and flip rate per finding) as PNG bytes.

    Raises:
        ImportError: matplotlib is not installed (the `archive` extra).
    """
    import tempfile

    from labeler.profile_chart import draw

    with tempfile.TemporaryDirectory() as tmp:
        path = draw(result, Path(tmp) / "profile.png")
        return path.read_bytes()
