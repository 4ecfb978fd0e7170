"""The label-noise profile of an archive: how hedged its labels are and how often the GLS
targets expect them to be wrong, per finding and per view label.

Noisy-label methods need rates, not labels: co-teaching's forget rate, noise-transition
priors, per-class sample weights. A radiologist's hedge is a noise estimate the report gives
for free, so from the u values of an archive this reports, per label: counts by u level and by
status, the hedged share (|u| < 3 among mentioned labels), the expected flip rate implied by
the GLS targets (the probability mass a target puts on the other class, max(0, r/2), averaged
over mentioned labels), and the not-mentioned share; plus a global summary over all labels.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from pydantic import BaseModel

from labeler.assemble import view_labels
from labeler.gls import smoothing_rate
from labeler.schema import U_VALUES, Schema

UMap = Mapping[str, int | None]


class LabelProfile(BaseModel):
    """The noise figures of one finding or view label over an archive."""

    reports: int
    mentioned: int
    by_u: dict[str, int]
    """counts per u level ("-3".."3") and "none" for not mentioned"""
    by_status: dict[str, int]
    hedged_share: float | None
    """share of mentioned labels with |u| < 3 (None when nothing is mentioned)"""
    expected_flip_rate: float | None
    """mean over mentioned labels of the GLS target's mass on the other class"""
    not_mentioned_share: float


class NoiseProfile(BaseModel):
    """Per finding (the derived no_finding too), per view label, and over the labelled findings."""

    schema_version: str
    k: float
    r0: float
    mapping: str
    reports: int
    findings: dict[str, LabelProfile]
    views: dict[str, dict[str, LabelProfile]]
    summary: LabelProfile


def flip_mass(u: int, schema: Schema) -> float:
    """Probability mass the GLS target of u puts on the class opposite to its hard label."""
    return max(0.0, float(smoothing_rate(u, schema.smoothing)) / 2.0)


def _label_profile(values: Sequence[int | None], schema: Schema, mapping: str) -> LabelProfile:
    statuses = schema.mapping(mapping)
    by_u = {str(v): 0 for v in U_VALUES} | {"none": 0}
    by_status = {"present": 0, "absent": 0, "uncertain": 0, "not_mentioned": 0}
    flips: list[float] = []
    hedged = 0
    for u in values:
        by_u["none" if u is None else str(u)] += 1
        by_status[statuses.status(u)] += 1
        if u is not None:
            hedged += abs(u) < 3
            flips.append(flip_mass(u, schema))
    n, mentioned = len(values), len(flips)
    return LabelProfile(
        reports=n,
        mentioned=mentioned,
        by_u=by_u,
        by_status=by_status,
        hedged_share=hedged / mentioned if mentioned else None,
        expected_flip_rate=sum(flips) / mentioned if mentioned else None,
        not_mentioned_share=(n - mentioned) / n if n else 0.0,
    )


def profile(
    archive: Iterable[UMap], schema: Schema, views: Sequence[str] = (), mapping: str = "default"
) -> NoiseProfile:
    """The noise profile of an archive's labels.

    Args:
        archive: u per finding for each report (missing or None = not mentioned).
        schema: the label schema (smoothing constants, mappings, views).
        views: view names to profile too (their labels aggregate the fine findings).
        mapping: status mapping for the status counts.

    Returns:
        The profile.
    """
    rows = [{k: m.get(k) for k in schema.keys} for m in archive]
    for row in rows:
        row[schema.derived.key] = schema.derive_no_finding(row, mapping)
    keys = [*schema.keys, schema.derived.key]
    findings = {k: _label_profile([r[k] for r in rows], schema, mapping) for k in keys}
    view_out: dict[str, dict[str, LabelProfile]] = {}
    for view in views:
        per_report = [view_labels(r, schema, view, mapping) for r in rows]
        labels = schema.view(view).labels
        view_out[view] = {
            label: _label_profile([p[label].u for p in per_report], schema, mapping) for label in labels
        }
    every = [r[k] for r in rows for k in schema.keys]
    summary = _label_profile(every, schema, mapping)
    return NoiseProfile(
        schema_version=schema.version,
        k=schema.smoothing.k,
        r0=schema.smoothing.r0,
        mapping=mapping,
        reports=len(rows),
        findings=findings,
        views=view_out,
        summary=summary,
    )
