"""Pack a trained student as a self-describing model bundle with a model card.

The bundle holds model.onnx (fp32), model.int8.onnx (CPU), model.fp16.onnx (GPU, only when it
keeps parity), tokenizer.json, schema.json, labeler_config.json, MODEL_CARD.md and card.json
(provenance, hyperparameters, dev metrics per finding and status, parity figures, sha256 of
every file). `labeler` loads it as is. An fp32 export that fails parity is refused outright.
"""

from __future__ import annotations

import json
import logging
import platform
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path
from typing import cast

import torch

from distill.card import write_card
from distill.data import DevSet, load_reports
from distill.ensemble import load_model
from distill.export import ParityReport, convert_fp16, export_onnx, parity, quantize_int8, torch_logits
from distill.student import Student
from labeler.digest import file_sha256
from labeler.errors import InferenceError, InvalidInput
from labeler.io import read_u_file
from labeler.metrics import EvalResult, evaluate
from labeler.model.config import BundleFiles, LabelerConfig
from labeler.model.labeler import ModelLabeler, Variant
from labeler.records import Report
from labeler.rules.vocab import SectionVocab, load_vocabulary, with_sections
from labeler.schema import load_schema
from labeler.tokenize import SPECIAL, ReportEncoder

log = logging.getLogger(__name__)

LIBRARIES = ("torch", "transformers", "tokenizers", "onnx", "onnxruntime", "onnxscript", "spacy", "radlabel")


@dataclass
class BundleResult:
    """What packing produced: the directory, parity and dev metrics per variant."""

    directory: Path
    parity: list[ParityReport]
    metrics: dict[str, EvalResult]
    notes: list[str]


@dataclass
class Runs:
    """What the bundle needs from one or more finished training runs."""

    checkpoints: list[Path]
    tokenizer: Path
    training: dict[str, object]
    labels: Path
    max_length: int
    sections: SectionVocab | None = None
    corpora: list[tuple[Path, Path]] | None = None
    dev_sets: list[tuple[Path, Path]] | None = None
    special: dict[str, str] | None = None


def read_runs(run_dirs: Sequence[Path]) -> Runs:
    """Read finished training runs to pack together, checking they can share one bundle.

    Members of an ensemble must share the tokenizer (one tokenizer.json goes into the bundle),
    max_length and teacher labels (one provenance goes on the card).

    Raises:
        InvalidInput: no run, an unfinished run, or members that differ in those three.
    """
    if not run_dirs:
        raise InvalidInput("give at least one training run")
    members: list[dict[str, object]] = []
    for run_dir in run_dirs:
        if not (run_dir / "train_config.json").is_file() or not (run_dir / "best").is_dir():
            raise InvalidInput(f"{run_dir} is not a finished training run (no train_config.json or best/)")
        summary = run_dir / "summary.json"
        members.append(
            {
                **json.loads((run_dir / "train_config.json").read_text(encoding="utf-8")),
                **(json.loads(summary.read_text(encoding="utf-8")) if summary.exists() else {}),
            }
        )
    tokenizers = {(d / "tokenizer.json").read_bytes() for d in run_dirs}
    lengths = {int(str(m["max_length"])) for m in members}
    labels = {str(m["labels"]) for m in members}
    if len(tokenizers) > 1 or len(lengths) > 1 or len(labels) > 1:
        raise InvalidInput(
            "ensemble members must share tokenizer.json, max_length and teacher labels "
            "(train them with the same --tokenizer and --labels)"
        )
    training: dict[str, object] = (
        members[0] if len(members) == 1 else {"ensemble": "mean of member logits", "members": members}
    )
    sections = {
        (d / "sections.json").read_text(encoding="utf-8") for d in run_dirs if (d / "sections.json").is_file()
    }
    if len(sections) > 1:
        raise InvalidInput("ensemble members must be trained with the same section headers (sections.json)")
    first = members[0]
    special_file = run_dirs[0] / "special_tokens.json"
    init_file = run_dirs[0] / "init.json"
    if init_file.is_file():
        first["init_provenance"] = json.loads(init_file.read_text(encoding="utf-8"))
    return Runs(
        [d / "best" for d in run_dirs],
        run_dirs[0] / "tokenizer.json",
        training,
        Path(labels.pop()),
        lengths.pop(),
        SectionVocab.model_validate_json(sections.pop()) if sections else None,
        [(Path(r), Path(lab)) for r, lab in cast(list[list[str]], first.get("corpora") or [])],
        [(Path(r), Path(g)) for r, g in cast(list[list[str]], first.get("dev_sets") or [])],
        json.loads(special_file.read_text(encoding="utf-8")) if special_file.is_file() else None,
    )


def library_versions() -> dict[str, str]:
    """Installed versions of the libraries that shape the model."""
    out = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def teacher_provenance(labels: Path) -> dict[str, str]:
    """Name and hash of the teacher label file (and the prompt, when it sits beside data/)."""
    out = {"labels_file": labels.name, "labels_sha256": file_sha256(labels)}
    prompt = labels.parent.parent / "teacher_prompt.md"
    if prompt.is_file():
        out["prompt_sha256"] = file_sha256(prompt)
        out["prompt_version"] = "v1"
    return out


