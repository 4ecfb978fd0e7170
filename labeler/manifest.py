"""The GLS manifest: labels of an archive as one Parquet table the image-training job reads.

One row per report: its id and, per finding (and per view label when views were asked for),
`u.<label>` (nullable int8), `status.<label>`, and for findings `r.<label>` and `target.<label>`
(nullable float32). The file's metadata records what the numbers mean: schema version, the
smoothing constants k and r0, the status mapping, the model id and its sha256, the label lists.
`read_targets` turns a manifest back into target and mask arrays for one view, with the
warm-up and not-mentioned policies of `labeler.gls.training_arrays`. pyarrow is an optional
extra (`radlabel[archive]`), imported when a manifest is written or read.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from labeler.errors import InvalidInput
from labeler.gls import NotMentionedPolicy, training_arrays
from labeler.records import ReportLabels
from labeler.schema import Schema

PREFIX = "radlabel."


def _arrow() -> Any:
    try:
        import pyarrow
    except ImportError as exc:  # optional extra
        raise InvalidInput("GLS manifests need pyarrow: pip install 'radlabel[archive]'") from exc
    return pyarrow


def view_columns(schema: Schema, views: Sequence[str]) -> list[str]:
    """Manifest label names of the views: `<view>/<label>`."""
    return [f"{v}/{label}" for v in views for label in schema.view(v).labels]


def manifest_table(
    records: Sequence[ReportLabels],
    schema: Schema,
    views: Sequence[str] = (),
    mapping: str = "default",
    model: str = "",
    model_sha256: str = "",
) -> Any:
    """An Arrow table of records in the manifest layout, with the metadata attached.

    Raises:
        InvalidInput: pyarrow missing, or a record lacks a requested view.
    """
    pa = _arrow()
    keys = [*schema.keys, schema.derived.key]
    cols: dict[str, Any] = {"id": pa.array([r.id for r in records], pa.string())}
    for k in keys:
        labs = [r.findings[k] for r in records]
        cols[f"u.{k}"] = pa.array([f.u for f in labs], pa.int8())
        cols[f"status.{k}"] = pa.array([f.status for f in labs], pa.string()).dictionary_encode()
        cols[f"r.{k}"] = pa.array([f.r for f in labs], pa.float32())
        cols[f"target.{k}"] = pa.array([f.target for f in labs], pa.float32())
    for v in views:
        for label in schema.view(v).labels:
            try:
                labs_v = [(r.views or {})[v][label] for r in records]
            except KeyError as exc:
                raise InvalidInput(f"a record has no {v} view: label with views={list(views)}") from exc
            cols[f"u.{v}/{label}"] = pa.array([x.u for x in labs_v], pa.int8())
            cols[f"status.{v}/{label}"] = pa.array(
                [x.status for x in labs_v], pa.string()
            ).dictionary_encode()
    meta = {
        "schema_version": schema.version,
        "k": str(schema.smoothing.k),
        "r0": str(schema.smoothing.r0),
        "status_mapping": mapping,
        "model": model,
        "model_sha256": model_sha256,
        "findings": json.dumps(keys),
        "views": json.dumps(list(views)),
    }
    return pa.table(cols).replace_schema_metadata({PREFIX + k: v for k, v in meta.items()})


def write_manifest(path: Path, records: Sequence[ReportLabels], schema: Schema, **meta: Any) -> Path:
    """Write records as a Parquet GLS manifest (see `manifest_table` for the keyword arguments)."""
    import pyarrow.parquet as pq

    pq.write_table(manifest_table(records, schema, **meta), path)
    return path


def manifest_metadata(path: Path) -> dict[str, str]:
    """The radlabel metadata of a manifest file (schema version, k, r0, mapping, model, ...)."""
    _arrow()
    import pyarrow.parquet as pq

    raw = pq.read_schema(path).metadata or {}
    return {k.decode()[len(PREFIX) :]: v.decode() for k, v in raw.items() if k.decode().startswith(PREFIX)}


@dataclass(frozen=True)
class Targets:
    """What an image-training step needs from a manifest, for one set of labels."""

    ids: list[str]
    labels: list[str]
    u: npt.NDArray[np.float64]
    """[reports, labels], NaN where not mentioned"""
    target: npt.NDArray[np.float64]
    mask: npt.NDArray[np.float64]


def read_targets(
    path: Path,
    schema: Schema,
    view: str | None = None,
    policy: NotMentionedPolicy = "ignore",
    warmup: bool = False,
) -> Targets:
    """GLS targets and loss masks from a manifest.

    Args:
        path: the Parquet manifest.
        schema: the label schema (its smoothing constants must match the file's).
        view: a view written into the manifest (`chexpert14`), or None for the fine findings.
        policy: not-mentioned labels as hard negatives or masked out.
        warmup: only |u| = 3 counts (the first epochs of GLS training).

    Raises:
        InvalidInput: pyarrow missing, another schema or smoothing, or a view not in the file.
    """
    _arrow()
    import pyarrow.parquet as pq

    meta = manifest_metadata(path)
    schema.check_version(meta.get("schema_version", "?"), f"manifest {path}")
    if float(meta["k"]) != schema.smoothing.k or float(meta["r0"]) != schema.smoothing.r0:
        raise InvalidInput(f"manifest {path} was written with k={meta['k']}, r0={meta['r0']}")
    if view is None:
        labels = list(schema.keys)
    elif view in json.loads(meta.get("views", "[]")):
        labels = view_columns(schema, [view])
    else:
        raise InvalidInput(f"manifest {path} has no {view!r} view; it has {meta.get('views')}")
    table = pq.read_table(path, columns=["id", *[f"u.{x}" for x in labels]])
    u = np.stack(
        [table.column(f"u.{x}").to_numpy(zero_copy_only=False).astype(np.float64) for x in labels], axis=1
    )
    t, _, mask = training_arrays(u, schema.smoothing, policy, warmup)
    return Targets(table.column("id").to_pylist(), labels, u, t, mask)
