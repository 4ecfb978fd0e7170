"""The teacher interface and its versioned JSONL label format.

Every label line names the schema version, the teacher and (for LLM teachers) the prompt
version, so a label file can always be traced to what made it. A report a teacher could not
label becomes a failure line with the reason: it is never silently dropped.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from labeler.records import Report


class TeacherLabel(BaseModel):
    """One report's labels from a teacher."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    id: str
    u: dict[str, int]
    evidence: dict[str, str] = Field(default_factory=dict)
    probs: dict[str, list[float]] | None = None
    schema_version: str = Field(alias="schema", serialization_alias="schema")
    teacher: str
    prompt_version: str | None = None


class TeacherFailure(BaseModel):
    """A report the teacher could not label, and why."""

    model_config = ConfigDict(extra="forbid")

    id: str
    reason: str
    teacher: str


class Teacher(Protocol):
    """Labels reports for distillation."""

    @property
    def name(self) -> str:
        """Teacher name and version, recorded in every label."""
        ...

    def teach(self, reports: Sequence[Report]) -> list[TeacherLabel | TeacherFailure]:
        """Label reports; one result per report, in input order."""
        ...


def write_results(results: Iterable[TeacherLabel | TeacherFailure], labels: Path) -> tuple[int, int]:
    """Write labels to `labels` and failures to `<labels>.failures.jsonl`.

    Returns:
        (labels written, failures written).
    """
    failures = labels.with_suffix(".failures.jsonl")
    n_ok = n_bad = 0
    with labels.open("w", encoding="utf-8") as ok, failures.open("w", encoding="utf-8") as bad:
        for r in results:
            if isinstance(r, TeacherLabel):
                ok.write(r.model_dump_json(by_alias=True, exclude_none=True) + "\n")
                n_ok += 1
            else:
                bad.write(json.dumps(r.model_dump()) + "\n")
                n_bad += 1
    if n_bad == 0:
        failures.unlink()
    return n_ok, n_bad
