"""The one narrow interface every labeler (rules, model) offers to the CLI and the service.

Tokenization, sectioning and probability-to-label mapping all happen behind `label`; callers
see reports in and records out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from labeler.errors import InputTooLong, InvalidInput
from labeler.records import Report, ReportLabels
from labeler.schema import Schema

DEFAULT_MAX_CHARS = 20_000

# C0 control characters other than tab, newline and carriage return, DEL, and lone UTF-16
# surrogates (not text at all; they cannot even be written back as UTF-8): a report that holds
# them is corrupt (a binary field, a bad export), not text to label.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


@runtime_checkable
class Labeler(Protocol):
    """What a labeler offers: a name, a health check and batch labelling."""

    @property
    def name(self) -> str:
        """Name and version, written into every record (e.g. `rules/1`)."""
        ...

    def health(self) -> bool:
        """True when the labeler can label (model loaded, pipeline built)."""
        ...

    def label(
        self,
        reports: Sequence[Report],
        views: Sequence[str] = (),
        mapping: str = "default",
    ) -> list[ReportLabels]:
        """Label reports, one record per report in input order."""
        ...


def check_reports(reports: Sequence[Report], max_chars: int = DEFAULT_MAX_CHARS) -> None:
    """Refuse inputs no labeler should see.

    Args:
        reports: the batch.
        max_chars: the longest report accepted.

    Raises:
        InvalidInput: an empty report text, or one with control characters.
        InputTooLong: a report longer than max_chars.
    """
    for i, report in enumerate(reports):
        if not report.text.strip():
            raise InvalidInput(f"report {i} (id {report.id!r}) has empty text")
        bad = _CONTROL.search(report.text)
        if bad:
            raise InvalidInput(
                f"report {i} (id {report.id!r}) contains a control character or lone surrogate "
                f"(U+{ord(bad.group()):04X} at offset {bad.start()})"
            )
        if len(report.text) > max_chars:
            raise InputTooLong(
                f"report {i} (id {report.id!r}) has {len(report.text)} characters; the limit is {max_chars}"
            )


def check_request(
    reports: Sequence[Report], schema: Schema, views: Sequence[str], mapping: str, max_chars: int
) -> None:
    """Everything a labeler checks before work: the reports, the view names, the mapping.

    Raises:
        InvalidInput: empty text, unknown view or mapping.
        InputTooLong: a report over max_chars.
    """
    check_reports(reports, max_chars)
    for view in views:
        schema.view(view)
    schema.mapping(mapping)
