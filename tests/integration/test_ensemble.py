"""Ensemble bundles: several tiny students packed as one ONNX graph that averages their logits."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from distill.cli import app as distill_app
from distill.ensemble import Ensemble
from distill.export import torch_logits
from distill.student import Student, build_student
from labeler.errors import InvalidInput
from labeler.model.labeler import ModelLabeler
from labeler.schema import load_schema
from labeler.tokenize import ReportEncoder

DATA = Path(__file__).resolve().parents[2] / "data"
runner = CliRunner()


def fake_run(directory: Path, tokenizer: Path, seed: int, max_length: int = 128) -> Path:
    """A finished-run directory holding a random tiny student (what `distill train` leaves)."""
    encoder = ReportEncoder.from_file(tokenizer, max_length)
    torch.manual_seed(seed)
    student = build_student(
        load_schema().keys, "tiny", encoder.tokenizer.get_vocab_size(), max_length, encoder.pad_id
    )
    student.save(directory / "best")
    shutil.copy(tokenizer, directory / "tokenizer.json")
    config = {"labels": str(DATA / "labels/teacher_train.jsonl"), "max_length": max_length, "seed": seed}
    (directory / "train_config.json").write_text(json.dumps(config))
    return directory


def test_ensemble_bundle_scores_the_mean_of_its_members(tmp_path, tiny_bundle_src, dev_reports):
    tok = tiny_bundle_src / "tokenizer.json"
    runs = [fake_run(tmp_path / f"run{s}", tok, s) for s in (1, 2)]
    out = tmp_path / "bundle"
    res = runner.invoke(
        distill_app,
        [
            "bundle",
            *map(str, runs),
            "-o",
            str(out),
            "--reports",
            str(DATA / "reports.jsonl"),
            "--dev-gold",
            str(DATA / "labels/dev_gold.jsonl"),
            "--no-dynamo",
            "--no-fp16",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "fp32 (CPUExecutionProvider) on 311 reports" in res.output

    texts = [r["text"] for r in dev_reports]
    encoder = ReportEncoder.from_file(out / "tokenizer.json", 128)
    members = [torch_logits(Student.load(r / "best"), encoder, texts) for r in runs]
    got = ModelLabeler.from_bundle(out, variant="fp32", prefer_gpu=False).logits(texts)
    np.testing.assert_allclose(got, np.mean(members, axis=0), atol=1e-4)
    # a bundle of member 1 alone would not pass this: the members really differ
    assert np.abs(members[0] - members[1]).max() > 1e-2

    card = json.loads((out / "card.json").read_text())
    assert [m["seed"] for m in card["training"]["members"]] == [1, 2]
    assert card["training"]["ensemble"] == "mean of member logits"
    assert "An ensemble of 2 DeBERTa-v2 students" in (out / "MODEL_CARD.md").read_text()
    assert set(card["dev_metrics"]) == {"fp32", "int8"}


def test_members_must_share_the_tokenizer(tmp_path, tiny_bundle_src):
    tok = tiny_bundle_src / "tokenizer.json"
    other = tmp_path / "other_tokenizer.json"
    vocab = json.loads(tok.read_text())
    vocab["model"]["vocab"]["zzzz"] = len(vocab["model"]["vocab"])
    other.write_text(json.dumps(vocab))
    runs = [fake_run(tmp_path / "a", tok, 1), fake_run(tmp_path / "b", other, 2)]
    res = runner.invoke(distill_app, ["bundle", *map(str, runs), "-o", str(tmp_path / "out")])
    assert res.exit_code == 2 and "must share tokenizer.json" in res.output
    assert not (tmp_path / "out").exists()


def test_members_must_label_the_same_findings():
    a = build_student(["nodule", "mass"], "tiny", 100, 64)
    b = build_student(["mass", "nodule"], "tiny", 100, 64)
    with pytest.raises(InvalidInput, match="different findings"):
        Ensemble([a, b])
    with pytest.raises(InvalidInput, match="at least one"):
        Ensemble([])


def test_members_must_share_max_length_and_teacher_labels(tmp_path, tiny_bundle_src):
    from distill.bundle import read_runs

    tok = tiny_bundle_src / "tokenizer.json"
    a = fake_run(tmp_path / "a", tok, 1)
    assert read_runs([a]).max_length == 128 and read_runs([a]).training["seed"] == 1
    b = fake_run(tmp_path / "b", tok, 2, max_length=64)
    with pytest.raises(InvalidInput, match="max_length"):
        read_runs([a, b])
    c = fake_run(tmp_path / "c", tok, 3)
    config = json.loads((c / "train_config.json").read_text())
    (c / "train_config.json").write_text(json.dumps({**config, "labels": "other.jsonl"}))
    with pytest.raises(InvalidInput, match="teacher labels"):
        read_runs([a, c])
    runs = read_runs([a, fake_run(tmp_path / "d", tok, 4)])
    assert runs.training["ensemble"] == "mean of member logits" and len(runs.training["members"]) == 2
    assert runs.checkpoints == [a / "best", tmp_path / "d" / "best"]
    assert runs.tokenizer == a / "tokenizer.json"
