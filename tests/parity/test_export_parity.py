"""torch vs ONNX logits of a tiny DeBERTa student built in the test, both exporters.

Slow (the dynamo exporter takes seconds even for a tiny model); `make test` runs this tier
after the fast suite.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from distill.export import convert_fp16, export_onnx, parity, quantize_int8, torch_logits
from distill.student import build_student
from distill.tokenizer_train import save_tokenizer, train_tokenizer
from labeler.schema import load_schema
from labeler.tokenize import ReportEncoder, model_text

DATA = Path(__file__).resolve().parents[2] / "data"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("parity")
    texts = [json.loads(line)["text"] for line in (DATA / "reports.jsonl").open()][:400]
    save_tokenizer(train_tokenizer([" ".join(model_text(t)) for t in texts], 800), tmp / "tokenizer.json")
    enc = ReportEncoder.from_file(tmp / "tokenizer.json", max_length=256)
    torch.manual_seed(1)
    student = build_student(load_schema().keys, "tiny", enc.tokenizer.get_vocab_size(), 256, enc.pad_id)
    # real reports plus long synthetic ones so sequence lengths span ~17..256 tokens
    long = ["FINDINGS: " + " ".join(texts[i : i + k]) for i, k in ((0, 4), (10, 8), (20, 16))]
    return tmp, enc, student, texts[:60] + long


@pytest.mark.parametrize("dynamo", [True, False], ids=["dynamo", "torchscript"])
def test_fp32_parity_int8_and_fp16_agreement(setup, dynamo):
    tmp, enc, student, texts = setup
    lengths = [len(x) for x in enc.ids(texts)[0]]
    assert min(lengths) < 40 and max(lengths) == 256
    path = export_onnx(student, enc, texts, tmp / f"m{int(dynamo)}.onnx", dynamo=dynamo)
    ref = torch_logits(student, enc, texts, batch_size=8)
    fp32 = parity(ref, path, enc, texts, "fp32", batch_size=8)
    assert fp32.max_abs_diff <= 1e-4
    assert np.isfinite(ref).all()
    q = quantize_int8(path, tmp / f"m{int(dynamo)}.int8.onnx")
    int8 = parity(ref, q, enc, texts, "int8", batch_size=8)
    assert int8.argmax_agreement >= 0.95
    # fp16 (CPU provider here, CUDA where present): finite, close, same decisions
    half_path = convert_fp16(path, tmp / f"m{int(dynamo)}.fp16.onnx")
    half = parity(ref, half_path, enc, texts, "fp16", batch_size=8)
    assert half.finite and half.max_abs_diff < 0.05
    assert half.argmax_agreement >= 0.98


def test_ensemble_graph_parity_with_dynamo(setup):
    """Two students in one dynamo-exported graph reproduce the mean of their PyTorch logits."""
    from distill.ensemble import Ensemble

    tmp, enc, student, texts = setup
    torch.manual_seed(2)
    other = build_student(load_schema().keys, "tiny", enc.tokenizer.get_vocab_size(), 256, enc.pad_id)
    ensemble = Ensemble([student, other])
    path = export_onnx(ensemble, enc, texts, tmp / "ensemble.onnx", dynamo=True)
    ref = torch_logits(ensemble, enc, texts, batch_size=8)
    np.testing.assert_allclose(
        ref, (torch_logits(student, enc, texts, 8) + torch_logits(other, enc, texts, 8)) / 2, atol=1e-5
    )
    assert parity(ref, path, enc, texts, "fp32", batch_size=8).max_abs_diff <= 1e-4
    half = parity(ref, convert_fp16(path, tmp / "ensemble.fp16.onnx"), enc, texts, "fp16", batch_size=8)
    assert half.finite and half.argmax_agreement >= 0.98
