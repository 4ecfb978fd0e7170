"""The Parquet GLS manifest: written from real labels, read back as the image job reads it."""

from __future__ import annotations

import numpy as np
import pytest

from labeler.errors import InvalidInput
from labeler.gls import soft_target
from labeler.manifest import manifest_metadata, read_targets, write_manifest
from labeler.records import Report
from labeler.rules.labeler import RuleLabeler
from labeler.schema import Smoothing, load_schema


@pytest.fixture
def manifest(tmp_path, dev_reports):
    lab = RuleLabeler()
    recs = lab.label([Report(id=r["id"], text=r["text"]) for r in dev_reports], views=["chexpert14"])
    path = write_manifest(
        tmp_path / "m.parquet", recs, lab.schema, views=["chexpert14"], model=lab.name, model_sha256="abc"
    )
    return path, recs


def test_manifest_metadata_and_targets_are_the_gls_math(manifest):
    import pyarrow.parquet as pq

    path, recs = manifest
    schema = load_schema()
    meta = manifest_metadata(path)
    assert meta["schema_version"] == "1" and meta["k"] == "0.417" and meta["r0"] == "1.0"
    assert (
        meta["model"] == "rules/1" and meta["model_sha256"] == "abc" and meta["status_mapping"] == "default"
    )
    table = pq.read_table(path)
    assert str(table.schema.field("u.edema").type) == "int8"
    assert table.column("id").to_pylist() == [r.id for r in recs]
    got = read_targets(path, schema, policy="ignore")
    assert got.labels == schema.keys
    for i, rec in enumerate(recs):
        for j, key in enumerate(schema.keys):
            u = rec.findings[key].u
            if u is None:
                assert np.isnan(got.u[i, j]) and got.mask[i, j] == 0
            else:
                assert got.target[i, j] == pytest.approx(float(soft_target(u))) and got.mask[i, j] == 1
    neg = read_targets(path, schema, policy="negative", warmup=True)
    assert (neg.mask[np.isnan(neg.u)] == 1).all()  # not mentioned = hard negatives, counted
    hedged = ~np.isnan(neg.u) & (np.abs(np.nan_to_num(neg.u)) < 3)
    assert (neg.mask[hedged] == 0).all()  # warm-up: only |u| = 3
    view = read_targets(path, schema, view="chexpert14")
    assert "chexpert14/Pleural Effusion" in view.labels and view.target.shape == (len(recs), len(view.labels))


def test_manifest_refuses_what_it_was_not_written_with(manifest):
    path, _ = manifest
    schema = load_schema()
    with pytest.raises(InvalidInput, match="no 'luvit14' view"):
        read_targets(path, schema, view="luvit14")
    other = schema.model_copy(update={"smoothing": Smoothing(k=0.3)})
    with pytest.raises(InvalidInput, match="k=0.417"):
        read_targets(path, other)


def test_the_image_training_example_runs_on_a_manifest(manifest):
    import importlib.util
    import math
    from pathlib import Path

    path, _ = manifest
    example = Path(__file__).resolve().parents[2] / "examples" / "gls_image_training.py"
    spec = importlib.util.spec_from_file_location("gls_example", example)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    losses = module.main([str(path), "--view", "chexpert14", "--steps", "4"])
    assert len(losses) == 4 and all(math.isfinite(x) for x in losses)
