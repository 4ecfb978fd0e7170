"""Label an archive on a Ray cluster with Ray Data: the same shards, rows, errors and labels as
the local engine, spread over actors that load the bundle once each.

Pipeline: a Ray dataset of the shards still to do -> `map_batches` with `ShardLabeler`, a
callable class (one bundle load per actor; GPU actors with the CUDA provider when the cluster
has GPUs, CPU actors otherwise) -> each actor writes `<stem>.parquet` + `<stem>.errors.jsonl`
through `labeler.archive.label_shard` and returns a summary row. Then the driver drops ids a
shard shares with an earlier shard, as the local engine does on the fly.

Why shards rather than `read_parquet`/`read_json` -> `write_parquet`: Ray's readers fail a whole
dataset on one malformed JSON line (the local engine reports it with its line number and goes
on), their batches do not line up with the local engine's (an int8 model's labels depend
slightly on the batch a report runs in: about 1 label in 10^4 moves), and Ray's output file
names are its own, so a rerun could not skip finished shards. Per-shard tasks keep all three.
Ray is an optional extra (`radlabel[ray]`), imported only here.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from labeler.archive import label_shard, write_table_atomic
from labeler.base import Labeler
from labeler.errors import InvalidInput
from labeler.rows import read_rows
from labeler.schema import load_schema


class ShardLabeler:
    """A Ray Data actor: loads the labeler once, labels whole shards into the output directory."""

    def __init__(
        self,
        out_dir: str,
        kind: str,
        model: str | None,
        variant: str,
        views: Sequence[str],
        mapping: str,
        batch_size: int,
        gpu: bool,
        threads: int | None,
    ) -> None:
        self.out_dir = Path(out_dir)
        self.views, self.mapping, self.batch_size = list(views), mapping, batch_size
        self.schema = load_schema()
        self.labeler = build_labeler(kind, model, variant, gpu, threads)

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {"shard": [], "labelled": [], "refused": [], "skipped": []}
        for shard in batch["shard"]:
            counts = label_shard(
                self.labeler,
                Path(str(shard)),
                self.out_dir,
                self.schema,
                self.views,
                self.mapping,
                self.batch_size,
                seen=set(),  # within the shard; across shards the driver checks afterwards
            )
            out["shard"].append(str(shard))
            out["labelled"].append(0 if counts is None else counts[0])
            out["refused"].append(0 if counts is None else counts[1])
            out["skipped"].append(counts is None)
        return out


def build_labeler(kind: str, model: str | None, variant: str, gpu: bool, threads: int | None) -> Labeler:
    """The labeler an actor runs (the embedded default bundle when no model is given)."""
    if kind == "rules":
        from labeler.rules.labeler import RuleLabeler

        return RuleLabeler()
    from labeler.bundles import default_bundle
    from labeler.model.labeler import ModelLabeler

    bundle = Path(model) if model else default_bundle()
    labeler = ModelLabeler.from_bundle(bundle, variant=variant, prefer_gpu=gpu, threads=threads)  # type: ignore[arg-type]
    return labeler.without_evidence()  # a manifest keeps u, not spans


def label_with_ray(
    shards: Sequence[Path],
    out_dir: Path,
    kind: str = "model",
    model: Path | None = None,
    variant: str = "auto",
    views: Sequence[str] = (),
    mapping: str = "default",
    batch_size: int = 256,
    address: str | None = None,
    actors: int | None = None,
    cpus: int | None = None,
) -> tuple[int, int, int]:
    """Label shards on Ray; returns (labelled, refused, skipped shards).

    Args:
        address: a running cluster (`ray://...` or `auto`); a local Ray is started when None.
        actors: labeller actors (default: one per GPU, else one per 2 CPUs).
        cpus: CPUs of the local Ray (all when None).

    Raises:
        InvalidInput: Ray is not installed.
    """
    try:
        import ray
    except ImportError as exc:
        raise InvalidInput("the ray engine needs Ray: pip install 'radlabel[ray]'") from exc
    if not ray.is_initialized():
        if address is None:  # a local Ray: its workers do the job, not background work at nice 15
            os.environ.setdefault("RAY_worker_niceness", "0")
        ray.init(
            address=address, num_cpus=None if address else cpus, include_dashboard=False, log_to_driver=False
        )
    resources = ray.cluster_resources()  # type: ignore[no-untyped-call]
    gpus = int(resources.get("GPU", 0))
    per_actor = 1 if gpus else 2
    size = actors or (gpus if gpus else max(1, int(resources.get("CPU", 1)) // per_actor))
    ds = ray.data.from_items([{"shard": str(p)} for p in shards])
    summaries = ds.map_batches(
        ShardLabeler,
        fn_constructor_kwargs={
            "out_dir": str(out_dir),
            "kind": kind,
            "model": None if model is None else str(model),
            "variant": variant,
            "views": list(views),
            "mapping": mapping,
            "batch_size": batch_size,
            "gpu": gpus > 0,
            "threads": None if gpus else per_actor,
        },
        batch_size=1,
        compute=ray.data.ActorPoolStrategy(size=size),
        num_gpus=1 if gpus else 0,
        num_cpus=0 if gpus else per_actor,
    ).take_all()
    labelled = sum(int(s["labelled"]) for s in summaries)
    refused = sum(int(s["refused"]) for s in summaries)
    skipped = sum(bool(s["skipped"]) for s in summaries)
    moved = drop_cross_shard_duplicates(shards, out_dir)
    return labelled - moved, refused + moved, skipped


def drop_cross_shard_duplicates(shards: Sequence[Path], out_dir: Path) -> int:
    """Refuse ids an earlier shard already labelled, as the local engine does while it runs.

    The first copy (in shard order) keeps its labels; a later shard's copy moves to that shard's
    errors file with the line of its first valid occurrence. A shard rewritten this way no
    longer holds the id, so running this again changes nothing. Returns the rows moved.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    seen: set[str] = set()
    moved = 0
    for shard in shards:
        target = out_dir / f"{shard.stem}.parquet"
        table = pq.read_table(target)
        ids = table.column("id").to_pylist()
        clash = {i for i in ids if i in seen}
        seen.update(ids)
        if not clash:
            continue
        errors_path = out_dir / f"{shard.stem}.errors.jsonl"
        errors = [json.loads(x) for x in errors_path.read_text(encoding="utf-8").splitlines() if x.strip()]
        refused_rows = {int(e["row"]) for e in errors}
        first_line: dict[str, int] = {}
        for n, row in read_rows(shard):
            rid = row.get("id")
            if rid is not None and str(rid) in clash and n not in refused_rows:
                first_line.setdefault(str(rid), n)
        new = [{"row": first_line[i], "id": i, "reason": f"duplicate id {i}"} for i in sorted(clash)]
        errors += [e for e in new if e not in errors]  # a rerun after a crash adds nothing twice
        errors.sort(key=lambda e: int(e["row"]))
        # errors first, then the table: a crash in between leaves the clash to be found again
        errors_path.write_text("".join(json.dumps(e) + "\n" for e in errors), encoding="utf-8")
        keep = pc.invert(pc.is_in(table.column("id"), value_set=pa.array(sorted(clash))))
        write_table_atomic(_reencoded(table.filter(keep)), target)
        moved += len(clash)
    return moved


def _reencoded(table: Any) -> Any:
    """Dictionary columns rebuilt from their values, as a table made from the kept rows would be
    (a filter keeps the old dictionary with entries no row uses any more)."""
    import pyarrow as pa

    columns = []
    for col in table.columns:
        if pa.types.is_dictionary(col.type):
            col = col.cast(col.type.value_type).combine_chunks().dictionary_encode()
        columns.append(col)
    return pa.table(columns, schema=None, names=table.column_names).replace_schema_metadata(
        table.schema.metadata
    )
