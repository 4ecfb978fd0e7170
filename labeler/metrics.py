"""Evaluation metrics exactly as LABELS.md defines them.

Per finding: F1 of each of present / absent / uncertain against the rest, averaged with the
gold support of each class as weights; macro-F1 over findings with gold support; pooled F1 per
status; and for u over gold-mentioned findings: exact match, MAE (a missed mention counts as an
error of 3) and quadratic-weighted Cohen's kappa.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from labeler.errors import InvalidInput
from labeler.schema import U_VALUES, Schema, aggregate_u

STATUSES = ("present", "absent", "uncertain")
UMap = Mapping[str, int | None]


@dataclass
class _Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def f1(self) -> float:
        denom = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / denom if denom else 0.0

    @property
    def support(self) -> int:
        return self.tp + self.fn


@dataclass
class EvalResult:
    """Every figure of one evaluation run."""

    n_reports: int
    macro_f1: float
    per_finding: dict[str, dict[str, float]]
    per_status: dict[str, dict[str, float]]
    u_exact: float
    u_mae: float
    u_kappa: float
    u_n: int
    spurious_per_report: float = 0.0
    """findings predicted mentioned that the gold leaves not mentioned, per report"""
    missed_per_report: float = 0.0
    """findings the gold mentions that the prediction leaves not mentioned, per report"""
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready copy."""
        return dict(self.__dict__)


def quadratic_kappa(a: Sequence[int], b: Sequence[int], values: Sequence[int] = U_VALUES) -> float:
    """Quadratic-weighted Cohen's kappa between two integer ratings.

    Args:
        a: ratings of rater A.
        b: ratings of rater B, same length.
        values: the ordered rating scale.

    Returns:
        Kappa in [-1, 1]; 1.0 when both raters give one identical constant rating.
    """
    if len(a) != len(b):
        raise InvalidInput("kappa needs two rating lists of the same length")
    if not a:
        return float("nan")
    index = {v: i for i, v in enumerate(values)}
    n = len(values)
    observed = np.zeros((n, n))
    for x, y in zip(a, b, strict=True):
        observed[index[x], index[y]] += 1
    weights = np.array([[(i - j) ** 2 for j in range(n)] for i in range(n)], dtype=float)
    expected = np.outer(observed.sum(1), observed.sum(0)) / observed.sum()
    denom = float((weights * expected).sum())
    if denom == 0.0:
        return 1.0
    return 1.0 - float((weights * observed).sum()) / denom


def to_view(u: UMap, schema: Schema, view: str) -> dict[str, int | None]:
    """Aggregate a fine u-map (with no_finding derived) into a view's labels."""
    full: dict[str, int | None] = {k: u.get(k) for k in schema.keys}
    full[schema.derived.key] = schema.derive_no_finding(full)
    return {
        label: aggregate_u([full.get(m) for m in members])
        for label, members in schema.view(view).labels.items()
    }


def evaluate(
    pred: Mapping[str, UMap],
    gold: Mapping[str, UMap],
    schema: Schema,
    keys: Sequence[str] | None = None,
    mapping: str = "default",
) -> EvalResult:
    """Score predicted certainties against gold certainties.

    Args:
        pred: report id -> finding -> u (missing or None = not mentioned).
        gold: report id -> finding -> u.
        schema: the label schema (status mapping).
        keys: the labels to score (the schema's findings when None).
        mapping: status mapping name used to derive status from u.

    Returns:
        The evaluation result.

    Raises:
        InvalidInput: a gold report has no prediction.
    """
    missing = sorted(set(gold) - set(pred))
    if missing:
        raise InvalidInput(f"{len(missing)} gold reports have no prediction, e.g. {missing[:3]}")
    keys = list(keys or schema.keys)
    statuses = schema.mapping(mapping)
    counts = {k: {s: _Counts() for s in STATUSES} for k in keys}
    ga: list[int] = []
    pa: list[int] = []
    exact = 0
    abs_err = 0
    n_u = 0
    spurious = missed = 0
    for rid, g in gold.items():
        p = pred[rid]
        for k in keys:
            gu, pu = g.get(k), p.get(k)
            spurious += gu is None and pu is not None
            missed += gu is not None and pu is None
            gs, ps = statuses.status(gu), statuses.status(pu)
            for s in STATUSES:
                c = counts[k][s]
                c.tp += gs == s and ps == s
                c.fp += gs != s and ps == s
                c.fn += gs == s and ps != s
            if gu is None:
                continue
            n_u += 1
            exact += pu == gu
            abs_err += 3 if pu is None else abs(pu - gu)
            if pu is not None:
                ga.append(gu)
                pa.append(pu)
    per_finding: dict[str, dict[str, float]] = {}
    for k in keys:
        support = {s: counts[k][s].support for s in STATUSES}
        total = sum(support.values())
        row: dict[str, float] = {f"f1_{s}": counts[k][s].f1() for s in STATUSES}
        row.update({f"n_{s}": float(support[s]) for s in STATUSES})
        row["f1"] = sum(counts[k][s].f1() * support[s] for s in STATUSES) / total if total else float("nan")
        per_finding[k] = row
    scored = [r["f1"] for r in per_finding.values() if not np.isnan(r["f1"])]
    per_status: dict[str, dict[str, float]] = {}
    for s in STATUSES:
        pooled = _Counts(
            tp=sum(counts[k][s].tp for k in keys),
            fp=sum(counts[k][s].fp for k in keys),
            fn=sum(counts[k][s].fn for k in keys),
        )
        per_status[s] = {"f1": pooled.f1(), "support": float(pooled.support)}
    return EvalResult(
        n_reports=len(gold),
        macro_f1=float(np.mean(scored)) if scored else float("nan"),
        per_finding=per_finding,
        per_status=per_status,
        u_exact=exact / n_u if n_u else float("nan"),
        u_mae=abs_err / n_u if n_u else float("nan"),
        u_kappa=quadratic_kappa(ga, pa),
        u_n=n_u,
        spurious_per_report=spurious / len(gold) if gold else float("nan"),
        missed_per_report=missed / len(gold) if gold else float("nan"),
        notes=["u_kappa is computed over gold-mentioned findings the prediction also mentions"],
    )
