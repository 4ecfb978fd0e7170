"""Precomputed labels as a teacher, e.g. the shipped LLM-annotator labels in data/."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from distill.teachers.base import TeacherFailure, TeacherLabel
from labeler.errors import InvalidInput
from labeler.io import read_u_file
from labeler.records import Report
from labeler.schema import load_schema


class FileTeacher:
    """Looks each report up in a `{"id", "u", ...}` JSONL file; unknown ids are failures."""

    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise InvalidInput(f"teacher label file {path} does not exist")
        self.path = path
        self.labels = read_u_file(path)
        self.schema = load_schema()

    @property
    def name(self) -> str:
        """Teacher name: the file name."""
        return f"file:{self.path.name}"

    def teach(self, reports: Sequence[Report]) -> list[TeacherLabel | TeacherFailure]:
        """Look reports up by id."""
        out: list[TeacherLabel | TeacherFailure] = []
        known = set(self.schema.keys)
        for r in reports:
            u = self.labels.get(r.id)
            if u is None:
                out.append(TeacherFailure(id=r.id, reason="id not in the label file", teacher=self.name))
                continue
            clean = {k: v for k, v in u.items() if v is not None and k in known}
            out.append(TeacherLabel(id=r.id, u=clean, schema=self.schema.version, teacher=self.name))
        return out
