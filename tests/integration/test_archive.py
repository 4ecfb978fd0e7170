"""label-archive: shards in, manifest shards out, bad rows reported, finished shards skipped."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
from typer.testing import CliRunner

from labeler.cli import app
from labeler.manifest import manifest_metadata
from labeler.model.labeler import ModelLabeler
from labeler.records import Report

runner = CliRunner()


def make_archive(tmp_path, dev_reports):
    src = tmp_path / "in"
    src.mkdir()
    rows = [{"id": r["id"], "text": r["text"]} for r in dev_reports[:30]]
    pq.write_table(pa.Table.from_pylist(rows[:15]), src / "a.parquet")
    lines = [json.dumps(r) for r in rows[15:]]
    lines += [
        json.dumps({"id": "blank", "text": "  "}),
        json.dumps({"text": "no id"}),
        json.dumps({"id": rows[15]["id"], "text": "duplicate"}),
        "{not json",
    ]
    (src / "b.jsonl").write_text("\n".join(lines) + "\n")
    return src, rows


def test_label_archive_local_writes_manifest_shards_and_resumes(tmp_path, tiny_bundle, dev_reports):
    src, rows = make_archive(tmp_path, dev_reports)
    out = tmp_path / "out"
    args = ["label-archive", str(src), str(out), "--model", str(tiny_bundle), "--view", "chexpert14"]
    args += ["--batch-size", "8"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "30 reports labelled" in res.output and "4 rows refused" in res.output
    a, b = pq.read_table(out / "a.parquet"), pq.read_table(out / "b.parquet")
    assert a.column("id").to_pylist() + b.column("id").to_pylist() == [r["id"] for r in rows]
    errors = [json.loads(x) for x in (out / "b.errors.jsonl").read_text().splitlines()]
    assert [e["row"] for e in errors] == [16, 17, 18, 19]
    assert [e["reason"].split(" ")[0] for e in errors] == ["report", "missing", "duplicate", "not"]
    meta = manifest_metadata(out / "a.parquet")
    lab = ModelLabeler.from_bundle(tiny_bundle)
    assert (
        meta["model"] == lab.name and meta["model_sha256"] == lab.sha256 and meta["views"] == '["chexpert14"]'
    )
    # the labels are the labeler's, batch for batch (same batches of 8 as the archive run)
    direct = lab.label([Report(**r) for r in rows[:8]])
    assert a.column("u.pleural_effusion").to_pylist()[:8] == [
        r.findings["pleural_effusion"].u for r in direct
    ]
    # resume: finished shards are skipped, a removed one is redone
    (out / "b.parquet").unlink()
    again = runner.invoke(app, args)
    assert again.exit_code == 0 and "1 already done" in again.output and "15 reports labelled" in again.output
    assert pq.read_table(out / "b.parquet").num_rows == 15
    # a third shard repeating an id of a finished shard: reported as a duplicate on resume
    (src / "c.jsonl").write_text(json.dumps({"id": rows[0]["id"], "text": "No effusion."}) + "\n")
    third = runner.invoke(app, args)
    assert third.exit_code == 0 and "1 rows refused" in third.output
    assert "duplicate id" in (out / "c.errors.jsonl").read_text()


def test_label_archive_errors_are_clear(tmp_path):
    res = runner.invoke(
        app, ["label-archive", str(tmp_path / "nothing*"), str(tmp_path / "o"), "--labeler", "rules"]
    )
    assert res.exit_code == 2 and "no Parquet, JSONL or CSV shards" in res.output
    (tmp_path / "x.jsonl").write_text('{"id": "1", "text": "No effusion."}\n')
    res = runner.invoke(
        app, ["label-archive", str(tmp_path / "x.jsonl"), str(tmp_path / "o"), "--engine", "spark"]
    )
    assert res.exit_code == 2 and "unknown engine" in res.output


def test_ray_engine_in_local_mode_gives_the_local_engines_shards_errors_and_labels(tmp_path, dev_reports):
    """Ray Data on a local 2-CPU Ray, the shipped default model (int8): every output shard and
    errors file equals the local engine's, a cross-shard duplicate included; a rerun skips."""
    import subprocess
    import sys
    from pathlib import Path

    src, rows = make_archive(tmp_path, dev_reports)
    (src / "c.jsonl").write_text(
        "".join(json.dumps({"id": r["id"], "text": r["text"]}) + "\n" for r in dev_reports[30:60])
        + json.dumps({"id": rows[2]["id"], "text": "No effusion."})  # also in a.parquet
        + "\n"
    )
    radlabel = str(Path(sys.executable).parent / "radlabel")

    def run(out: Path, *extra: str) -> str:
        cmd = [
            radlabel,
            "label-archive",
            str(src),
            str(out),
            "--view",
            "chexpert14",
            "--batch-size",
            "16",
            *extra,
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=tmp_path)
        assert done.returncode == 0, done.stderr[-3000:]
        return " ".join(done.stderr.split())  # the console may wrap long lines

    run(tmp_path / "local")
    said = run(tmp_path / "ray", "--engine", "ray", "--ray-cpus", "2")
    assert f"{30 + len(dev_reports[30:60])} reports labelled" in said and "5 rows refused" in said
    for stem in ("a", "b", "c"):
        local, ray = (
            pq.read_table(tmp_path / "local" / f"{stem}.parquet"),
            pq.read_table(tmp_path / "ray" / f"{stem}.parquet"),
        )
        assert local.num_rows > 0 and local.equals(ray) and local.schema.metadata == ray.schema.metadata, stem
        assert (tmp_path / "local" / f"{stem}.errors.jsonl").read_text() == (
            tmp_path / "ray" / f"{stem}.errors.jsonl"
        ).read_text(), stem
    assert "duplicate id" in (tmp_path / "ray" / "c.errors.jsonl").read_text()
    again = run(tmp_path / "ray", "--engine", "ray", "--ray-cpus", "2")
    assert "3 already done" in again
