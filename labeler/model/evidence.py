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

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from labeler.records import Evidence
from labeler.rules.vocab import Vocabulary
from labeler.sections import labelled_sections
from labeler.tokenize import ReportEncoder, body_first

SECOND = 0.3
LONG_SENTENCE = 120
_SENTENCE_END = re.compile(r"[.;!?\n]")


@dataclass(frozen=True)
class MappedText:
    """A normalised model-input string traced to the report: one run per word,
    (offset in the string, offset in the report, length, section start, section end)."""

    text: str
    runs: list[tuple[int, int, int, int, int]]

    def locate(self, a: int, b: int) -> tuple[int, int, int, int] | None:
        """Report offsets and section bounds of string chars [a, b) (one word); None for a joiner."""
        i = bisect.bisect_right(self.runs, (a, 1 << 62)) - 1
        if i < 0:
            return None
        at, origin, length, lo, hi = self.runs[i]
        if a >= at + length:
            return None
        return origin + (a - at), origin + min(b, at + length) - at, lo, hi


def mapped_model_text(report: str, vocab: Vocabulary) -> tuple[MappedText, MappedText]:
    """`model_text` (impression, findings) with each word traced to the report."""
    texts: dict[str, list[str]] = {"IMPRESSION": [], "FINDINGS": []}
    runs: dict[str, list[tuple[int, int, int, int, int]]] = {"IMPRESSION": [], "FINDINGS": []}
    sizes = {"IMPRESSION": 0, "FINDINGS": 0}
    for section in labelled_sections(report, vocab):
        kind = "IMPRESSION" if section.name == "IMPRESSION" else "FINDINGS"
        words = [(m.group(), m.start()) for m in re.finditer(r"\S+", report[section.start : section.end])]
        body = " ".join(w for w, _ in words)
        if texts[kind]:  # sections of one kind are joined by a space, as model_text does
            sizes[kind] += 1
        at = sizes[kind]
        for word, offset in words:
            runs[kind].append((at, section.start + offset, len(word), section.start, section.end))
            at += len(word) + 1
        texts[kind].append(body)
        sizes[kind] += len(body)
    impression = MappedText(" ".join(texts["IMPRESSION"]), runs["IMPRESSION"])
    findings = MappedText(" ".join(texts["FINDINGS"]), runs["FINDINGS"])
    if body_first(impression.text, findings.text)[0] != impression.text:  # a lone impression is the body
        return MappedText("", []), impression
    return impression, findings


def _clause(
    report: str, start: int, end: int, lo: int, hi: int, stops: list[int] | None = None
) -> tuple[int, int]:
    """Widen [start, end) to its sentence within [lo, hi), or to its comma clause when long.

    Args:
        stops: offsets of the report's sentence terminators, sorted (found here when None;
            `clauses` finds them once per report instead of once per token).
    """
    if stops is None:
        stops = [m.start() for m in _SENTENCE_END.finditer(report)]
    before = bisect.bisect_left(stops, start) - 1
    left = stops[before] + 1 if before >= 0 and stops[before] >= lo else lo
    after = bisect.bisect_left(stops, end)
    right = stops[after] + 1 if after < len(stops) and stops[after] < hi else hi
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


def clauses(encoder: ReportEncoder, reports: Sequence[str]) -> list[Clauses]:
    """Trace every model input position of each report to its clause (same truncation as `ids`)."""
    mapped = [mapped_model_text(r, encoder.vocab) for r in reports]
    enc = encoder.encodings(reports)  # the mapped texts are model_text's: the same tokens
    return [_clauses(encoder, reports[i], mapped[i], *enc[i]) for i in range(len(reports))]


def _clauses(
    encoder: ReportEncoder, report: str, mapped: tuple[MappedText, MappedText], enc_imp: Any, enc_fin: Any
) -> Clauses:
    budget = encoder.max_length - 3
    k_imp = min(len(enc_imp.ids), budget)
    k_fin = min(len(enc_fin.ids), max(0, budget - k_imp))
    index: dict[tuple[int, int, str], int] = {}
    of_position = [-1]
    stops = [m.start() for m in _SENTENCE_END.finditer(report)]

    def trace(text: MappedText, offsets: list[tuple[int, int]], section: str) -> None:
        for a, b in offsets:
            found = text.locate(a, b)
            if found is None or not any(ch.isalnum() for ch in text.text[a:b]):  # joiner or punctuation
                of_position.append(-1)
                continue
            start, end, lo, hi = found
            key = (*_clause(report, start, end, lo, hi, stops), section)
            of_position.append(index.setdefault(key, len(index)))

    trace(mapped[0], enc_imp.offsets[:k_imp].tolist(), "IMPRESSION")
    of_position.append(-1)
    trace(mapped[1], enc_fin.offsets[:k_fin].tolist(), "FINDINGS")
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
