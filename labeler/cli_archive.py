"""`radlabel profile` and `radlabel label-archive`: the archive-scale commands.

They register on the core CLI's app (`labeler.cli.app`), which imports this module at its end;
kept apart so the core CLI module stays about labelling files and evaluating them.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from tqdm import tqdm

from labeler.base import DEFAULT_MAX_CHARS, check_request
from labeler.cli import LabelerKind, app, make_labeler, say
from labeler.errors import InvalidInput, LabelerError
from labeler.io import read_u_file
from labeler.schema import load_schema


@app.command("profile")
def profile_cmd(
    labels: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="radlabel JSONL or {id,u} lines")
    ],
    output: Annotated[Path | None, typer.Option("-o", "--output", help="write the profile JSON here")] = None,
    view: Annotated[list[str] | None, typer.Option(help="also profile a view, e.g. chexpert14")] = None,
    mapping: Annotated[str, typer.Option(help="status mapping for the status counts")] = "default",
    png: Annotated[Path | None, typer.Option(help="also draw hedged share and flip rate per finding")] = None,
) -> None:
    """The label-noise profile of an archive: hedged share, expected flip rate, not-mentioned share."""
    from labeler.profile import LabelProfile, profile

    schema = load_schema()
    try:
        check_request([], schema, view or [], mapping, DEFAULT_MAX_CHARS)
        result = profile(read_u_file(labels).values(), schema, view or [], mapping)
    except LabelerError as exc:
        say(f"error: {exc}")
        raise typer.Exit(2) from exc
    table = Table(title=f"label-noise profile of {labels.name} ({result.reports} reports)")
    for col in ("label", "mentioned", "hedged share", "expected flip rate", "not mentioned"):
        table.add_column(col, justify="left" if col == "label" else "right")

    def fmt(x: float | None) -> str:
        return "-" if x is None else f"{x:.3f}"

    def row(name: str, p: LabelProfile) -> None:
        shares = (fmt(p.hedged_share), fmt(p.expected_flip_rate), fmt(p.not_mentioned_share))
        table.add_row(name, str(p.mentioned), *shares)

    for key, p in result.findings.items():
        row(key, p)
    for v, labels_ in result.views.items():
        for name, p in labels_.items():
            row(f"{v}:{name}", p)
    row("ALL findings", result.summary)
    console = Console()
    console.width = max(console.width, 110)  # label names stay whole on a narrow terminal
    console.print(table)
    if output:
        output.write_text(result.model_dump_json(indent=1), encoding="utf-8")
    if png:
        from labeler.profile_chart import draw

        try:
            draw(result, png)
        except ImportError as exc:
            say("error: the chart needs matplotlib: pip install 'radlabel[archive]'")
            raise typer.Exit(2) from exc


@app.command("label-archive")
def label_archive(
    source: Annotated[str, typer.Argument(help="a Parquet/JSONL shard, a directory of them, or a glob")],
    out_dir: Annotated[Path, typer.Argument(help="where the Parquet manifest shards go")],
    engine: Annotated[str, typer.Option(help="local (this process) or ray (Ray Data)")] = "local",
    labeler: Annotated[LabelerKind, typer.Option(help="model (default bundle) or rules")] = LabelerKind.model,
    model: Annotated[Path | None, typer.Option(help="model bundle directory")] = None,
    view: Annotated[list[str] | None, typer.Option(help="add a view, e.g. chexpert14")] = None,
    mapping: Annotated[str, typer.Option(help="status mapping: default or chexpert")] = "default",
    batch_size: Annotated[int, typer.Option(min=1, max=8192, help="reports per labelling call")] = 256,
    ray_address: Annotated[
        str | None,
        typer.Option(help="ray engine: a running cluster (auto, ray://host:10001); local Ray if unset"),
    ] = None,
    actors: Annotated[
        int | None, typer.Option(min=1, help="ray engine: labeller actors (one per GPU, else per 2 CPUs)")
    ] = None,
    ray_cpus: Annotated[int | None, typer.Option(min=1, help="ray engine: CPUs of a local Ray")] = None,
) -> None:
    """Label an archive into Parquet GLS manifest shards (resumable: finished shards are skipped)."""
    from labeler.archive import find_shards, label_shard

    views = view or []
    schema = load_schema()
    try:
        check_request([], schema, views, mapping, DEFAULT_MAX_CHARS)
        shards = find_shards(source)
        if engine not in ("local", "ray"):
            raise InvalidInput(f"unknown engine {engine!r}: local or ray")
        if model is not None and labeler is LabelerKind.model and not model.is_dir():
            raise InvalidInput(f"model bundle {model} does not exist")
    except LabelerError as exc:
        say(f"error: {exc}")
        raise typer.Exit(2) from exc
    out_dir.mkdir(parents=True, exist_ok=True)
    if engine == "ray":
        from labeler.archive_ray import label_with_ray

        try:
            done, refused, skipped = label_with_ray(
                shards,
                out_dir,
                labeler.value,
                model,
                "auto",
                views,
                mapping,
                batch_size,
                ray_address,
                actors,
                ray_cpus,
            )
        except LabelerError as exc:
            say(f"error: {exc}")
            raise typer.Exit(2) from exc
        _summary(done, refused, skipped, len(shards), out_dir)
        return
    try:
        lab = make_labeler(labeler, model)
        if labeler is LabelerKind.model:
            from labeler.model.labeler import ModelLabeler

            assert isinstance(lab, ModelLabeler)
            lab = lab.without_evidence()  # a manifest keeps u, not spans
    except LabelerError as exc:
        say(f"error: {exc}")
        raise typer.Exit(2) from exc
    done = skipped = refused = 0
    seen: set[str] = set()  # ids across shards: a duplicate is reported, not merged
    with tqdm(desc="labelling", unit=" reports", disable=None, file=sys.stderr) as bar:
        for shard in shards:
            try:
                counts = label_shard(
                    lab, shard, out_dir, schema, views, mapping, batch_size, bar.update, seen
                )
            except LabelerError as exc:
                say(f"error: {shard}: {exc}")
                raise typer.Exit(1) from exc
            if counts is None:
                skipped += 1
            else:
                done += counts[0]
                refused += counts[1]
    _summary(done, refused, skipped, len(shards), out_dir)


def _summary(done: int, refused: int, skipped: int, shards: int, out_dir: Path) -> None:
    say(
        f"{done} reports labelled into {out_dir} ({shards - skipped} shards"
        + (f", {skipped} already done" if skipped else "")
        + (f"; {refused} rows refused, see *.errors.jsonl" if refused else "")
        + ")"
    )
