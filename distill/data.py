"""Training examples: report text paired with a teacher's labels as class targets.

Reads the shipped corpus (data/reports.jsonl) and a teacher label file (`{"id", "u"}` JSONL,
optionally with `"probs"` soft distributions), and turns labels into the student's 8-class
targets per finding (0 = not mentioned, 1..7 = u -3..+3).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from labeler.errors import InvalidInput
from labeler.io import read_u_file
from labeler.schema import Schema, u_to_class


@dataclass
class Examples:
    """Texts with one-hot or soft class targets of shape [n, findings, 8]."""

    ids: list[str]
    texts: list[str]
    targets: npt.NDArray[np.float32]


def load_reports(path: Path, split: str | None = None) -> dict[str, dict[str, str]]:
    """Read reports.jsonl into id -> record, optionally keeping one split."""
    out: dict[str, dict[str, str]] = {}
    with path.open(encoding="utf-8") as handle:
        for n, line in enumerate(handle, start=1):
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InvalidInput(f"{path}:{n}: not valid JSON") from exc
            if split is None or obj.get("split") == split:
                out[str(obj["id"])] = obj
    return out


def targets_from_u(u: dict[str, int | None], schema: Schema) -> npt.NDArray[np.float32]:
    """One-hot 8-class targets for one report."""
    t = np.zeros((len(schema.keys), 8), dtype=np.float32)
    for i, key in enumerate(schema.keys):
        t[i, u_to_class(u.get(key))] = 1.0
    return t


def _soft_targets(labels: Path) -> list[tuple[str, int, str, list[float]]]:
    """(id, line, finding, distribution) for every soft teacher distribution in a label file."""
    out = []
    with labels.open(encoding="utf-8") as handle:
        for n, line in enumerate(handle, start=1):
            if '"probs"' in line:
                obj = json.loads(line)
                out += [(str(obj["id"]), n, k, v) for k, v in (obj.get("probs") or {}).items()]
    return out


def load_examples(reports: dict[str, dict[str, str]], labels: Path, schema: Schema) -> Examples:
    """Pair reports with teacher labels (only ids present in both).

    Args:
        reports: id -> report record.
        labels: teacher JSONL (`id`, `u`, optional `probs` {finding: [8 floats]}).
        schema: the label schema.

    Raises:
        InvalidInput: a label line is malformed (line number given).
    """
    u_maps = read_u_file(labels)  # validated, errors name the line
    ids, texts, targets = [], [], []
    for rid, u in u_maps.items():
        if rid not in reports:
            continue
        ids.append(rid)
        texts.append(reports[rid]["text"])
        targets.append(targets_from_u(u, schema))
    for rid, n, key, dist in _soft_targets(labels):
        if rid in reports and key in schema.keys:
            row = np.asarray(dist, dtype=np.float32)
            if row.shape != (8,) or row.min() < 0 or abs(row.sum() - 1) > 1e-3:
                raise InvalidInput(f"{labels}:{n}: probs[{key}] must be 8 probabilities")
            targets[ids.index(rid)][schema.keys.index(key)] = row
    if not ids:
        raise InvalidInput(f"{labels}: no labelled report matches the corpus")
    return Examples(ids, texts, np.stack(targets))


def concat(a: Examples, b: Examples) -> Examples:
    """Two example sets as one (ids must not collide)."""
    clash = set(a.ids) & set(b.ids)
    if clash:
        raise InvalidInput(f"{len(clash)} report ids occur in two corpora, e.g. {sorted(clash)[:3]}")
    return Examples(a.ids + b.ids, a.texts + b.texts, np.concatenate([a.targets, b.targets]))


@dataclass
class DevSet:
    """A named dev set: report texts and gold u-maps in the same order."""

    name: str
    texts: list[str]
    gold: dict[str, dict[str, int | None]]

    @classmethod
    def load(cls, name: str, reports: Path, gold: Path, split: str | None) -> DevSet:
        """Gold labels joined with their report texts (reports of `split`, or all when None).

        Raises:
            InvalidInput: no gold id matches a report.
        """
        texts = load_reports(reports, split)
        labels = {k: v for k, v in read_u_file(gold).items() if k in texts}
        if not labels:
            raise InvalidInput(f"{gold}: no gold id matches a report of {reports}")
        return cls(name, [texts[k]["text"] for k in labels], labels)
