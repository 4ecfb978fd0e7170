"""Optimizer parameter groups: a pretrained encoder can fine-tune slower than its new heads."""

import pytest

from distill.student import build_student
from distill.train import TrainConfig, param_groups


def test_encoder_lr_splits_encoder_from_heads(tmp_path):
    model = build_student(["nodule", "mass"], "tiny", 120, 32, 0, None)
    one = param_groups(model, TrainConfig(output_dir=tmp_path))
    assert len(one) == 1 and len(one[0]["params"]) == len(list(model.parameters()))
    two = param_groups(model, TrainConfig(output_dir=tmp_path, lr=6e-4, encoder_lr=1e-4))
    encoder, heads = two
    assert encoder["lr"] == 1e-4 and "lr" not in heads  # the heads take the optimizer's lr
    ids = [id(p) for g in two for p in g["params"]]
    assert sorted(ids) == sorted(id(p) for p in model.parameters())  # each parameter exactly once
    assert {id(p) for p in encoder["params"]} == {id(p) for p in model.encoder.parameters()}
    assert heads["params"]
    with pytest.raises(ValueError, match="encoder_lr"):
        TrainConfig(output_dir=tmp_path, encoder_lr=0.0)
