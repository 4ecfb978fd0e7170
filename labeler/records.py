"""The one output record shared by the CLI, the HTTP API and files.

Defined once so a label written by any front end reads back the same way.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from labeler.schema import Status


class Evidence(BaseModel):
    """A span of the report text that decided a finding."""

    model_config = ConfigDict(extra="forbid")

    start: int = Field(description="character offset of the span in the report text")
    end: int = Field(description="end offset (exclusive)")
    text: str
    section: str | None = Field(default=None, description="FINDINGS, IMPRESSION or None")


class FindingLabel(BaseModel):
    """The label of one finding in one report."""

    model_config = ConfigDict(extra="forbid")

    status: Status
    u: int | None = Field(description="certainty -3..3, None when not mentioned")
    r: float | None = Field(description="GLS smoothing rate r0 - k|u|, None when not mentioned")
    target: float | None = Field(description="GLS soft target of the positive class")
    evidence: list[Evidence] = Field(default_factory=list)
    probs: list[float] | None = Field(
        default=None, description="model probabilities over [not_mentioned, -3..+3]"
    )


class ViewLabel(BaseModel):
    """A view label (e.g. CheXpert's Lung Lesion) aggregated from fine findings."""

    model_config = ConfigDict(extra="forbid")

    status: Status
    u: int | None


class ReportLabels(BaseModel):
    """All labels of one report, naming the schema version and the labeler that made them."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    id: str
    schema_version: str = Field(alias="schema", serialization_alias="schema")
    labeler: str
    findings: dict[str, FindingLabel]
    views: dict[str, dict[str, ViewLabel]] | None = None

    def u_map(self) -> dict[str, int | None]:
        """Certainty per finding, None when not mentioned."""
        return {k: v.u for k, v in self.findings.items()}


class Report(BaseModel):
    """One report to label: the caller's id and the full report text."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=256)
    text: str
