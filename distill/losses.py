"""Losses of the recipe: the DeBERTa-RAD distillation loss and the GLS loss for images.

Distillation: `alpha * CE(softmax(s/T), teacher) + (1 - alpha) * CE(softmax(s), teacher)`,
summed over findings and averaged over the batch, with the teacher given as a distribution
(one-hot for hard teachers). The GLS loss is the one the image-training job uses with the
targets that `labeler.gls` computes; it lives here because `labeler` never imports torch.
"""

from __future__ import annotations

import torch


def soft_ce(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of a target distribution against softmax(logits), over the last axis."""
    return -(target * torch.log_softmax(logits, dim=-1)).sum(dim=-1)


# Classes of u = -1, 0, +1 (status "uncertain" under the default mapping): see labeler.schema.U_CLASSES.
HEDGED_CLASSES = (3, 4, 5)


def distillation_loss(
    logits: torch.Tensor,
    teacher: torch.Tensor,
    alpha: float = 0.5,
    temperature: float = 2.0,
    hedge_weight: float = 1.0,
) -> torch.Tensor:
    """The DeBERTa-RAD loss.

    Args:
        logits: student logits [batch, findings, classes].
        teacher: teacher distributions, same shape, rows summing to 1.
        alpha: weight of the temperature-scaled term.
        temperature: T > 0 dividing the student logits in the first term.
        hedge_weight: weight of a (report, finding) term whose teacher puts most of its mass on
            a hedged certainty (u = -1..+1). Hedges are ~4% of mentions and the class the
            students under-recall on real reports; 1 is the plain loss.

    Returns:
        Scalar loss: per-finding terms summed, then averaged over the batch.
    """
    if not 0.0 <= alpha <= 1.0 or temperature <= 0 or hedge_weight <= 0:
        raise ValueError("alpha must be in [0, 1], temperature > 0 and hedge_weight > 0")
    scaled = soft_ce(logits / temperature, teacher)
    plain = soft_ce(logits, teacher)
    terms = alpha * scaled + (1.0 - alpha) * plain
    if hedge_weight != 1.0:
        hedged = teacher[..., list(HEDGED_CLASSES)].sum(dim=-1) > 0.5
        terms = terms * torch.where(hedged, hedge_weight, 1.0)
    return terms.sum(dim=-1).mean()


def gls_loss(logits: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Generalized label smoothing loss for binary findings (per finding, two classes).

    `L = (1 - r) * CE(p, y) + r * CE(p, uniform)`, written through the equivalent soft
    target t = (1 - r)*y + r/2, so `target` and `mask` come straight from
    `labeler.gls.training_arrays` (which applies the warm-up and not-mentioned policies).

    Args:
        logits: [batch, findings] logits of the positive class.
        target: GLS targets t (may lie outside [0, 1] for negative rates).
        mask: 1 where an entry counts, 0 where it is ignored.

    Returns:
        Mean loss over counted entries.
    """
    log_p = torch.nn.functional.logsigmoid(logits)
    log_q = torch.nn.functional.logsigmoid(-logits)
    loss = -(target * log_p + (1.0 - target) * log_q)
    if mask is None:
        return loss.mean()
    return (loss * mask).sum() / mask.sum().clamp_min(1.0)
