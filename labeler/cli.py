"""The `radlabel` command line: label files and evaluate label files.

Other packages add command groups through the `radlabel.cli` entry-point group (the
distillation recipe adds `radlabel distill ...`), so this core CLI never imports them.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator, Sequence
from enum import StrEnum
from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer
from rich.console import Console
from rich.table import Table
from tqdm import tqdm

from labeler.assemble import is_empty_body
from labeler.base import DEFAULT_MAX_CHARS, Labeler, check_reports, check_request
from labeler.bundles import default_bundle
from labeler.errors import LabelerError
from labeler.io import LineError, csv_header, csv_row, read_reports, read_u_file, write_jsonl
from labeler.metrics import EvalResult, evaluate, to_view
from labeler.records import Report
from labeler.schema import Schema, load_schema

app = typer.Typer(no_args_is_help=True, add_completion=False, help="radlabel: label chest X-ray reports.")


def say(message: str) -> None:
    """A plain message on stderr (no markup: messages may quote user input)."""
    typer.echo(message, err=True)


class LabelerKind(StrEnum):
    """Which labeler to run."""

    model = "model"
    rules = "rules"


class OnError(StrEnum):
    """What to do with an input line that is not a valid report."""

    skip = "skip"
    fail = "fail"


class Variant(StrEnum):
    """Which file of a model bundle to run."""

    auto = "auto"
    fp32 = "fp32"
    int8 = "int8"
    fp16 = "fp16"


class Fmt(StrEnum):
    """Output format."""

    jsonl = "jsonl"
    csv = "csv"


def make_labeler(
    kind: LabelerKind, model: Path | None, max_chars: int = DEFAULT_MAX_CHARS, variant: str = "auto"
) -> Labeler:
    """Build the requested labeler.

    Raises:
        ModelLoadError: the model bundle cannot be loaded.
    """
    if kind is LabelerKind.rules:
        from labeler.rules.labeler import RuleLabeler

        return RuleLabeler(max_chars=max_chars)
    from labeler.model.labeler import ModelLabeler

    return ModelLabeler.from_bundle(model or default_bundle(), variant=variant, max_chars=max_chars)  # type: ignore[arg-type]


def _batches(items: Iterator[tuple[int, Report]], size: int) -> Iterator[list[tuple[int, Report]]]:
    batch: list[tuple[int, Report]] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


@app.command()
def label(
    input: Annotated[
        Path,
        typer.Argument(
            exists=True, dir_okay=False, help="JSONL ({id,text}), CSV or text file (one report per line)"
        ),
    ],
    output: Annotated[Path, typer.Option("-o", "--output", help="where to write the labels")],
    labeler: Annotated[LabelerKind, typer.Option(help="model (default bundle) or rules")] = LabelerKind.model,
    model: Annotated[Path | None, typer.Option(help="model bundle directory")] = None,
    view: Annotated[list[str] | None, typer.Option(help="add a view, e.g. chexpert14")] = None,
    fmt: Annotated[Fmt, typer.Option("--format", help="output format")] = Fmt.jsonl,
    mapping: Annotated[str, typer.Option(help="status mapping: default or chexpert")] = "default",
    on_error: Annotated[OnError, typer.Option(help="skip bad lines (reported) or stop")] = OnError.fail,
    batch_size: Annotated[
        int, typer.Option(min=1, max=4096, help="reports per labelling call (sorted by length inside)")
    ] = 256,
    max_chars: Annotated[int, typer.Option(min=1)] = DEFAULT_MAX_CHARS,
    variant: Annotated[
        Variant, typer.Option(help="model file: auto (int8 on CPU, fp16 on CUDA), fp32, int8, fp16")
    ] = Variant.auto,
) -> None:
    """Label every report of INPUT and write one record per report."""
    views = view or []
    schema = load_schema()
    try:
        check_request([], schema, views, mapping, max_chars)  # fail fast, before a model loads
        lab = make_labeler(labeler, model, max_chars, variant.value)
    except LabelerError as exc:
        say(f"error: {exc}")
        raise typer.Exit(2) from exc
    skipped = 0

    def good_lines() -> Iterator[tuple[int, Report]]:
        nonlocal skipped
        for n, item in read_reports(input):
            if isinstance(item, Report):
                try:
                    check_reports([item], max_chars)
                except LabelerError as exc:
                    item = LineError(n, str(exc))
            if isinstance(item, LineError):
                say(f"{input}:{item.line}: {item.reason}")
                if on_error is OnError.fail:
                    raise typer.Exit(1)
                skipped += 1
                continue
            yield n, item

    written = empty = 0
    try:
        with output.open("w", encoding="utf-8", newline="") as handle:
            writer = _start(handle, fmt, schema, views)
            with tqdm(desc="labelling", unit=" reports", disable=None, file=sys.stderr) as bar:
                for batch in _batches(good_lines(), batch_size):
                    records = lab.label([r for _, r in batch], views=views, mapping=mapping)
                    empty += sum(is_empty_body(rec, schema) for rec in records)
                    if writer is None:
                        written += write_jsonl(records, handle)
                    else:
                        for rec in records:
                            writer.writerow(csv_row(rec, schema, views))
                        written += len(records)
                    bar.update(len(batch))
    except LabelerError as exc:
        say(f"error: {exc}")
        raise typer.Exit(1) from exc
    say(
        f"{written} reports labelled by {lab.name} -> {output}"
        + (f"; {skipped} lines skipped" if skipped else "")
    )
    if empty:
        say(
            f"{empty} reports had no FINDINGS or IMPRESSION text: every finding not mentioned, "
            "no_finding not derived"
        )


def _start(handle: TextIO, fmt: Fmt, schema: Schema, views: Sequence[str]) -> Any:
    """A csv writer with the header written, or None for JSONL output."""
    if fmt is Fmt.jsonl:
        return None
    writer = csv.writer(handle)
    writer.writerow(csv_header(schema, views))
    return writer


def _table(result: EvalResult, title: str) -> Table:
    table = Table(title=title)
    for col in ("label", "F1", "F1 present", "F1 absent", "F1 uncertain", "n pres/abs/unc"):
        table.add_column(col, justify="right" if col != "label" else "left")
    for key, row in result.per_finding.items():
        counts = f"{int(row['n_present'])}/{int(row['n_absent'])}/{int(row['n_uncertain'])}"
        table.add_row(
            key,
            f"{row['f1']:.3f}",
            f"{row['f1_present']:.3f}",
            f"{row['f1_absent']:.3f}",
            f"{row['f1_uncertain']:.3f}",
            counts,
        )
    return table


@app.command("eval")
def eval_cmd(
    pred: Annotated[Path, typer.Option(help="predicted labels (radlabel JSONL or {id,u} lines)")],
    gold: Annotated[Path, typer.Option(help="gold labels ({id,u} lines)")],
    view: Annotated[
        str | None, typer.Option(help="score a view (e.g. chexpert14) instead of findings")
    ] = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="write metrics JSON here")] = None,
    mapping: Annotated[str, typer.Option(help="status mapping: default or chexpert")] = "default",
) -> None:
    """Compute every metric of LABELS.md and print a table."""
    schema = load_schema()
    try:
        p, g = read_u_file(pred), read_u_file(gold)
        if view:
            p = {k: to_view(v, schema, view) for k, v in p.items()}
            g = {k: to_view(v, schema, view) for k, v in g.items()}
            keys = [k for k in schema.view(view).labels if k != "No Finding"]
        else:
            keys = schema.keys
        result = evaluate(p, g, schema, keys=keys, mapping=mapping)
    except LabelerError as exc:
        say(f"error: {exc}")
        raise typer.Exit(2) from exc
    out = Console()
    out.print(_table(result, f"{pred.name} vs {gold.name}" + (f" ({view})" if view else "")))
    status = ", ".join(f"{s} {v['f1']:.3f}" for s, v in result.per_status.items())
    out.print(f"macro-F1 {result.macro_f1:.4f} | pooled F1: {status}")
    out.print(
        f"u: exact {result.u_exact:.3f}  MAE {result.u_mae:.3f}  "
        f"kappa(qw) {result.u_kappa:.3f}  (n={result.u_n})"
    )
    out.print(
        f"mentions per report: spurious {result.spurious_per_report:.3f}  "
        f"missed {result.missed_per_report:.3f}"
    )
    if output:
        output.write_text(json.dumps(result.to_dict(), indent=2), encoding="utf-8")


# which optional extra each plugin command group needs
PLUGIN_EXTRAS = {"distill": "train", "serve": "serve", "apikey": "serve"}


def _register_plugins() -> None:
    for ep in entry_points(group="radlabel.cli"):
        try:
            sub = ep.load()
        except ImportError as exc:  # optional extra not installed
            missing = exc.name or str(exc)

            @app.command(ep.name, help=f"(unavailable: {missing} is not installed)")
            def _missing(name: str = ep.name, why: str = missing) -> None:
                extra = PLUGIN_EXTRAS.get(name, "train")
                say(
                    f"`radlabel {name}` needs an optional dependency ({why}): pip install 'radlabel[{extra}]'"
                )
                raise typer.Exit(2)

            continue
        app.add_typer(sub, name=ep.name)


def main() -> None:
    """Entry point of the `radlabel` command."""

    _register_plugins()
    app()


# the archive-scale commands register themselves on `app` (after everything above is defined)
import labeler.cli_archive  # noqa: E402, F401, I001
