"""Split a report into its sections (INDICATION, FINDINGS, IMPRESSION, ...).

Only FINDINGS and IMPRESSION are labelled, and the IMPRESSION governs a conflict, so both
the rule labeler and the model need the same split; it lives here, outside either of them.
"""

from __future__ import annotations

from dataclasses import dataclass

from labeler.rules.vocab import Vocabulary, load_vocabulary


@dataclass(frozen=True)
class Section:
    """A section of a report: its canonical name and the character span of its body."""

    name: str
    start: int
    end: int

    def text(self, report: str) -> str:
        """The section body taken from the report text."""
        return report[self.start : self.end]


def split_sections(text: str, vocab: Vocabulary | None = None) -> list[Section]:
    """Split a report at its section headers.

    A report with no recognised header is treated as one FINDINGS section (a bare findings
    paragraph, the usual shape of a single-column CSV export). Text before the first header
    is dropped into an `UNKNOWN` section that is not labelled.

    Args:
        text: the report.
        vocab: the rule vocabulary (packaged default when None).

    Returns:
        Sections in text order.
    """
    vocab = vocab or load_vocabulary()
    matches = list(vocab.header_regex.finditer(text))
    if not matches:
        return [Section("FINDINGS", 0, len(text))]
    sections: list[Section] = []
    if text[: matches[0].start()].strip():
        sections.append(Section("UNKNOWN", 0, matches[0].start()))
    for i, m in enumerate(matches):
        group = next(g for g, v in m.groupdict().items() if v is not None)
        name = vocab.sections.headers[int(group[1:])].name
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        sections.append(Section(name, m.end(), end))
    return sections


def labelled_sections(text: str, vocab: Vocabulary | None = None) -> list[Section]:
    """The sections that carry labels (FINDINGS and IMPRESSION), in text order."""
    vocab = vocab or load_vocabulary()
    return [s for s in split_sections(text, vocab) if s.name in vocab.sections.labelled]
