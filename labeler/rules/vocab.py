"""Packaged rule vocabulary: mention patterns, certainty cues and section headers.

The vocabulary is data (JSON inside `labeler.resources`), validated with strict pydantic
models, so a typo in a key fails at load time instead of silently matching nothing.
"""

from __future__ import annotations

import json
import re
from functools import cached_property, lru_cache
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator

from labeler.schema import U_VALUES


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_regex(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"bad regular expression {pattern!r}: {exc}") from exc
    return pattern


class MentionRule(_Strict):
    """A pattern that mentions one or more findings, with the certainty it states by itself."""

    findings: dict[str, int]
    pattern: str
    fixed: bool = False

    @field_validator("pattern")
    @classmethod
    def _regex(cls, v: str) -> str:
        return _check_regex(v)

    @field_validator("findings")
    @classmethod
    def _scale(cls, v: dict[str, int]) -> dict[str, int]:
        if not v or any(u not in U_VALUES for u in v.values()):
            raise ValueError(f"finding certainties must be in -3..3: {v}")
        return v


class CueRule(_Strict):
    """A ConText-style cue: a pattern, the certainty it sets and the side it reaches."""

    u: int
    direction: Literal["forward", "backward"]
    pattern: str
    reach: Literal["all", "nearest"] = "all"
    """`nearest`: the cue bears only on the mention next to it ("atelectasis or scarring")."""
    beyond_first: int | None = None
    """Certainty for mentions after the nearest one in scope ("no large effusion or
    pneumothorax": the adjective bears on the first noun only, the "no" on all)."""

    @field_validator("pattern")
    @classmethod
    def _regex(cls, v: str) -> str:
        return _check_regex(v)


class MentionVocab(_Strict):
    """All mention rules, in priority order."""

    version: str
    comment: str = ""
    patterns: list[MentionRule]


class CueVocab(_Strict):
    """All cue rules, in priority order, and the terminators that end a cue's scope."""

    version: str
    comment: str = ""
    terminators: str
    cues: list[CueRule]


class SectionHeader(_Strict):
    """A section name and the header wording that introduces it."""

    name: str
    pattern: str


class SectionVocab(_Strict):
    """Section headers, which sections are labelled, and which one governs conflicts."""

    version: str
    labelled: list[str]
    governing: str
    context: list[str] = []
    """sections that only give context (indication, comparison): a report without a labelled
    section is read as body apart from its leading context line"""
    headers: list[SectionHeader]


class Vocabulary(BaseModel):
    """The loaded vocabulary with its combined, compiled regular expressions."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    mentions: MentionVocab
    cues: CueVocab
    sections: SectionVocab

    @cached_property
    def mention_regex(self) -> re.Pattern[str]:
        """One alternation of every mention pattern; group `m<i>` is rule i."""
        parts = [f"(?P<m{i}>{r.pattern})" for i, r in enumerate(self.mentions.patterns)]
        return re.compile(r"\b(?:" + "|".join(parts) + ")")

    @cached_property
    def cue_regex(self) -> re.Pattern[str]:
        """One alternation of every cue pattern; group `c<i>` is cue i."""
        parts = [f"(?P<c{i}>{c.pattern})" for i, c in enumerate(self.cues.cues)]
        return re.compile(r"(?<![\w-])(?:" + "|".join(parts) + r")(?![\w-])")

    @cached_property
    def terminator_regex(self) -> re.Pattern[str]:
        """Words that end a cue's scope."""
        return re.compile(self.cues.terminators)

    @cached_property
    def header_regex(self) -> re.Pattern[str]:
        """A section header, case-insensitive, in any of the layouts reports arrive in:

        - followed by a colon at the start of a line, or after the end of a sentence on the same
          line (reports flattened onto one line by CSV exports and HL7 feeds:
          `INDICATION: Cough. FINDINGS: ... IMPRESSION: ...`);
        - without a colon, alone on its line, or followed by a dash (`IMPRESSION` then a newline,
          `IMPRESSION - ...`);
        - followed by a colon in the middle of a line with no sentence end before it (group
          `m<i>`: flattened reports whose indication has no full stop, `... chest pain
          COMPARISON: XXXX FINDINGS: ...`). `split_sections` keeps such a match only where it is
          written in capitals or names a labelled section, so a mixed-case context word in a
          sentence (`... Chest Comparison: there is a mass`) does not cut the findings short.

        Group `c<i>`, `h<i>` or `m<i>` says which header i matched, and in which layout.
        """
        names = "|".join(f"(?P<h{i}>{h.pattern})" for i, h in enumerate(self.sections.headers))
        colon = r"(?:^|(?<=[.!?;])[ \t]+)[ \t]*(?:" + names.replace("(?P<h", "(?P<c") + r")[ \t]*:"
        middle = r"(?<=\S)[ \t]+(?:" + names.replace("(?P<h", "(?P<m") + r")[ \t]*:"
        bare = r"^[ \t]*(?:" + names + r")[ \t]*(?:[-\u2013\u2014][ \t]*|$)"
        return re.compile(f"(?im){colon}|{bare}|{middle}")


def matched_group(match: re.Match[str]) -> tuple[str, int]:
    """The named group a match of one of the combined regexes took: its letter prefix (the
    layout or kind) and the index of the rule it names."""
    group = next(g for g, v in match.groupdict().items() if v is not None)
    return group[0], int(group[1:])


def _read(name: str) -> object:
    ref = resources.files("labeler.resources").joinpath(name)
    return json.loads(ref.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def load_vocabulary() -> Vocabulary:
    """Load and compile the packaged rule vocabulary.

    Returns:
        The validated vocabulary.
    """
    return Vocabulary(
        mentions=MentionVocab.model_validate(_read("rules/mentions.json")),
        cues=CueVocab.model_validate(_read("rules/cues.json")),
        sections=SectionVocab.model_validate(_read("sections.json")),
    )


def with_sections(sections: SectionVocab | None) -> Vocabulary:
    """The packaged vocabulary with another section config (a model bundle's own), or as is."""
    base = load_vocabulary()
    if sections is None or sections == base.sections:
        return base
    return Vocabulary(mentions=base.mentions, cues=base.cues, sections=sections)
