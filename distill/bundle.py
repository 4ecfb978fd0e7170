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
from datetime import UTC, datetime
from importlib import metadata, resources
from pathlib import Path
from typing import cast

import torch

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


def _what(training: dict[str, object]) -> str:
    """The card's subject: one student, or an ensemble of n."""
    members = training.get("members")
    if isinstance(members, list) and len(members) > 1:
        kind = (
            "DeBERTa-v2 students"
            if all(not m.get("init") for m in members if isinstance(m, dict))
            else "students"
        )
        return f"An ensemble of {len(members)} {kind} (mean of their logits, one ONNX graph), each"
    init = training.get("init_provenance")
    if isinstance(init, dict) and init:
        return f"A student (fine-tuned from the pretrained encoder {init.get('source') or init.get('path')})"
    return "A DeBERTa-v2 student (trained from scratch)"


def write_card(
    out: Path,
    config: LabelerConfig,
    checks: list[ParityReport],
    metrics: dict[str, EvalResult],
    notes: Sequence[str] = (),
    dev_sets: dict[str, dict[str, EvalResult]] | None = None,
) -> None:
    """Write card.json and MODEL_CARD.md (with every file's sha256)."""
    dev_sets = dev_sets or {}
    files = {
        p.name: {"sha256": file_sha256(p), "bytes": p.stat().st_size}
        for p in sorted(out.iterdir())
        if p.is_file() and p.name not in ("card.json", "MODEL_CARD.md")
    }
    card = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "schema_version": config.schema_version,
        "teacher": config.teacher,
        "training": config.training,
        "libraries": config.libraries,
        "parity": [c.to_dict() for c in checks],
        "notes": list(notes),
        "dev_metrics": {k: v.to_dict() for k, v in metrics.items()},
        "dev_sets": {name: {k: v.to_dict() for k, v in by.items()} for name, by in dev_sets.items()},
        "data": data_statement(config.training),
        "files": files,
    }
    (out / "card.json").write_text(json.dumps(card, indent=1, default=str), encoding="utf-8")
    lines = [
        "# radlabel student model card",
        "",
        f"{_what(config.training)} distilled from LLM teacher labels (schema "
        f"v{config.schema_version}). It reads the FINDINGS and IMPRESSION sections and returns, per "
        "finding, one of: not mentioned, u = -3..+3 (LABELS.md).",
        "",
        "## Data, labellers and licence",
        *[f"- {line}" for line in card["data"]["lines"]],  # type: ignore[index]
        f"- Teacher label file sha256 {config.teacher.get('labels_sha256', '?')[:12]}.",
        "- Who labelled: LLM annotators throughout, no radiologist. Teacher labels: one LLM pass per report "
        "(IU) or the writer LLM checked by a blind LLM annotator with disputes adjudicated (synthetic). Dev "
        "sets: two independent LLM annotators, disputes adjudicated by a third LLM reading.",
        f"- **Weights licence: {card['data']['licence']}**",  # type: ignore[index]
        "",
        "## Training",
        "```json",
        json.dumps(config.training, indent=1, default=str),
        "```",
        "",
        "## Parity (ONNX vs PyTorch on dev reports)",
        "| variant | reports | max abs diff | argmax agreement | provider | passed |",
        "|---|---|---|---|---|---|",
        *[
            f"| {c.variant} | {c.n_reports} | {c.max_abs_diff:.2e} | {c.argmax_agreement:.4f} | {c.provider} | {c.passed} |"
            for c in checks
        ],
        "",
        *[f"- {n}" for n in notes],
        *([""] if notes else []),
    ]
    for variant, m in metrics.items():
        lines += [
            f"## Dev metrics ({variant})",
            f"macro-F1 {m.macro_f1:.4f}; pooled F1 present {m.per_status['present']['f1']:.3f}, "
            f"absent {m.per_status['absent']['f1']:.3f}, uncertain {m.per_status['uncertain']['f1']:.3f}; "
            f"u exact {m.u_exact:.3f}, MAE {m.u_mae:.3f}, kappa {m.u_kappa:.3f}",
            "",
            "| finding | F1 | present | absent | uncertain |",
            "|---|---|---|---|---|",
            *[
                f"| {k} | {r['f1']:.3f} | {r['f1_present']:.3f} | {r['f1_absent']:.3f} | {r['f1_uncertain']:.3f} |"
                for k, r in m.per_finding.items()
            ],
            "",
        ]
    if dev_sets:
        lines += [
            "## Dev sets",
            "| set | variant | macro-F1 | uncertain F1 | u exact | spurious / report | missed / report |",
            "|---|---|---|---|---|---|---|",
            *[
                f"| {name} | {v} | {m.macro_f1:.4f} | {m.per_status['uncertain']['f1']:.3f} | {m.u_exact:.3f} "
                f"| {m.spurious_per_report:.3f} | {m.missed_per_report:.3f} |"
                for name, by in dev_sets.items()
                for v, m in by.items()
            ],
            "",
        ]
    lines += ["## Files", "| file | bytes | sha256 |", "|---|---|---|"]
    lines += [f"| {name} | {v['bytes']} | {v['sha256']} |" for name, v in files.items()]
    lines += [
        "",
        "## Limits",
        "- Trained from scratch (no pretrained weights reachable).",
        "- Evidence spans are the clause of each finding's most-attended token (label-wise attention): "
        "they show where the model looked, which is not always what decided it.",
        "- Trained on English reports from one US hospital network and LLM-written reports; measure it "
        "on your own archive before trusting it there.",
        "",
    ]
    (out / "MODEL_CARD.md").write_text("\n".join(lines), encoding="utf-8")


IU_LICENCE = "CC BY-NC-ND 4.0"


def data_statement(training: dict[str, object]) -> dict[str, object]:
    """What the student was trained on, and the licence that follows for its weights.

    A corpus is named by its path; the IU X-ray reports (`reports.jsonl` at the data root) are
    CC BY-NC-ND 4.0, so weights trained on them are for non-commercial use; the synthetic set
    is CC0, so a student trained on it alone carries no such restriction.
    """
    members = training.get("members")
    configs = members if isinstance(members, list) else [training]
    pairs: list[tuple[str, str]] = []
    for cfg in configs:
        if isinstance(cfg, dict):
            pairs.append((str(cfg.get("reports", "")), str(cfg.get("labels", ""))))
            more = cast(list[list[str]], cfg.get("corpora") or [])
            pairs += [(str(r), str(lab)) for r, lab in more]
    lines, restricted = [], False
    for reports, labels in dict.fromkeys(pairs):
        if "synthetic" in Path(reports).parts:
            lines.append(
                f"Synthetic multi-setting reports (CC0 1.0, LLM-written): {reports}, labels {labels}."
            )
        else:
            restricted = True
            lines.append(
                f"Indiana University chest X-ray reports (Demner-Fushman et al., JAMIA 2016; NLM Open-i; "
                f"{IU_LICENCE}): {reports}, labels {labels}."
            )
    licence = (
        f"non-commercial: trained on {IU_LICENCE} reports (research use; the code is Apache-2.0)"
        if restricted
        else "trained on CC0 data only: no restriction from the training data"
    )
    return {"lines": lines, "licence": licence, "non_commercial": restricted}
