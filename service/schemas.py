"""Request and response models of the HTTP API.

The per-report record is `labeler.records.ReportLabels`, the same pydantic model the CLI and
files use (not a copy), so a label reads the same from every front end. View and mapping names
are literals so the OpenAPI document lists them; a unit test keeps them equal to the schema's.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from labeler.records import ReportLabels

ViewName = Literal["chexpert14", "luvit14"]
MappingName = Literal["default", "chexpert"]
Include = Literal["evidence", "probs"]


class ReportIn(BaseModel):
    """One report: its text and, optionally, the caller's id (else its position, from 0)."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(description="the full report text (FINDINGS and IMPRESSION are labelled)")
    id: str | None = Field(None, min_length=1, max_length=256, description="the caller's id, echoed back")


class LabelRequest(BaseModel):
    """One report (`text`, `id`) or several (`reports`), plus output options."""

    model_config = ConfigDict(extra="forbid")

    text: str | None = Field(None, description="a single report's text (or use `reports`)")
    id: str | None = Field(None, min_length=1, max_length=256)
    reports: list[ReportIn] | None = Field(None, description="several reports, labelled in input order")
    view: list[ViewName] = Field(default_factory=list, description="views to add (a name or a list)")
    status_mapping: MappingName = "default"
    include: list[Include] = Field(
        default_factory=list, description="extra per-finding fields: evidence spans, model probabilities"
    )

    @field_validator("view", "include", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @model_validator(mode="after")
    def _one_shape(self) -> LabelRequest:
        if (self.text is None) == (self.reports is None):
            raise ValueError("give either `text` (one report) or `reports` (a list), not both or neither")
        if self.reports is not None and self.id is not None:
            raise ValueError("`id` belongs to a single-report request; give each of `reports` its own id")
        return self

    def items(self) -> list[ReportIn]:
        """The reports of the request, single or many."""
        if self.reports is not None:
            return self.reports
        return [ReportIn(text=self.text or "", id=self.id)]


class LabelResponse(BaseModel):
    """One record per report, in input order."""

    model: str = Field(description="the labeler that made the labels, e.g. model/int8/<sha256 prefix>")
    schema_version: str = Field(alias="schema", serialization_alias="schema")
    results: list[ReportLabels]

    model_config = ConfigDict(populate_by_name=True)


class Limits(BaseModel):
    """What a client must respect."""

    max_reports_per_request: int
    max_report_chars: int
    max_body_bytes: int


class ModelResponse(BaseModel):
    """The labeler being served and the label contract it follows."""

    model: str
    provider: str
    threads: int | None = Field(description="ONNX Runtime intra-op threads per worker (null: all cores)")
    workers: int = Field(description="labeler runs in flight at once")
    card: dict[str, Any]
    schema_version: str = Field(alias="schema", serialization_alias="schema")
    findings: list[str]
    derived: str
    views: dict[str, list[str]]
    status_mappings: list[str]
    smoothing: dict[str, float]
    limits: Limits

    model_config = ConfigDict(populate_by_name=True)


class HealthResponse(BaseModel):
    """Liveness or readiness."""

    status: Literal["ok", "ready"]


JobState = Literal["queued", "running", "done", "failed", "cancelled"]
ResultFormat = Literal["jsonl", "csv", "parquet"]


class JobAccepted(BaseModel):
    """A stored upload, queued for labelling."""

    id: str
    state: JobState
    url: str = Field(description="where to poll the job's status")


class JobStatus(BaseModel):
    """A job's progress. `done` counts input rows handled (labelled or refused) of `total`."""

    id: str
    state: JobState
    done: int
    total: int | None = Field(description="input rows; null until the worker has counted them")
    labelled: int
    errors: int = Field(description="rows refused (see /errors); a bad row never fails the job")
    reports_per_s: float | None = Field(description="rows per second of labelling time")
    eta_s: float | None = Field(description="seconds left at that rate (null when not running)")
    created: str
    started: str | None
    finished: str | None
    format: str
    view: list[str]
    status_mapping: str
    input_bytes: int
    reason: str | None = Field(None, description="why the job failed")
    results: str = Field(description="results URL (append ?format=jsonl|csv|parquet)")


class JobList(BaseModel):
    """The caller's jobs, newest first."""

    jobs: list[JobStatus]
