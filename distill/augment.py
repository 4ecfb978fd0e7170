"""Sentence recombination: synthetic reports built from sentences of labelled reports.

Chest X-ray labels are mostly sentence-local ("No pneumothorax." decides pneumothorax alone),
so sentences of different reports can be recombined into new reports whose labels are the
union of the sentences' labels. A sentence owns a finding when the teacher's evidence quote
for that finding lies inside it. A sentence is usable only when it is clean: it owns findings
whose evidence it contains, and the rule vocabulary finds no other finding mention in it
(otherwise it may repeat a finding whose quote was taken from elsewhere). Synthetic reports
whose sentences disagree about a finding are not made. Only the FINDINGS section is written,
so the impression-governs rule never comes into play.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from distill.data import Examples, targets_from_u
from labeler.rules.context import assign
from labeler.rules.vocab import load_vocabulary
from labeler.schema import Schema
from labeler.sections import split_sections
from labeler.tokenize import model_text

_SENT = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class Sentence:
    """A clean sentence and the findings it decides."""

    text: str
    u: dict[str, int]


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def clean_sentences(text: str, u: dict[str, int], evidence: dict[str, str]) -> list[Sentence] | None:
    """Split one report into clean sentences, or None when its labels cannot be localised."""
    impression, findings = model_text(text)
    sentences = [s for s in _SENT.split(f"{findings} {impression}".strip()) if s.strip()]
    owners: dict[str, int] = {}
    for key, quote in evidence.items():
        first = _norm(quote.split("...")[0])
        where = [i for i, s in enumerate(sentences) if first and first in _norm(s)]
        if len(where) != 1 or key not in u:
            return None
        owners[key] = where[0]
    if set(u) - set(owners):
        return None
    vocab = load_vocabulary()
    out = []
    for i, sentence in enumerate(sentences):
        owned = {k: u[k] for k, j in owners.items() if j == i}
        mentioned = {h.finding for h in assign(sentence, vocab)}
        if mentioned - set(owned):
            continue
        out.append(Sentence(sentence.strip(), owned))
    return out


def load_sentence_pool(labels: Path, reports: dict[str, dict[str, str]], ids: set[str]) -> list[Sentence]:
    """Clean sentences of every decomposable training report with evidence quotes."""
    pool: list[Sentence] = []
    with labels.open(encoding="utf-8") as handle:
        for line in handle:
            obj = json.loads(line)
            rid = str(obj["id"])
            if rid not in ids or rid not in reports or "evidence" not in obj:
                continue
            found = clean_sentences(reports[rid]["text"], obj["u"], obj["evidence"])
            if found:
                pool.extend(found)
    return pool


def seed_weights(labelled: list[Sentence]) -> list[float]:
    """Sampling weight of each labelled sentence as the seed of a synthetic report.

    Each finding seeds about the same number of synthetic reports (rare findings such as
    hernia or pleural thickening are decided by a few dozen sentences in the whole corpus),
    and within a finding the certainty levels are drawn in proportion to the square root of
    their frequency, so hedged wording (u = -1..+2) is seen more often than in the corpus
    without a handful of rare sentences being repeated hundreds of times.
    """
    per_finding = Counter(k for s in labelled for k in s.u)
    per_level = Counter((k, u) for s in labelled for k, u in s.u.items())
    level_mass = Counter[str]()
    for (k, _), n in per_level.items():
        level_mass[k] += n**0.5
    findings = len(per_finding)

    def p_seed(k: str, u: int) -> float:
        # P(finding) * P(level | finding) / sentences at that level
        n = per_level[(k, u)]
        return float((1 / findings) * (n**0.5 / level_mass[k]) / n)

    return [max(p_seed(k, u) for k, u in s.u.items()) for s in labelled]


def synthesize(
    pool: list[Sentence], n: int, seed: int, max_sentences: int = 6
) -> list[tuple[str, dict[str, int]]]:
    """Make n synthetic (text, u) reports from the sentence pool (rare findings seeded evenly)."""
    rng = random.Random(seed)
    labelled = [s for s in pool if s.u]
    weights = seed_weights(labelled)
    out: list[tuple[str, dict[str, int]]] = []
    attempts = 0
    while len(out) < n and attempts < n * 20 and labelled:
        attempts += 1
        k = rng.randint(2, max_sentences)
        chosen = rng.choices(labelled, weights=weights) + [rng.choice(pool) for _ in range(k - 1)]
        u: dict[str, int] = {}
        ok = True
        for s in chosen:
            for key, val in s.u.items():
                if u.get(key, val) != val:
                    ok = False
                u[key] = val
        if not ok:
            continue
        rng.shuffle(chosen)
        out.append(("FINDINGS: " + " ".join(s.text for s in chosen), u))
    return out


def add_synthetic(
    examples: Examples,
    pool: list[Sentence],
    ratio: float,
    seed: int,
    schema: Schema,
    n_real: int | None = None,
) -> Examples:
    """Append ratio * n_real synthetic reports drawn from a sentence pool.

    Args:
        n_real: how many real reports the ratio counts (len(examples) when None).

    Returns:
        The real examples followed by the synthetic ones (ids `aug-<n>`).
    """
    synthetic = synthesize(pool, int(ratio * (len(examples.ids) if n_real is None else n_real)), seed)
    if not synthetic:
        return examples
    extra = np.stack([targets_from_u(dict(u), schema) for _, u in synthetic])
    return Examples(
        ids=examples.ids + [f"aug-{i}" for i in range(len(synthetic))],
        texts=examples.texts + [t for t, _ in synthetic],
        targets=np.concatenate([examples.targets, extra]),
    )


def recombine(
    examples: Examples,
    ratio: float,
    seed: int,
    schema: Schema,
    labels: Path,
    reports: dict[str, dict[str, str]],
) -> Examples:
    """Append ratio * len(examples) synthetic reports built from clean sentences.

    Args:
        examples: the real training examples.
        ratio: synthetic reports per real report.
        seed: RNG seed.
        schema: the label schema.
        labels: teacher JSONL with evidence quotes.
        reports: id -> report record of the training split.

    Returns:
        The real examples followed by the synthetic ones (ids `aug-<n>`).
    """
    pool = load_sentence_pool(labels, reports, set(examples.ids))
    return add_synthetic(examples, pool, ratio, seed, schema)


def impression_cut(
    text: str, u: dict[str, int], evidence: dict[str, str]
) -> tuple[str, dict[str, int]] | None:
    """A short training report made from a full one: its indication line and IMPRESSION only.

    Archives hold many reports like this (history + impression), and a student that only saw
    full reports learns to emit the usual negatives of a normal report for them. A finding keeps
    its label when a part of its evidence quote lies in the impression; every other finding
    becomes not mentioned. The cut is refused (None) when the report has no impression, a label
    has no quote, or the rule vocabulary finds a mention in the impression that no kept label
    accounts for (the quote was taken from elsewhere, so the cut's labels would be wrong).
    """
    sections = split_sections(text)
    impression = " ".join(" ".join(s.text(text).split()) for s in sections if s.name == "IMPRESSION")
    if not impression:
        return None
    kept = _norm(impression)
    labels: dict[str, int] = {}
    for key, value in u.items():
        quote = evidence.get(key)
        if not quote:
            return None
        if any(_norm(part) in kept for part in quote.split("...") if part.strip()):
            labels[key] = value
    vocab = load_vocabulary()
    mentioned = {h.finding for s in _SENT.split(impression) for h in assign(s, vocab)}
    if mentioned - set(labels):
        return None
    indication = next((s for s in sections if s.name == "INDICATION"), None)
    lines = []
    if indication is not None:
        first = indication.text(text).strip().splitlines()
        if first and first[0].strip():
            lines.append(f"INDICATION: {first[0].strip()}")
    lines.append(f"IMPRESSION: {impression}")
    return "\n".join(lines), labels


def add_impression_cuts(
    examples: Examples,
    labels: list[Path],
    reports: dict[str, dict[str, str]],
    ratio: float,
    seed: int,
    schema: Schema,
) -> Examples:
    """Append impression-only cuts of up to ratio * len(examples) training reports (ids `cut-<id>`)."""
    rng = random.Random(seed)
    ids = set(examples.ids)
    cuts: list[tuple[str, str, dict[str, int]]] = []
    for path in labels:
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                obj = json.loads(line)
                rid = str(obj["id"])
                if rid in ids and rid in reports and "evidence" in obj:
                    made = impression_cut(reports[rid]["text"], obj["u"], obj["evidence"])
                    if made is not None:
                        cuts.append((rid, *made))
    rng.shuffle(cuts)
    cuts = cuts[: int(ratio * len(examples.ids))]
    if not cuts:
        return examples
    extra = np.stack([targets_from_u(dict(u), schema) for _, _, u in cuts])
    return Examples(
        ids=examples.ids + [f"cut-{rid}" for rid, _, _ in cuts],
        texts=examples.texts + [t for _, t, _ in cuts],
        targets=np.concatenate([examples.targets, extra]),
    )


# Other names the same sections go by, and the layouts exports deliver them in: a student that
# only saw `FINDINGS:` at the start of a line fails on `Report: ... Conclusion: ...` on one line.
HEADER_NAMES = {
    "INDICATION": ["INDICATION", "Clinical history", "HISTORY", "Reason for exam"],
    "COMPARISON": ["COMPARISON", "Comparison", "PRIOR STUDIES"],
    "TECHNIQUE": ["TECHNIQUE", "EXAM", "Examination"],
    "FINDINGS": ["FINDINGS", "Findings", "REPORT", "Report"],
    "IMPRESSION": ["IMPRESSION", "Impression", "CONCLUSION", "Conclusion", "OPINION", "Comment", "SUMMARY"],
}


def relayout(text: str, rng: random.Random) -> str | None:
    """The same report with other section names and another layout (labels unchanged).

    Layouts: one line (`INDICATION: ... FINDINGS: ... IMPRESSION: ...`, as CSV exports and HL7
    feeds give them), headings alone on their line, or headings with a colon on their line. A
    report without headings is one FINDINGS section and gets a heading. None for an empty one.
    """
    sections = [s for s in split_sections(text) if s.name != "UNKNOWN"]
    if not sections:
        return None
    style = rng.choice(["flat", "own_line", "colon"])
    parts = []
    for s in sections:
        body = " ".join(s.text(text).split())
        name = rng.choice(HEADER_NAMES.get(s.name, [s.name]))
        if style == "flat":
            parts.append(f"{name}: {body}")
        elif style == "own_line":
            parts.append(f"{name.upper()}\n{body}")
        else:
            parts.append(f"{name}: {body}")
    return (" " if style == "flat" else "\n").join(parts)


def add_relayouts(examples: Examples, ratio: float, seed: int) -> Examples:
    """Append re-headed / re-laid-out copies of up to ratio * len(examples) reports (ids `lay-<id>`)."""
    rng = random.Random(seed)
    picks = list(range(len(examples.ids)))
    rng.shuffle(picks)
    ids: list[str] = []
    texts: list[str] = []
    rows: list[np.ndarray] = []
    for i in picks:
        if len(ids) >= int(ratio * len(examples.ids)):
            break
        made = relayout(examples.texts[i], rng)
        if made is None or made == examples.texts[i]:
            continue
        ids.append(f"lay-{examples.ids[i]}")
        texts.append(made)
        rows.append(examples.targets[i])
    if not ids:
        return examples
    return Examples(
        examples.ids + ids, examples.texts + texts, np.concatenate([examples.targets, np.stack(rows)])
    )
