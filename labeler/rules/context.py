"""ConText-style certainty assignment on the 7-level scale, within one sentence.

NegEx/ConText decide negated / uncertain / affirmed; LABELS.md needs seven levels, so each cue
here carries the u it implies ("no" -3, "no large" -2, "cannot be excluded" -1, "possible"
+1, "likely" +2) and the side of the mention it reaches. A cue's scope ends at the sentence
end or at a terminator ("but", "however", ";" ...). Two labelled findings offered as
alternatives ("atelectasis versus pneumonia") are 0 each, as the guide says.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from labeler.rules.vocab import CueRule, Vocabulary, matched_group

_ALTERNATIVE = re.compile(r"^[\s,]*(?:versus|vs\.?|or|and/or|/)\s*(?:[\w-]+\s+){0,3}$")


@dataclass(frozen=True)
class Hit:
    """One finding mention in a sentence with the certainty assigned to it."""

    finding: str
    u: int
    start: int
    end: int
    cue: str | None


@dataclass(frozen=True)
class _Mention:
    findings: dict[str, int]
    fixed: bool
    start: int
    end: int


@dataclass(frozen=True)
class _Cue:
    rule: CueRule
    start: int
    end: int


def _group_index(match: re.Match[str]) -> int:
    return matched_group(match)[1]


def find_mentions(sentence: str, vocab: Vocabulary) -> list[_Mention]:
    """Mention spans in a lower-cased sentence, in text order."""
    out = []
    for m in vocab.mention_regex.finditer(sentence):
        rule = vocab.mentions.patterns[_group_index(m)]
        out.append(_Mention(rule.findings, rule.fixed, m.start(), m.end()))
    return out


def find_cues(sentence: str, vocab: Vocabulary, mentions: list[_Mention]) -> list[_Cue]:
    """Cue spans in a lower-cased sentence, skipping cues inside a mention."""
    out = []
    for m in vocab.cue_regex.finditer(sentence):
        if any(x.start <= m.start() < x.end for x in mentions):
            continue
        out.append(_Cue(vocab.cues.cues[_group_index(m)], m.start(), m.end()))
    return out


def _blocked(sentence: str, start: int, end: int, vocab: Vocabulary) -> bool:
    return start < end and vocab.terminator_regex.search(sentence, start, end) is not None


def _nearest_cue(
    sentence: str, index: int, mentions: list[_Mention], cues: list[_Cue], vocab: Vocabulary
) -> tuple[_Cue, int] | None:
    """The nearest cue reaching mention `index`, and the certainty it gives that mention."""
    mention = mentions[index]
    best: tuple[int, _Cue] | None = None
    for cue in cues:
        if cue.rule.direction == "forward" and cue.end <= mention.start:
            gap_start, gap_end = cue.end, mention.start
        elif cue.rule.direction == "backward" and cue.start >= mention.end:
            gap_start, gap_end = mention.end, cue.start
        else:
            continue
        if _blocked(sentence, gap_start, gap_end, vocab):
            continue
        if cue.rule.reach == "nearest" and any(gap_start <= m.start < gap_end for m in mentions):
            continue
        distance = gap_end - gap_start
        if best is None or distance < best[0]:
            best = (distance, cue)
    if best is None:
        return None
    cue = best[1]
    u = cue.rule.u
    if cue.rule.beyond_first is not None and cue.rule.direction == "forward":
        between = [m for m in mentions[:index] if m.start >= cue.end]
        if between:
            u = cue.rule.beyond_first
    return cue, u


def _alternatives(sentence: str, mentions: list[_Mention]) -> set[int]:
    """Indices of mentions offered as alternatives to a mention of another finding."""
    paired: set[int] = set()
    for i in range(len(mentions) - 1):
        a, b = mentions[i], mentions[i + 1]
        if set(a.findings) & set(b.findings) or a.fixed or b.fixed:
            continue
        if _ALTERNATIVE.match(sentence[a.end : b.start]):
            paired.update((i, i + 1))
    return paired


def assign(sentence: str, vocab: Vocabulary) -> list[Hit]:
    """Assign a certainty to every finding mention in one sentence.

    Args:
        sentence: the sentence text (any case; matching is on the lower-cased text, so
            offsets are those of the given string).
        vocab: the rule vocabulary.

    Returns:
        One hit per (mention, finding), in text order.
    """
    lowered = sentence.lower()
    mentions = find_mentions(lowered, vocab)
    if not mentions:
        return []
    cues = find_cues(lowered, vocab, mentions)
    alternatives = _alternatives(lowered, mentions)
    hits: list[Hit] = []
    for i, mention in enumerate(mentions):
        found = None if mention.fixed else _nearest_cue(lowered, i, mentions, cues, vocab)
        cue, cue_u = found if found else (None, None)
        for finding, base in mention.findings.items():
            if mention.fixed or cue_u is None:
                u = 0 if (i in alternatives and not mention.fixed) else base
            elif cue_u < 0:
                u = cue_u
            elif i in alternatives:
                u = 0
            else:
                u = min(base, cue_u)
            text = sentence[cue.start : cue.end] if cue else None
            hits.append(Hit(finding, u, mention.start, mention.end, text))
    return hits
