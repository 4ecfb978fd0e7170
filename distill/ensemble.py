"""Several trained students as one model: the mean of their logits.

Students trained by the same recipe with different seeds make different mistakes on unseen
reports, and averaging them is the standard way to trade size and speed for lower variance.
On the shipped data the gain was small and not reliable (+0.009 dev uncertain F1 on average
over 15 pairs, BENCHMARKS.md), so the default bundle is one student; the option stays for
users whose members differ more (other teachers, pretrained `--init`). Averaging *logits* (a
geometric mean of the members' distributions) rather than probabilities keeps the exported
graph a plain Add/Div that fp16 cannot underflow, and the labeler decodes it exactly as it
decodes one student. Weight averaging ("soups") does not work here: members trained from
scratch are not linearly connected (dev macro-F1 fell to 0.84).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import cast

import torch
from torch import nn

from distill.student import Student
from labeler.errors import InvalidInput


class Ensemble(nn.Module):
    """Students with the same findings and tokenizer, scored by their mean logits."""

    def __init__(self, members: Sequence[Student]) -> None:
        super().__init__()
        if not members:
            raise InvalidInput("an ensemble needs at least one member")
        findings = members[0].findings
        for m in members[1:]:
            if m.findings != findings:
                raise InvalidInput("ensemble members were trained for different findings")
        self.members = nn.ModuleList(members)
        self.findings = list(findings)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Mean member logits, [batch, findings, 8]."""
        logits = [m(input_ids, attention_mask) for m in self.members]
        return torch.stack(logits).mean(dim=0)

    def attend(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean member logits and mean member attention over the tokens."""
        outs = [cast(Student, m).attend(input_ids, attention_mask) for m in self.members]
        return torch.stack([o[0] for o in outs]).mean(dim=0), torch.stack([o[1] for o in outs]).mean(dim=0)


def load_model(checkpoints: Sequence[Path]) -> nn.Module:
    """One checkpoint as a `Student`, several as an `Ensemble` of them.

    Raises:
        InvalidInput: no checkpoint, or members for different findings.
    """
    members = [Student.load(c) for c in checkpoints]
    if len(members) == 1:
        return members[0]
    return Ensemble(members)
