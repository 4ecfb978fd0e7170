"""Receive an archive upload straight to disk, under a size limit, never whole in memory.

Two ways in: a raw body with its content type (application/x-ndjson, text/csv,
application/vnd.apache.parquet), or multipart/form-data with the archive in the field `file`
(the format from the part's content type, else its file name). Bytes are written as they
arrive; past the limit the upload stops with 413. After the last byte the stored file is
checked as far as is cheap (a Parquet footer with id and text columns, a CSV header naming id
and text) so a wrong file is refused at once rather than failing later as a job.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import IO, Any

from fastapi import Request
from python_multipart.multipart import MultipartParser, parse_options_header

from labeler.errors import InvalidInput
from labeler.rows import RowFormat, read_rows
from service.errors import ApiError

RAW_TYPES: dict[str, RowFormat] = {
    "application/x-ndjson": "jsonl",
    "application/jsonl": "jsonl",
    "application/json-lines": "jsonl",
    "text/csv": "csv",
    "application/vnd.apache.parquet": "parquet",
    "application/x-parquet": "parquet",
}
SUFFIXES: dict[str, RowFormat] = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".parquet": "parquet"}
ACCEPTED = ", ".join(RAW_TYPES) + ", or multipart/form-data with a `file` field"


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "upload_too_large", f"the archive is over the upload limit of {limit} bytes")


class _FilePart:
    """Multipart callbacks that write the `file` field to disk and remember its headers."""

    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.headers: dict[str, bytes] = {}
        self._field = b""
        self._value = b""
        self.in_file = False
        self.found = False
        self.name: str | None = None
        self.content_type: str | None = None

    def callbacks(self) -> dict[str, Any]:
        return {
            "on_part_begin": self._begin,
            "on_header_field": lambda d, s, e: setattr(self, "_field", self._field + d[s:e]),
            "on_header_value": lambda d, s, e: setattr(self, "_value", self._value + d[s:e]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_done,
            "on_part_data": self._data,
            "on_part_end": self._end,
        }

    def _begin(self) -> None:
        self.headers, self.in_file = {}, False

    def _header_end(self) -> None:
        self.headers[self._field.decode("latin-1").lower()] = self._value
        self._field = self._value = b""

    def _headers_done(self) -> None:
        _, params = parse_options_header(self.headers.get("content-disposition", b""))
        if params.get(b"name") == b"file" and not self.found:
            self.in_file = self.found = True
            filename = params.get(b"filename")
            self.name = filename.decode("utf-8", "replace") if filename else None
            kind, _ = parse_options_header(self.headers.get("content-type", b""))
            self.content_type = kind.decode("latin-1").lower() or None

    def _data(self, data: bytes, start: int, end: int) -> None:
        if self.in_file:
            self.out.write(data[start:end])

    def _end(self) -> None:
        self.in_file = False


def _format_of(content_type: str | None, name: str | None) -> RowFormat | None:
    if content_type in RAW_TYPES:
        return RAW_TYPES[content_type]
    if name:
        return SUFFIXES.get(Path(name).suffix.lower())
    return None


async def receive_archive(request: Request, dest: Path, limit: int) -> tuple[RowFormat, int]:
    """Stream the request's archive into `dest`; returns (format, bytes stored).

    Raises:
        ApiError: 413 past the limit, 415 for a content type or file that is not an archive,
            400 for a malformed multipart body, an empty archive, or a file that is not what
            its type says.
    """
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    kind, params = parse_options_header(request.headers.get("content-type", ""))
    media = kind.decode("latin-1").lower()
    dest.parent.mkdir(parents=True, exist_ok=True)
    size = 0
    with dest.open("wb") as out:
        if media == "multipart/form-data":
            boundary = params.get(b"boundary")
            if not boundary:
                raise ApiError(400, "bad_multipart", "multipart/form-data without a boundary")
            part = _FilePart(out)
            parser = MultipartParser(boundary, part.callbacks())  # type: ignore[arg-type]
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise _too_large(limit)
                try:
                    parser.write(chunk)
                except Exception as exc:  # python-multipart raises its own error types
                    raise ApiError(400, "bad_multipart", f"malformed multipart body: {exc}") from exc
            parser.finalize()
            if not part.found:
                raise ApiError(400, "bad_multipart", "the multipart body has no `file` field")
            fmt = _format_of(part.content_type, part.name)
            if fmt is None:
                raise ApiError(
                    415,
                    "unsupported_media_type",
                    "cannot tell the archive's format: give the `file` part a content type "
                    f"({', '.join(RAW_TYPES)}) or a .jsonl, .csv or .parquet file name",
                )
        else:
            fmt = RAW_TYPES.get(media)
            if fmt is None:
                raise ApiError(
                    415, "unsupported_media_type", f"send the archive as {ACCEPTED} (got {media or 'none'})"
                )
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise _too_large(limit)
                out.write(chunk)
    stored = dest.stat().st_size
    if stored == 0:
        raise ApiError(400, "empty_archive", "the archive is empty")
    await asyncio.to_thread(_check, dest, fmt)
    return fmt, stored


def _check(path: Path, fmt: RowFormat) -> None:
    """Refuse a file that is not a readable archive of its format (the first row is read)."""
    try:
        next(iter(read_rows(path, fmt)), None)
    except InvalidInput as exc:
        raise ApiError(400, "bad_archive", str(exc).replace(path.name, f"the {fmt} archive")) from exc
