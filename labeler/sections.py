"""Split a report into its sections (INDICATION, FINDINGS, IMPRESSION, ...).

Only FINDINGS and IMPRESSION are labelled, and the IMPRESSION governs a conflict, so both
the rule labeler and the model need the same split; it lives here, outside either of them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from labeler.rules.vocab import Vocabulary, load_vocabulary, matched_group


@dataclass(frozen=True)
class Section:
    """A section of a report: its canonical name and the character span of its body."""

    name: str
    start: int
    end: int

    def text(self, report: str) -> str:
        """The section body taken from the report text."""
        return report[self.start : self.end]


_FIRST_LINE = re.compile(r"[^\n]*?(?:[.!?](?=\s)|\n|$)")


def split_sections(text: str, vocab: Vocabulary | None = None) -> list[Section]:
    """Split a report at its section headers (see `Vocabulary.header_regex` for the layouts).

    A report with no recognised header is one FINDINGS section (a bare findings paragraph, the
    usual shape of a single-column CSV export). Text before the first header is an `UNKNOWN`
    section, not labelled. A report whose headers name no labelled section (only an indication,
    say) is read as body apart from its context: the first line (or sentence, when flattened)
    of its last context section stays context, the rest becomes FINDINGS, and so does UNKNOWN.
    A report with an IMPRESSION but no FINDINGS header (`History: ...` then the findings
    paragraph, or organ headings such as `Lungs:` that name no section, then `Impression:`) has
    its body on the lines after the first of its leading text or last context section: those
    lines become FINDINGS. A one-line history or indication stays context, so an
    indication + impression report reads as its impression alone.

    Args:
        text: the report.
        vocab: the rule vocabulary (packaged default when None).

    Returns:
        Sections in text order.
    """
    vocab = vocab or load_vocabulary()
    matches = [m for m in vocab.header_regex.finditer(text) if _is_header(m, vocab)]
    if not matches:
        return [Section("FINDINGS", 0, len(text))]
    sections: list[Section] = []
    if text[: matches[0].start()].strip():
        sections.append(Section("UNKNOWN", 0, matches[0].start()))
    for i, m in enumerate(matches):
        name = vocab.sections.headers[matched_group(m)[1]].name
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        sections.append(Section(name, m.end(), end))
    if any(s.name == "FINDINGS" for s in sections):
        return sections
    if any(s.name in vocab.sections.labelled for s in sections):
        return _body_lines_before_impression(text, sections, vocab)
    return _body_from_context(text, sections, vocab)


def _is_header(match: re.Match[str], vocab: Vocabulary) -> bool:
    """A match at a line start, after a sentence end or alone on its line is a header; one in
    the middle of a line only in capitals (`... chest pain COMPARISON: XXXX`), or capitalized
    when it names a labelled section (`... cough Findings: ...`): a lower-case word (`no change
    in findings: stable`) and a capitalized context word (`Chest Comparison: a mass`) stay text."""
    layout, index = matched_group(match)
    if layout != "m":
        return True
    word = match.group(f"m{index}")
    name = vocab.sections.headers[index].name
    return word.isupper() or (word[:1].isupper() and name in vocab.sections.labelled)


def _body_lines_before_impression(text: str, sections: list[Section], vocab: Vocabulary) -> list[Section]:
    """Sections of a report with an IMPRESSION but no FINDINGS: lines after the first of the
    leading text and of the last context section before the impression are body."""
    first_labelled = next(i for i, s in enumerate(sections) if s.name in vocab.sections.labelled)
    lead = [i for i, s in enumerate(sections[:first_labelled]) if s.name == "UNKNOWN"]
    context = [i for i, s in enumerate(sections[:first_labelled]) if s.name in vocab.sections.context]
    split = set(lead + context[-1:])
    flat = "\n" not in text.strip()
    out: list[Section] = []
    for i, s in enumerate(sections):
        body = text[s.start : s.end]
        start = len(body) - len(body.lstrip())  # a header alone on its line: its body starts below
        if flat:  # flattened onto one line: its first sentence stands for the first line
            first = _FIRST_LINE.match(body, start)
            cut = first.end() if first and first.end() < len(body.rstrip()) else -1
        else:
            cut = body.find("\n", start)
        if i not in split or cut < 0 or not body[cut:].strip():
            out.append(s)
            continue
        out.append(Section(s.name, s.start, s.start + cut))
        out.append(Section("FINDINGS", s.start + cut, s.end))
    return out


def _body_from_context(text: str, sections: list[Section], vocab: Vocabulary) -> list[Section]:
    """Sections of a report with no labelled header: context keeps its first line, the rest is body."""
    out: list[Section] = []
    last_context = max((i for i, s in enumerate(sections) if s.name in vocab.sections.context), default=None)
    for i, s in enumerate(sections):
        if s.name == "UNKNOWN":
            out.append(Section("FINDINGS", s.start, s.end))
        elif i == last_context:
            body = text[s.start : s.end]
            lead = len(body) - len(body.lstrip())
            first = _FIRST_LINE.match(body, lead)
            cut = s.start + (first.end() if first else len(body))
            out.append(Section(s.name, s.start, cut))
            if text[cut : s.end].strip():
                out.append(Section("FINDINGS", cut, s.end))
        else:
            out.append(s)
    return out


def has_body(text: str, vocab: Vocabulary | None = None) -> bool:
    """True when the report has FINDINGS or IMPRESSION text to label."""
    return any(s.text(text).strip() for s in labelled_sections(text, vocab))


def labelled_sections(text: str, vocab: Vocabulary | None = None) -> list[Section]:
    """The sections that carry labels (FINDINGS and IMPRESSION), in text order."""
    vocab = vocab or load_vocabulary()
    return [s for s in split_sections(text, vocab) if s.name in vocab.sections.labelled]
