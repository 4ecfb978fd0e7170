import math

import pytest
import torch

from distill.losses import distillation_loss, gls_loss
from labeler.gls import training_arrays


def test_distillation_loss_hand_computed():
    logits = torch.tensor([[[2.0, 0.0]]])  # one report, one finding, two classes
    teacher = torch.tensor([[[1.0, 0.0]]])
    # CE(softmax(s/T)) with T=2: -log(e^1/(e^1+1)); CE(softmax(s)): -log(e^2/(e^2+1))
    scaled = -math.log(math.e / (math.e + 1))
    plain = -math.log(math.e**2 / (math.e**2 + 1))
    got = distillation_loss(logits, teacher, alpha=0.25, temperature=2.0)
    assert float(got) == pytest.approx(0.25 * scaled + 0.75 * plain, rel=1e-6)


def test_distillation_loss_sums_findings_and_averages_batch():
    logits = torch.zeros(2, 3, 8)
    teacher = torch.full((2, 3, 8), 1 / 8)
    assert float(distillation_loss(logits, teacher)) == pytest.approx(3 * math.log(8), rel=1e-6)


def test_distillation_loss_rejects_bad_settings():
    with pytest.raises(ValueError):
        distillation_loss(torch.zeros(1, 1, 8), torch.zeros(1, 1, 8), alpha=1.5)
    with pytest.raises(ValueError):
        distillation_loss(torch.zeros(1, 1, 8), torch.zeros(1, 1, 8), hedge_weight=0.0)


def test_hedge_weight_scales_only_hedged_findings():
    # three findings, uniform logits (each term = log 8): one the teacher grades u = 0 (class 4),
    # one not mentioned (class 0), and a soft teacher with most mass on u = -1/+1 (hedged)
    logits = torch.zeros(1, 3, 8)
    teacher = torch.zeros(1, 3, 8)
    teacher[0, 0, 4] = 1.0
    teacher[0, 1, 0] = 1.0
    teacher[0, 2, 3], teacher[0, 2, 5], teacher[0, 2, 7] = 0.3, 0.3, 0.4
    plain = float(distillation_loss(logits, teacher))
    weighted = float(distillation_loss(logits, teacher, hedge_weight=3.0))
    assert plain == pytest.approx(3 * math.log(8), rel=1e-6)
    assert weighted == pytest.approx((3 + 1 + 3) * math.log(8), rel=1e-6)


def test_gls_loss_matches_definition():
    u = [3.0, -1.0, 0.0, float("nan")]
    t, r, mask = training_arrays(u, policy="ignore")
    logits = torch.tensor([0.3, -1.2, 2.0, 5.0])
    got = gls_loss(logits, torch.tensor(t, dtype=torch.float32), torch.tensor(mask, dtype=torch.float32))
    p = torch.sigmoid(logits)
    y = torch.tensor([1.0, 0.0, 0.0, 0.0])
    rr = torch.tensor(r, dtype=torch.float32)
    ce_y = -(y * p.log() + (1 - y) * (1 - p).log())
    ce_u = -0.5 * (p.log() + (1 - p).log())
    expected = (((1 - rr) * ce_y + rr * ce_u)[:3]).mean()
    assert float(got) == pytest.approx(float(expected), rel=1e-5)
