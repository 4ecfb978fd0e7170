"""Train a WordPiece tokenizer on the report corpus (no hub: no pretrained vocabulary).

Radiology reports use a small, repetitive vocabulary, so a few thousand word pieces cover
them; a small vocabulary also keeps the embedding matrix, and the bundle, small.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

from labeler.tokenize import SPECIAL


def train_tokenizer(texts: Iterable[str], vocab_size: int = 4000, min_frequency: int = 2) -> Tokenizer:
    """Train a lower-casing WordPiece tokenizer.

    Args:
        texts: training text (the labelled sections of the reports).
        vocab_size: upper bound on the vocabulary.
        min_frequency: drop pieces seen fewer times.

    Returns:
        The trained tokenizer, with [PAD] at id 0.
    """
    tok = Tokenizer(models.WordPiece(unk_token=SPECIAL["unk"]))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True, strip_accents=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    specials = [SPECIAL[k] for k in ("pad", "unk", "cls", "sep", "mask")]
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=specials
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return tok


def save_tokenizer(tok: Tokenizer, path: Path) -> None:
    """Write tokenizer.json."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tok.save(str(path))
