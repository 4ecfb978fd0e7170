"""The rule labeler as a teacher: free, instant, and noisier than an LLM."""

from __future__ import annotations

from collections.abc import Sequence

from distill.teachers.base import TeacherFailure, TeacherLabel
from labeler.records import Report
from labeler.rules.labeler import RuleLabeler


class RulesTeacher:
    """Wraps `RuleLabeler`; evidence is the first deciding span per finding."""

    def __init__(self) -> None:
        self.labeler = RuleLabeler()

    @property
    def name(self) -> str:
        """Teacher name."""
        return f"rules:{self.labeler.name}"

    def teach(self, reports: Sequence[Report]) -> list[TeacherLabel | TeacherFailure]:
        """Label reports with the rule labeler."""
        out: list[TeacherLabel | TeacherFailure] = []
        derived = self.labeler.schema.derived.key
        for rec in self.labeler.label(reports):
            u = {k: v.u for k, v in rec.findings.items() if v.u is not None and k != derived}
            ev = {k: v.evidence[0].text for k, v in rec.findings.items() if v.evidence and k != derived}
            out.append(
                TeacherLabel(id=rec.id, u=u, evidence=ev, schema=rec.schema_version, teacher=self.name)
            )
        return out
