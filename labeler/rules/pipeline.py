"""The spaCy pipeline of the rule labeler: blank English, sentencizer, two radlabel components.

No model download: `spacy.blank("en")` plus the rule-based sentencizer. The components are
registered factories configured by arguments, holding no module state.
"""

from __future__ import annotations

from dataclasses import dataclass

import spacy
from spacy.language import Language
from spacy.tokens import Doc

from labeler.rules.context import assign
from labeler.rules.vocab import Vocabulary, load_vocabulary
from labeler.sections import split_sections

HITS_KEY = "radlabel_hits"


@dataclass(frozen=True)
class SectionHit:
    """A finding mention with its certainty, its report offsets and its section."""

    finding: str
    u: int
    start: int
    end: int
    section: str


class Sectionizer:
    """Marks report sections as `doc.spans["sections"]` and starts a sentence at each one."""

    def __init__(self, vocab: Vocabulary) -> None:
        self.vocab = vocab

    def __call__(self, doc: Doc) -> Doc:
        spans = []
        for section in split_sections(doc.text, self.vocab):
            span = doc.char_span(section.start, section.end, label=section.name, alignment_mode="expand")
            if span is None or len(span) == 0:
                continue
            span[0].is_sent_start = True
            spans.append(span)
        doc.spans["sections"] = spans
        return doc


class ContextTagger:
    """Finds finding mentions in labelled sections and assigns each a certainty."""

    def __init__(self, vocab: Vocabulary) -> None:
        self.vocab = vocab

    def __call__(self, doc: Doc) -> Doc:
        hits: list[SectionHit] = []
        labelled = set(self.vocab.sections.labelled)
        for section in doc.spans["sections"]:
            if section.label_ not in labelled:
                continue
            for sent in section.sents:
                start = max(sent.start_char, section.start_char)
                end = min(sent.end_char, section.end_char)
                for h in assign(doc.text[start:end], self.vocab):
                    hits.append(SectionHit(h.finding, h.u, start + h.start, start + h.end, section.label_))
        doc.user_data[HITS_KEY] = hits
        return doc


@Language.factory("radlabel_sectionizer")
def make_sectionizer(nlp: Language, name: str) -> Sectionizer:
    """spaCy factory of the sectionizer (packaged section headers)."""
    return Sectionizer(load_vocabulary())


@Language.factory("radlabel_context")
def make_context(nlp: Language, name: str) -> ContextTagger:
    """spaCy factory of the certainty tagger (packaged mention and cue vocabulary)."""
    return ContextTagger(load_vocabulary())


def build_pipeline() -> Language:
    """A blank English pipeline with sentencizer, sectionizer and certainty tagger.

    Returns:
        The spaCy pipeline.
    """
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer", config={"punct_chars": [".", "!", "?", ";", "\n"]})
    nlp.add_pipe("radlabel_sectionizer")
    nlp.add_pipe("radlabel_context")
    return nlp
