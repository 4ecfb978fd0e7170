"""Turn per-finding certainties into the output record.

Both labelers (rules and model) produce u per finding plus evidence; status, r, target, the
derived no_finding and view labels all follow from u here, in one place, so the two can never
disagree on the arithmetic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache

from labeler.gls import smoothing_rate, soft_target
from labeler.records import Evidence, FindingLabel, ReportLabels, ViewLabel
from labeler.schema import Schema, Smoothing, aggregate_u


@lru_cache(maxsize=64)
def _rate_and_target(u: int, smoothing: Smoothing) -> tuple[float, float]:
    """(r, target) of one certainty, rounded as records carry them; cached, since the numpy GLS
    functions cost more per scalar call than labelling a report does (7 u values in all)."""
    return round(float(smoothing_rate(u, smoothing)), 6), round(float(soft_target(u, smoothing)), 6)


def finding_label(
    u: int | None,
    schema: Schema,
    mapping: str = "default",
    evidence: Sequence[Evidence] = (),
    probs: Sequence[float] | None = None,
) -> FindingLabel:
    """Build one finding's label from its certainty.

    Args:
        u: certainty -3..3, or None when not mentioned.
        schema: the label schema (status mappings and smoothing constants).
        mapping: status mapping name.
        evidence: spans that decided it.
        probs: model probabilities, when a model made it.

    Returns:
        The finding label.
    """
    status = schema.mapping(mapping).status(u)
    r, t = (None, None) if u is None else _rate_and_target(u, schema.smoothing)
    return FindingLabel(
        status=status,
        u=u,
        r=r,
        target=t,
        evidence=list(evidence),
        probs=None if probs is None else [round(float(p), 5) for p in probs],
    )


def view_labels(
    u: Mapping[str, int | None], schema: Schema, view: str, mapping: str = "default"
) -> dict[str, ViewLabel]:
    """Aggregate fine certainties into a view's labels (most positive member wins).

    Args:
        u: certainty per finding, including the derived key.
        schema: the label schema.
        view: view name, e.g. `chexpert14`.
        mapping: status mapping name.

    Returns:
        View label name -> label.
    """
    statuses = schema.mapping(mapping)
    out: dict[str, ViewLabel] = {}
    for label, members in schema.view(view).labels.items():
        agg = aggregate_u([u.get(m) for m in members])
        out[label] = ViewLabel(status=statuses.status(agg), u=agg)
    return out


def build_record(
    report_id: str,
    u: Mapping[str, int | None],
    schema: Schema,
    labeler: str,
    evidence: Mapping[str, Sequence[Evidence]] | None = None,
    probs: Mapping[str, Sequence[float]] | None = None,
    views: Sequence[str] = (),
    mapping: str = "default",
    body: bool = True,
) -> ReportLabels:
    """Build the full output record of one report.

    Args:
        report_id: the caller's id of the report.
        u: certainty per labelled finding (missing keys = not mentioned).
        schema: the label schema.
        labeler: name and version of the labeler, e.g. `rules/1`.
        evidence: evidence spans per finding.
        probs: model probabilities per finding.
        views: names of views to add.
        mapping: status mapping name.
        body: False when the report has no FINDINGS or IMPRESSION text: then nothing is
            mentioned and no_finding is not derived either (an empty body says nothing, it does
            not say "normal").

    Returns:
        The record, with the derived finding added and every schema finding present.
    """
    evidence = evidence or {}
    probs = probs or {}
    full: dict[str, int | None] = {k: u.get(k) if body else None for k in schema.keys}
    findings = {
        k: finding_label(full[k], schema, mapping, evidence.get(k, ()), probs.get(k)) for k in schema.keys
    }
    derived_u = schema.derive_no_finding(full, mapping) if body else None
    findings[schema.derived.key] = finding_label(derived_u, schema, mapping)
    full[schema.derived.key] = derived_u
    view_out = {v: view_labels(full, schema, v, mapping) for v in views} or None
    return ReportLabels(
        id=report_id,
        schema=schema.version,
        labeler=labeler,
        findings=findings,
        views=view_out,
    )


def reassemble(
    record: ReportLabels, schema: Schema, views: Sequence[str] = (), mapping: str = "default"
) -> ReportLabels:
    """The same labels under another status mapping and with views: everything follows from u.

    Args:
        record: a record built with any mapping.
        schema: the label schema.
        views: view names to add.
        mapping: status mapping name.

    Returns:
        A new record with the same id, labeler, u, evidence and probabilities.
    """
    fine = {k: v for k, v in record.findings.items() if k != schema.derived.key}
    derived = record.findings.get(schema.derived.key)
    return build_record(
        record.id,
        {k: v.u for k, v in fine.items()},
        schema,
        record.labeler,
        {k: v.evidence for k, v in fine.items()},
        {k: v.probs for k, v in fine.items() if v.probs is not None},
        views,
        mapping,
        body=derived is None or derived.u is not None,
    )


def is_empty_body(record: ReportLabels, schema: Schema) -> bool:
    """True for the record of a report with no FINDINGS/IMPRESSION text (no_finding not derived)."""
    derived = record.findings.get(schema.derived.key)
    return derived is not None and derived.u is None