def make_bundle(
    checkpoints: Sequence[Path],
    tokenizer: Path,
    out: Path,
    reports: Path,
    dev_gold: Path | None,
    training: dict[str, object],
    labels: Path,
    max_length: int = 256,
    int8: bool = True,
    fp16: bool = True,
    dynamo: bool = True,
    sections: SectionVocab | None = None,
    dev_sets: Sequence[tuple[Path, Path]] = (),
    special: dict[str, str] | None = None,
) -> BundleResult:
    """Export, check, evaluate and pack a student checkpoint (or an ensemble of them).

    Args:
        checkpoints: `Student.save` directories; several are packed as one ensemble graph
            (mean of their logits) and must share the tokenizer.
        tokenizer: their tokenizer.json.
        out: the bundle directory (replaced).
        reports: reports.jsonl (dev split used for parity and metrics).
        dev_gold: adjudicated dev labels, for the card's metrics.
        training: hyperparameters to record.
        labels: the teacher label file (provenance).
        max_length: the encoder's input limit.
        int8: also write a dynamically quantized int8 model.
        fp16: also write an fp16 model for GPUs, kept only if it passes parity.
        dynamo: use the dynamo ONNX exporter.
        sections: the section headers the run was trained with (the packaged ones when None);
            recorded in the bundle so serving reads reports as training did.
        dev_sets: more (reports, gold) dev sets to score every shipped variant on, for the card.
        special: the tokenizer's special tokens (a pretrained checkpoint's own; radlabel's when None).

    Returns:
        The bundle result.

    Raises:
        InferenceError: the fp32 export does not reproduce PyTorch (max |diff| > 1e-4).
        InvalidInput: no checkpoint, or members trained for different findings.
    """
    schema = load_schema()
    student = load_model(checkpoints)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    shutil.copy(tokenizer, out / "tokenizer.json")
    (out / "schema.json").write_text(
        resources.files("labeler.resources")
        .joinpath(f"schema_v{schema.version}.json")
        .read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    sections = sections or load_vocabulary().sections
    special = special or dict(SPECIAL)
    encoder = ReportEncoder.from_file(out / "tokenizer.json", max_length, special, with_sections(sections))
    dev = load_reports(reports, "dev")
    gold = {k: v for k, v in read_u_file(dev_gold).items() if k in dev} if dev_gold else {}
    ids = list(gold) or list(dev)
    texts = [dev[i]["text"] for i in ids]
    export_onnx(student, encoder, texts, out / "model.onnx", dynamo=dynamo)
    reference = torch_logits(student, encoder, texts)
    checks = [parity(reference, out / "model.onnx", encoder, texts, "fp32")]
    if not checks[0].passed:
        raise InferenceError(f"fp32 ONNX export fails parity: max |diff| {checks[0].max_abs_diff:.2e}")
    files = BundleFiles(fp32="model.onnx")
    notes: list[str] = []
    if int8:
        quantize_int8(out / "model.onnx", out / "model.int8.onnx")
        checks.append(parity(reference, out / "model.int8.onnx", encoder, texts, "int8"))
        files.int8 = "model.int8.onnx"
    if fp16:
        convert_fp16(out / "model.onnx", out / "model.fp16.onnx")
        check = parity(reference, out / "model.fp16.onnx", encoder, texts, "fp16")
        checks.append(check)
        if check.passed:
            files.fp16 = "model.fp16.onnx"
        else:
            (out / "model.fp16.onnx").unlink()
            notes.append(
                f"fp16 not shipped: parity failed (finite {check.finite}, "
                f"argmax agreement {check.argmax_agreement:.4f})"
            )
            log.warning(notes[-1])
        if check.provider != "CUDAExecutionProvider":
            notes.append(
                "fp16 parity measured on the CPU provider (no CUDA here): fp16 weights, ops without "
                "an fp16 CPU kernel upcast; check it on the GPU before relying on the figure"
            )
    config = LabelerConfig(
        schema_version=schema.version,
        findings=schema.keys,
        max_length=max_length,
        smoothing=schema.smoothing,
        files=files,
        special_tokens=special,
        architecture=architecture(student),
        sections=sections,
        teacher=teacher_provenance(labels),
        libraries=library_versions(),
        training=training,
    )
    config.write(out)
    metrics: dict[str, EvalResult] = {}
    if gold:
        reps = [Report(id=i, text=t) for i, t in zip(ids, texts, strict=True)]
        variants: tuple[Variant, ...] = ("fp32", "int8", "fp16")
        for variant in (v for v in variants if getattr(files, v)):
            lab = ModelLabeler.from_bundle(out, variant=variant, prefer_gpu=variant == "fp16")
            pred = {r.id: r.u_map() for r in lab.label(reps)}
            metrics[variant] = evaluate(pred, gold, schema)
    more = {
        d.name: {v: score(out, v, d) for v in ("fp32", "int8") if getattr(files, v)}
        for d in (DevSet.load(r.parent.name or g.stem, r, g, None) for r, g in dev_sets)
    }
    write_card(out, config, checks, metrics, notes, more)
    return BundleResult(out, checks, metrics, notes)


def architecture(model: torch.nn.Module) -> str:
    """The encoder model type of a student (or of an ensemble's first member)."""
    members = getattr(model, "members", None)
    first = members[0] if members is not None else model
    return str(cast(Student, first).architecture)


def score(bundle: Path, variant: Variant, dev: DevSet) -> EvalResult:
    """One variant of a bundle scored on one dev set."""
    lab = ModelLabeler.from_bundle(bundle, variant=variant, prefer_gpu=False)
    recs = lab.label([Report(id=k, text=t) for k, t in zip(dev.gold, dev.texts, strict=True)])
    return evaluate({r.id: r.u_map() for r in recs}, dev.gold, load_schema())
