"""The student: a transformers encoder (DeBERTa-v2 from scratch by default, or any local
pretrained checkpoint: DeBERTa-v2/v3, BERT/MiniLM, RoBERTa, ELECTRA) plus one 8-class head per
finding.

Each finding has its own attention query over the token states (label-wise attention, as in
CAML/LAAT for clinical coding): a finding is usually decided by one phrase of the report, and
pooling per finding lets a small model trained from scratch find that phrase instead of
squeezing seventeen decisions through one [CLS] vector. The heads output logits over
(not mentioned, u = -3..+3).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from transformers import AutoConfig, AutoModel, DebertaV2Config, DebertaV2Model, PreTrainedModel

N_CLASSES = 8

SIZES: dict[str, dict[str, int]] = {
    # Test fixtures: builds and runs in milliseconds.
    "tiny": {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 64},
    # CPU default: ~100 reports/s per core after int8 (see BENCHMARKS.md).
    "small": {
        "hidden_size": 256,
        "num_hidden_layers": 4,
        "num_attention_heads": 4,
        "intermediate_size": 1024,
    },
    # ~0.55x the compute of small; tried as an ensemble member (BENCHMARKS.md), scores lower alone.
    "compact": {
        "hidden_size": 192,
        "num_hidden_layers": 4,
        "num_attention_heads": 3,
        "intermediate_size": 768,
    },
    # DeBERTa-v3-base shape, for GPU training or a local pretrained checkpoint.
    "base": {
        "hidden_size": 768,
        "num_hidden_layers": 12,
        "num_attention_heads": 12,
        "intermediate_size": 3072,
    },
}


@dataclass
class StudentSpec:
    """What is needed to rebuild a student: encoder config plus head shape."""

    encoder: dict[str, Any]
    findings: list[str]
    n_classes: int = N_CLASSES


def encoder_config(size: str, vocab_size: int, max_length: int, pad_id: int) -> DebertaV2Config:
    """A DeBERTa-v2 (v3-style) config of a named size for a from-scratch encoder.

    Raises:
        KeyError: unknown size.
    """
    dims = SIZES[size]
    # position_buckets / norm_rel_ebd / share_att_key are DeBERTa-v3 options that the config
    # keeps as extra attributes (the model reads them with getattr), hence the plain dict.
    options: dict[str, Any] = {
        "vocab_size": vocab_size,
        "max_position_embeddings": max(max_length, 128),
        "relative_attention": True,
        "position_buckets": 64 if size != "base" else 256,
        "max_relative_positions": -1,
        "pos_att_type": ["p2c", "c2p"],
        "position_biased_input": False,
        "norm_rel_ebd": "layer_norm",
        "share_att_key": True,
        "type_vocab_size": 0,
        "pad_token_id": pad_id,
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        **dims,
    }
    return DebertaV2Config(**options)


class Student(nn.Module):
    """DeBERTa-v2 encoder + label-wise attention heads."""

    def __init__(self, encoder: PreTrainedModel, findings: list[str], n_classes: int = N_CLASSES) -> None:
        super().__init__()
        self.encoder = encoder
        self.findings = list(findings)
        hidden = encoder.config.hidden_size
        n = len(findings)
        self.query = nn.Parameter(torch.randn(n, hidden) * 0.02)
        self.key = nn.Linear(hidden, hidden)
        self.dropout = nn.Dropout(encoder.config.hidden_dropout_prob)
        self.out_w = nn.Parameter(torch.randn(n, hidden, n_classes) * 0.02)
        self.out_b = nn.Parameter(torch.zeros(n, n_classes))
        self.scale = float(hidden) ** -0.5

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Logits of shape [batch, findings, 8]."""
        return self.attend(input_ids, attention_mask)[0]

    def attend(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits [batch, findings, 8] and each finding's attention over the tokens
        [batch, findings, length]: where the model looked, the source of its evidence spans."""
        states = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        keys = torch.tanh(self.key(states))
        scores = torch.einsum("blh,fh->bfl", keys, self.query) * self.scale
        # A large finite negative (not -inf) keeps the exported graph NaN-free.
        scores = scores.masked_fill(attention_mask[:, None, :] == 0, -1e4)
        weights = torch.softmax(scores, dim=-1)
        pooled = torch.einsum("bfl,blh->bfh", weights, states) + states[:, :1, :]
        logits = torch.einsum("bfh,fhc->bfc", self.dropout(pooled), self.out_w) + self.out_b
        return logits, weights

    @property
    def architecture(self) -> str:
        """The encoder's model type, e.g. `deberta-v2` or `bert`."""
        return str(self.encoder.config.model_type)

    def spec(self) -> StudentSpec:
        """The rebuild recipe of this student."""
        return StudentSpec(encoder=self.encoder.config.to_dict(), findings=self.findings)

    def save(self, directory: Path) -> None:
        """Write student.json and weights.pt."""
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "student.json").write_text(json.dumps(asdict(self.spec()), indent=1), encoding="utf-8")
        torch.save(self.state_dict(), directory / "weights.pt")

    @classmethod
    def load(cls, directory: Path) -> Student:
        """Rebuild a student saved with `save`."""
        spec = StudentSpec(**json.loads((directory / "student.json").read_text(encoding="utf-8")))
        fields = dict(spec.encoder)
        config = AutoConfig.for_model(str(fields.pop("model_type", "deberta-v2")), **fields)
        model = cls(AutoModel.from_config(config), spec.findings, spec.n_classes)  # type: ignore[no-untyped-call]
        model.load_state_dict(torch.load(directory / "weights.pt", map_location="cpu", weights_only=True))
        return model


def build_student(
    findings: list[str],
    size: str = "small",
    vocab_size: int = 4000,
    max_length: int = 256,
    pad_id: int = 0,
    init: Path | None = None,
) -> Student:
    """A new student: from scratch at a named size, or from a local pretrained checkpoint.

    Args:
        findings: the schema's finding keys (head order).
        size: a key of SIZES: tiny | small | compact | base (ignored with `init`).
        vocab_size: tokenizer vocabulary size (ignored with `init`).
        max_length: longest input in tokens.
        pad_id: the tokenizer's [PAD] id.
        init: a local checkpoint directory of any encoder `AutoModel` knows (DeBERTa-v2/v3,
            BERT/MiniLM, RoBERTa, ELECTRA, ...); its own tokenizer comes with it.

    Returns:
        The student, in float32.
    """
    if init is not None:
        encoder: PreTrainedModel = AutoModel.from_pretrained(str(init), local_files_only=True)
    else:
        encoder = DebertaV2Model(encoder_config(size, vocab_size, max_length, pad_id))
    return Student(encoder.float(), findings)  # type: ignore[no-untyped-call]
