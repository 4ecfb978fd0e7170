"""Evidence spans from the student: where each finding's attention head looked, as report text.

The student pools the tokens per finding with its own attention (label-wise attention), so the
tokens it weighted most are the phrase it relied on. Every model input position is traced back
through the tokenizer's offsets and the whitespace normalisation of `model_text` to characters
of the original report and widened to its clause (the sentence, or the comma clause of a long
sentence); a finding's evidence is the clause holding its most-attended token, plus a second
clause when that one holds at least `SECOND` of the attention mass. Spans read like the rule
labeler's evidence and go in the same `evidence` field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from labeler.records import Evidence
from labeler.rules.vocab import Vocabulary
from labeler.sections import labelled_sections
from labeler.tokenize import ReportEncoder

SECOND = 0.3
LONG_SENTENCE = 120
_SENTENCE_END = re.compile(r"[.;!?\n]")


@dataclass(frozen=True)
class MappedText:
    """A normalised model-input string; per character, its offset in the report (-1: a joiner)
    and the bounds of the report section it came from."""

    text: str
    origin: list[int]
    bounds: list[tuple[int, int]]


def _join(items: list[MappedText]) -> MappedText:
    text: list[str] = []
    origin: list[int] = []
    bounds: list[tuple[int, int]] = []
    for i, item in enumerate(items):
        if i:
            text.append(" ")
            origin.append(-1)
            bounds.append((0, 0))
        text.append(item.text)
        origin.extend(item.origin)
        bounds.extend(item.bounds)
    return MappedText("".join(text), origin, bounds)


def mapped_model_text(report: str, vocab: Vocabulary) -> tuple[MappedText, MappedText]:
    """`model_text` (impression, findings) with each character traced to the report."""
    parts: dict[str, list[MappedText]] = {"IMPRESSION": [], "FINDINGS": []}
    for section in labelled_sections(report, vocab):
        words = [
            MappedText(
                m.group(), list(range(m.start(), m.end())), [(section.start, section.end)] * len(m.group())
            )
            for m in re.finditer(r"\S+", report[section.start : section.end])
        ]
        words = [MappedText(w.text, [section.start + o for o in w.origin], w.bounds) for w in words]
        parts["IMPRESSION" if section.name == "IMPRESSION" else "FINDINGS"].append(_join(words))
    return _join(parts["IMPRESSION"]), _join(parts["FINDINGS"])


def _clause(report: str, start: int, end: int, lo: int, hi: int) -> tuple[int, int]:
    """Widen [start, end) to its sentence within [lo, hi), or to its comma clause when long."""
    left = max((m.end() for m in _SENTENCE_END.finditer(report, lo, start)), default=lo)
    right = next((m.start() + 1 for m in _SENTENCE_END.finditer(report, end, hi)), hi)
    if right - left > LONG_SENTENCE:
        left = max(left, report.rfind(",", left, start) + 1)
        comma = report.find(",", end, right)
        right = comma if comma != -1 else right
    while left < right and report[left] in " \t\r\n":
        left += 1
    while right > left and report[right - 1] in " \t\r\n,;":
        right -= 1
    return left, right


@dataclass(frozen=True)
class Clauses:
    """The clauses of one report's model input: per input position the clause it lies in (-1 for
    special tokens), and each clause's (start, end, section) in the report."""

    of_position: npt.NDArray[np.int64]
    spans: list[tuple[int, int, str]]


def clauses(encoder: ReportEncoder, report: str) -> Clauses:
    """Trace every model input position of a report to its clause (same truncation as `ids`)."""
    imp, fin = mapped_model_text(report, encoder.vocab)
    enc_imp, enc_fin = encoder.tokenizer.encode_batch([imp.text, fin.text], add_special_tokens=False)
    budget = encoder.max_length - 3
    k_imp = min(len(enc_imp.ids), budget)
    k_fin = min(len(enc_fin.ids), max(0, budget - k_imp))
    index: dict[tuple[int, int, str], int] = {}
    of_position = [-1]

    def trace(mapped: MappedText, offsets: list[tuple[int, int]], section: str) -> None:
        for a, b in offsets:
            chars = [i for i in range(a, b) if mapped.origin[i] >= 0]
            if not chars or not any(mapped.text[i].isalnum() for i in chars):  # punctuation: no clause
                of_position.append(-1)
                continue
            lo, hi = mapped.bounds[chars[0]]
            start, end = mapped.origin[chars[0]], mapped.origin[chars[-1]] + 1
            key = (*_clause(report, start, end, lo, hi), section)
            of_position.append(index.setdefault(key, len(index)))

    trace(imp, enc_imp.offsets[:k_imp], "IMPRESSION")
    of_position.append(-1)
    trace(fin, enc_fin.offsets[:k_fin], "FINDINGS")
    of_position.append(-1)
    return Clauses(np.asarray(of_position, dtype=np.int64), list(index))


def spans(report: str, found: Clauses, weights: npt.NDArray[np.float32]) -> list[Evidence]:
    """The evidence of one finding from its attention over the report's input positions."""
    n = len(found.of_position)
    ok = found.of_position >= 0
    if not ok.any():
        return []
    ids, w = found.of_position[ok], weights[:n][ok].astype(np.float64)
    mass = np.bincount(ids, weights=w, minlength=len(found.spans))
    best = np.zeros(len(found.spans))
    np.maximum.at(best, ids, w)
    ranked = sorted(range(len(found.spans)), key=lambda k: (-best[k], -mass[k]))
    total = float(mass.sum()) or 1.0
    chosen = [ranked[0], *[k for k in ranked[1:2] if mass[k] / total >= SECOND]]
    out = []
    for k in sorted(chosen, key=lambda k: found.spans[k][0]):
        start, end, section = found.spans[k]
        if end > start:
            out.append(Evidence(start=start, end=end, text=report[start:end], section=section))
    return out
