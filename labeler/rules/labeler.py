"""The rule labeler: baseline, fallback when no model is present, and cheap teacher."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from spacy.language import Language

from labeler.assemble import build_record
from labeler.base import DEFAULT_MAX_CHARS, check_request
from labeler.records import Evidence, Report, ReportLabels
from labeler.rules.pipeline import HITS_KEY, SectionHit, build_pipeline
from labeler.rules.vocab import load_vocabulary
from labeler.schema import Schema, load_schema
from labeler.sections import has_body

RULES_VERSION = "1"


def resolve(hits: Sequence[SectionHit], governing: str) -> dict[str, list[SectionHit]]:
    """Pick, per finding, the hits that decide it.

    The governing section (IMPRESSION) wins when it mentions the finding; within the chosen
    section the most positive certainty wins, as CheXpert merges mentions.

    Args:
        hits: every mention of the report.
        governing: the section that governs conflicts.

    Returns:
        finding -> the deciding hits (all with the same u).
    """
    by_finding: dict[str, list[SectionHit]] = defaultdict(list)
    for hit in hits:
        by_finding[hit.finding].append(hit)
    out: dict[str, list[SectionHit]] = {}
    for finding, found in by_finding.items():
        governed = [h for h in found if h.section == governing] or found
        best = max(h.u for h in governed)
        out[finding] = [h for h in governed if h.u == best]
    return out


class RuleLabeler:
    """Labels reports with spaCy sentence splitting and ConText-style certainty cues."""

    def __init__(self, schema: Schema | None = None, max_chars: int = DEFAULT_MAX_CHARS) -> None:
        self.schema = schema or load_schema()
        self.max_chars = max_chars
        self.vocab = load_vocabulary()
        self.nlp: Language = build_pipeline()

    @property
    def name(self) -> str:
        """Name and version of this labeler."""
        return f"rules/{RULES_VERSION}"

    def health(self) -> bool:
        """The pipeline is built in the constructor, so a constructed labeler is healthy."""
        return True

    def label(
        self,
        reports: Sequence[Report],
        views: Sequence[str] = (),
        mapping: str = "default",
    ) -> list[ReportLabels]:
        """Label reports.

        Args:
            reports: the batch.
            views: view names to add to each record.
            mapping: status mapping name.

        Returns:
            One record per report, in input order.

        Raises:
            InvalidInput: empty text, unknown view or mapping.
            InputTooLong: a report over the character limit.
        """
        check_request(reports, self.schema, views, mapping, self.max_chars)
        known = set(self.schema.keys)
        out = []
        for report, doc in zip(reports, self.nlp.pipe(r.text for r in reports), strict=True):
            decided = resolve(doc.user_data[HITS_KEY], self.vocab.sections.governing)
            u = {k: hits[0].u for k, hits in decided.items() if k in known}
            evidence = {
                k: [
                    Evidence(start=h.start, end=h.end, text=report.text[h.start : h.end], section=h.section)
                    for h in hits
                ]
                for k, hits in decided.items()
                if k in known
            }
            body = has_body(report.text, self.vocab)
            out.append(
                build_record(report.id, u, self.schema, self.name, evidence, None, views, mapping, body)
            )
        return out
