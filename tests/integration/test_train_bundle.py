"""Tiny end-to-end recipe: train (and resume) a tiny student, pack a bundle, label with it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from distill.bundle import make_bundle, read_runs
from distill.export import torch_logits
from distill.student import Student
from distill.train import TrainConfig, train
from labeler.model.labeler import ModelLabeler
from labeler.records import Report
from labeler.tokenize import ReportEncoder

DATA = Path(__file__).resolve().parents[2] / "data"


def config(out: Path, epochs: int) -> TrainConfig:
    return TrainConfig(
        output_dir=out,
        reports=DATA / "reports.jsonl",
        labels=DATA / "labels/teacher_train.jsonl",
        dev_gold=DATA / "labels/dev_gold.jsonl",
        size="tiny",
        vocab_size=600,
        max_length=128,
        epochs=epochs,
        batch_size=16,
        limit=48,
        augment=0.5,
        mlm_epochs=1,
        threads=1,
        ema=0.9,
    )


def test_config_validation(tmp_path):
    with pytest.raises(ValueError, match="not both"):
        TrainConfig(
            output_dir=tmp_path,
            tokenizer=DATA / "tokenizer.json",
            init=tmp_path,
            reports=DATA / "reports.jsonl",
            labels=DATA / "labels/teacher_train.jsonl",
        )
    with pytest.raises(ValueError, match="size"):
        TrainConfig(
            output_dir=tmp_path,
            size="huge",
            reports=DATA / "reports.jsonl",
            labels=DATA / "labels/teacher_train.jsonl",
        )
    with pytest.raises(ValueError, match="alpha"):
        TrainConfig(
            output_dir=tmp_path,
            alpha=2.0,
            reports=DATA / "reports.jsonl",
            labels=DATA / "labels/teacher_train.jsonl",
        )
    with pytest.raises(ValueError, match="does not exist"):
        TrainConfig(output_dir=tmp_path, labels=tmp_path / "none.jsonl", reports=DATA / "reports.jsonl")


def test_train_resume_bundle_round_trip(tmp_path):
    run = tmp_path / "run"
    summary = train(config(run, epochs=1))
    assert (run / "best" / "weights.pt").is_file() and (run / "tokenizer.json").is_file()
    assert summary["best_epoch"] == 1
    # resume: a second call with more epochs continues at epoch 2 instead of starting over
    train(config(run, epochs=2))
    rows = [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2]
    assert all(0.0 <= r["dev_macro_f1"] <= 1.0 for r in rows)

    out = tmp_path / "bundle"
    result = make_bundle(
        [run / "best"],
        run / "tokenizer.json",
        out,
        DATA / "reports.jsonl",
        DATA / "labels/dev_gold.jsonl",
        training={"size": "tiny"},
        labels=DATA / "labels/teacher_train.jsonl",
        max_length=128,
        dynamo=False,
        sections=read_runs([run]).sections,
        dev_sets=[(DATA / "impressions/reports.jsonl", DATA / "impressions/labels_gold.jsonl")],
    )
    fp32 = next(p for p in result.parity if p.variant == "fp32")
    assert fp32.max_abs_diff <= 1e-4 and fp32.n_reports == 311
    card = json.loads((out / "card.json").read_text())
    # what the model reads is fixed by the run's own section headers, recorded in the bundle
    run_sections = json.loads((run / "sections.json").read_text())
    assert json.loads((out / "labeler_config.json").read_text())["sections"] == run_sections
    assert set(card["dev_sets"]["impressions"]) == {"fp32", "int8"}
    assert (
        card["data"]["non_commercial"]
        and "Weights licence: non-commercial" in (out / "MODEL_CARD.md").read_text()
    )
    assert set(card["files"]) >= {
        "model.onnx",
        "model.int8.onnx",
        "tokenizer.json",
        "labeler_config.json",
        "schema.json",
    }
    assert "MODEL_CARD.md" in {p.name for p in out.iterdir()}
    # fp16 ships exactly when its parity check passed, and then it is evaluated like the others
    fp16 = next(p for p in result.parity if p.variant == "fp16")
    assert fp16.finite and fp16.argmax_agreement > 0.9
    assert ("model.fp16.onnx" in card["files"]) is fp16.passed
    assert set(card["dev_metrics"]) == {"fp32", "int8", *(["fp16"] if fp16.passed else [])}
    assert any("CPU provider" in n for n in card["notes"])
    assert json.loads((out / "labeler_config.json").read_text())["files"]["fp16"] == (
        "model.fp16.onnx" if fp16.passed else None
    )

    # the bundle labels exactly as the PyTorch checkpoint decides
    texts = [json.loads(line)["text"] for line in (DATA / "reports.jsonl").open()][:20]
    student = Student.load(run / "best")
    ref = torch_logits(student, ReportEncoder.from_file(out / "tokenizer.json", 128), texts)
    lab = ModelLabeler.from_bundle(out, variant="fp32", prefer_gpu=False)
    recs = lab.label([Report(id=str(i), text=t) for i, t in enumerate(texts)])
    codes = (None, -3, -2, -1, 0, 1, 2, 3)
    for rec, row in zip(recs, ref.argmax(-1), strict=True):
        assert [rec.findings[k].u for k in lab.config.findings] == [codes[int(c)] for c in row]
    assert np.isfinite(ref).all()


def test_rerunning_an_early_stopped_run_trains_nothing(tmp_path):
    import torch

    run = tmp_path / "run"
    cfg = config(run, epochs=4)
    cfg.patience = 1
    cfg.augment = 0.0
    cfg.mlm_epochs = 0
    cfg.epochs = 1
    train(cfg)
    # mark the run as stopped early (what a non-improving epoch at patience 1 leaves behind)
    state_path = run / "last" / "trainer_state.pt"
    state = torch.load(state_path, weights_only=False)
    state["stale"] = 1
    torch.save(state, state_path)
    best = (run / "best" / "weights.pt").read_bytes()
    cfg.epochs = 4
    summary = train(cfg)
    assert len((run / "history.jsonl").read_text().splitlines()) == 1
    assert (run / "best" / "weights.pt").read_bytes() == best and summary["best_epoch"] == 1


def test_init_from_local_pretrained_checkpoint(tmp_path):
    """--init: a local DeBERTa checkpoint and its tokenizer replace the from-scratch ones."""
    import torch
    from transformers import DebertaV2Model, PreTrainedTokenizerFast

    from distill.student import build_student, encoder_config
    from distill.tokenizer_train import train_tokenizer
    from labeler.tokenize import SPECIAL, model_text

    texts = [json.loads(line)["text"] for line in (DATA / "reports.jsonl").open()][:100]
    tok = train_tokenizer([" ".join(model_text(t)) for t in texts], 500)
    ckpt = tmp_path / "pretrained"
    torch.manual_seed(3)
    DebertaV2Model(encoder_config("tiny", tok.get_vocab_size(), 128, 0)).save_pretrained(ckpt)
    PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token=SPECIAL["pad"],
        cls_token=SPECIAL["cls"],
        sep_token=SPECIAL["sep"],
        unk_token=SPECIAL["unk"],
        mask_token=SPECIAL["mask"],
    ).save_pretrained(ckpt)
    saved = DebertaV2Model.from_pretrained(ckpt).state_dict()
    student = build_student(["nodule"], init=ckpt)
    for name, value in student.encoder.state_dict().items():
        assert torch.equal(value, saved[name]), name

    cfg = config(tmp_path / "run", epochs=1)
    cfg.init = ckpt
    cfg.mlm_epochs = 0
    summary = train(cfg)
    assert summary["best_epoch"] == 1
    # the run's tokenizer is the checkpoint's, not one trained on the corpus
    run_vocab = json.loads((tmp_path / "run" / "tokenizer.json").read_text())["model"]["vocab"]
    assert run_vocab == json.loads(tok.to_str())["model"]["vocab"]


def test_pinned_tokenizer_makes_training_reproducible(tmp_path):
    import torch

    first = config(tmp_path / "a", epochs=1)
    train(first)
    second = config(tmp_path / "b", epochs=1)
    second.tokenizer = tmp_path / "a" / "tokenizer.json"
    train(second)
    assert (tmp_path / "b" / "tokenizer.json").read_bytes() == second.tokenizer.read_bytes()
    wa = torch.load(tmp_path / "a" / "best" / "weights.pt", weights_only=True)
    wb = torch.load(tmp_path / "b" / "best" / "weights.pt", weights_only=True)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_several_corpora_and_dev_sets_select_by_the_mean(tmp_path):
    from dataclasses import replace

    syn = DATA / "synthetic"
    # small slices of both corpora keep this fast
    (tmp_path / "iu.jsonl").write_text("".join((DATA / "labels/teacher_train.jsonl").open().readlines()[:40]))
    (tmp_path / "syn.jsonl").write_text("".join((syn / "labels_train.jsonl").open().readlines()[:40]))
    cfg = replace(
        config(tmp_path / "run", epochs=1),
        limit=None,
        augment=0.0,
        mlm_epochs=0,
        cuts=0.5,
        relayout=0.5,
        labels=tmp_path / "iu.jsonl",
        corpora=[(syn / "reports.jsonl", tmp_path / "syn.jsonl")],
        dev_sets=[(syn / "reports.jsonl", syn / "labels_dev_gold.jsonl")],
    )
    train(cfg)
    [row] = [json.loads(line) for line in (tmp_path / "run" / "history.jsonl").read_text().splitlines()]
    assert {"dev_macro_f1", "synthetic_macro_f1", "synthetic_spurious", "dev_missed"} <= set(row)
    assert row["selection_score"] == pytest.approx((row["dev_macro_f1"] + row["synthetic_macro_f1"]) / 2)
    saved = json.loads((tmp_path / "run" / "train_config.json").read_text())
    assert saved["corpora"] == [[str(syn / "reports.jsonl"), str(tmp_path / "syn.jsonl")]]
    with pytest.raises(ValueError, match="cuts and relayout"):
        replace(cfg, cuts=5.0)
