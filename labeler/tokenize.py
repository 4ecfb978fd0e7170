"""Turn a report into model input ids, identically for training and serving.

The model reads only the labelled sections, IMPRESSION first and FINDINGS second:
`[CLS] impression [SEP] findings [SEP]`. When a report is longer than `max_length`, the
FINDINGS are cut from the end; the IMPRESSION, which governs conflicts, is kept whole unless
it alone exceeds the limit (then it is cut too, and nothing of the findings remains). Batches
are padded to their longest member, not to max_length: IU reports average ~50 tokens.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from tokenizers import Tokenizer

from labeler.errors import InvalidInput, ModelLoadError
from labeler.rules.vocab import Vocabulary, load_vocabulary
from labeler.sections import labelled_sections

SPECIAL = {"pad": "[PAD]", "cls": "[CLS]", "sep": "[SEP]", "unk": "[UNK]", "mask": "[MASK]"}


def model_text(report: str, vocab: Vocabulary | None = None) -> tuple[str, str]:
    """The (impression, findings) text pair the model reads from a report.

    Args:
        report: the report text.
        vocab: whose section headers split it (a bundle's own; the packaged ones when None).
    """
    impression: list[str] = []
    findings: list[str] = []
    for section in labelled_sections(report, vocab):
        body = " ".join(section.text(report).split())
        (impression if section.name == "IMPRESSION" else findings).append(body)
    return body_first(" ".join(impression), " ".join(findings))


def body_first(impression: str, findings: str) -> tuple[str, str]:
    """The pair with a lone impression moved into the body slot.

    An impression-only report (history + impression, the common short form) read as an
    impression with an empty body made the student emit the usual negatives of a normal body
    ("no effusion, normal heart size") that the text never states: with full reports, an empty
    body slot never occurs beside a normal impression. Read as a body it mentions only what it
    says (impression-only dev: spurious mentions 0.315 -> 0.034 per report, BENCHMARKS.md).
    """
    return ("", impression) if impression and not findings else (impression, findings)


@dataclass(frozen=True)
class Encoded:
    """One model-input text's tokens: ids and character offsets in that text (compact arrays)."""

    ids: npt.NDArray[np.int32]
    offsets: npt.NDArray[np.int32]
    """[tokens, 2] start and end in the text"""


@dataclass(frozen=True)
class Batch:
    """Padded model inputs and how many tokens each report lost to truncation."""

    input_ids: npt.NDArray[np.int64]
    attention_mask: npt.NDArray[np.int64]
    truncated: list[int]


class ReportEncoder:
    """A `tokenizers` tokenizer plus the section layout and truncation policy above."""

    def __init__(
        self,
        tokenizer: Tokenizer,
        max_length: int = 256,
        special: dict[str, str] | None = None,
        vocab: Vocabulary | None = None,
    ) -> None:
        if max_length < 8:
            raise InvalidInput("max_length must be at least 8")
        self.tokenizer = tokenizer
        self.vocab = vocab or load_vocabulary()  # its section headers decide what the model reads
        self.tokenizer.no_padding()
        self.tokenizer.no_truncation()
        self.max_length = max_length
        names = special or SPECIAL
        ids = {k: tokenizer.token_to_id(v) for k, v in names.items()}
        absent = [names[k] for k in ("pad", "cls", "sep") if ids.get(k) is None]
        if absent:
            raise ModelLoadError(f"tokenizer lacks special tokens {absent}")
        # A served report is encoded up to three times (the batcher's length count, the model
        # input, the evidence offsets); the cache makes that one tokenizer call. Keyed by text,
        # bounded, shared by the threads that submit and the one that runs.
        self._cache: OrderedDict[str, tuple[Encoded, Encoded]] = OrderedDict()
        self._cache_lock = threading.Lock()
        self.cache_size = 2048
        self.pad_id = int(ids["pad"])  # type: ignore[arg-type]
        self.cls_id = int(ids["cls"])  # type: ignore[arg-type]
        self.sep_id = int(ids["sep"])  # type: ignore[arg-type]
        self.mask_id = ids.get("mask")

    @classmethod
    def from_file(
        cls,
        path: Path,
        max_length: int = 256,
        special: dict[str, str] | None = None,
        vocab: Vocabulary | None = None,
    ) -> ReportEncoder:
        """Load `tokenizer.json`.

        Raises:
            ModelLoadError: the file is missing or not a tokenizer.
        """
        try:
            tok = Tokenizer.from_file(str(path))
        except Exception as exc:  # tokenizers raises a bare Exception on bad files
            raise ModelLoadError(f"cannot load tokenizer {path}: {exc}") from exc
        return cls(tok, max_length, special, vocab)

    def encodings(self, reports: Sequence[str]) -> list[tuple[Encoded, Encoded]]:
        """(impression, findings) tokens of each report's `model_text`, untruncated."""
        with self._cache_lock:
            found = {r: self._cache[r] for r in reports if r in self._cache}
            for r in found:
                self._cache.move_to_end(r)
        missing = list(dict.fromkeys(r for r in reports if r not in found))
        if missing:
            pairs = [model_text(r, self.vocab) for r in missing]
            flat = [p[0] for p in pairs] + [p[1] for p in pairs]
            enc = self.tokenizer.encode_batch(flat, add_special_tokens=False)
            n = len(missing)
            made = {r: (_compact(enc[i]), _compact(enc[n + i])) for i, r in enumerate(missing)}
            found.update(made)
            with self._cache_lock:
                self._cache.update(made)
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        return [found[r] for r in reports]

    def ids(self, reports: Sequence[str]) -> tuple[list[list[int]], list[int]]:
        """Unpadded ids per report and the number of tokens truncated from each."""
        out, cut = [], []
        budget = self.max_length - 3
        for enc_imp, enc_fin in self.encodings(reports):
            imp, fin = enc_imp.ids.tolist(), enc_fin.ids.tolist()
            keep_imp = imp[:budget]
            keep_fin = fin[: max(0, budget - len(keep_imp))]
            cut.append(len(imp) + len(fin) - len(keep_imp) - len(keep_fin))
            out.append([self.cls_id, *keep_imp, self.sep_id, *keep_fin, self.sep_id])
        return out, cut

    def pad(self, ids: Sequence[Sequence[int]]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Pad id lists to the longest one; returns (input_ids, attention_mask)."""
        width = max(len(x) for x in ids)
        input_ids = np.full((len(ids), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(ids), width), dtype=np.int64)
        for row, seq in enumerate(ids):
            input_ids[row, : len(seq)] = seq
            mask[row, : len(seq)] = 1
        return input_ids, mask

    def encode(self, reports: Sequence[str]) -> Batch:
        """Encode and pad a batch of reports."""
        ids, cut = self.ids(reports)
        input_ids, mask = self.pad(ids)
        return Batch(input_ids, mask, cut)


def _compact(encoding: object) -> Encoded:
    """A tokenizers Encoding as two small arrays (it holds tokens, words and more besides)."""
    ids = np.asarray(encoding.ids, dtype=np.int32)  # type: ignore[attr-defined]
    offsets = np.asarray(encoding.offsets, dtype=np.int32).reshape(-1, 2)  # type: ignore[attr-defined]
    return Encoded(ids, offsets)
