"""CLI round trips: label files in every format, evaluate them, and fail clearly on bad input."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from labeler.cli import app

runner = CliRunner()


def write_jsonl(path: Path, rows: list[dict[str, str]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_label_jsonl_then_eval(tmp_path, dev_reports):
    src = write_jsonl(tmp_path / "in.jsonl", [{"id": r["id"], "text": r["text"]} for r in dev_reports])
    out = tmp_path / "out.jsonl"
    res = runner.invoke(
        app, ["label", str(src), "-o", str(out), "--labeler", "rules", "--view", "chexpert14"]
    )
    assert res.exit_code == 0, res.output
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in recs] == [r["id"] for r in dev_reports]
    assert recs[0]["schema"] == "1" and recs[0]["labeler"] == "rules/1"
    assert set(recs[0]["views"]["chexpert14"]) >= {"Lung Lesion", "Pleural Other"}
    res = runner.invoke(app, ["eval", "--pred", str(out), "--gold", str(DEV_GOLD), "--view", "chexpert14"])
    assert res.exit_code == 2 and "no prediction" in res.output  # 40 of 311 gold reports predicted


DEV_GOLD = Path(__file__).resolve().parents[2] / "data" / "labels" / "dev_gold.jsonl"


def test_eval_gives_hand_computed_metrics(tmp_path):
    gold = write_jsonl(
        tmp_path / "gold.jsonl",
        [
            {"id": "a", "u": {"edema": 3}},
            {"id": "b", "u": {"edema": -3, "pneumothorax": -3}},
            {"id": "c", "u": {"pneumothorax": 1}},
        ],
    )
    pred = write_jsonl(
        tmp_path / "pred.jsonl",
        [
            {"id": "a", "u": {"edema": 3}},
            {"id": "b", "u": {"edema": 3}},
            {"id": "c", "u": {"pneumothorax": 1, "edema": -3}},
        ],
    )
    metrics = tmp_path / "m.json"
    res = runner.invoke(app, ["eval", "--pred", str(pred), "--gold", str(gold), "-o", str(metrics)])
    assert res.exit_code == 0, res.output
    m = json.loads(metrics.read_text())
    # edema: present P 1/2 R 1 -> 2/3, absent 0, weighted by gold support 1:1 -> 1/3
    # pneumothorax: absent 0, uncertain 1 -> 1/2; macro over the two = 5/12
    assert m["per_finding"]["edema"]["f1"] == pytest.approx(1 / 3)
    assert m["per_finding"]["pneumothorax"]["f1"] == pytest.approx(1 / 2)
    assert m["macro_f1"] == pytest.approx(5 / 12)
    # u over 4 gold labels: 2 exact; errors 0, 6, 3 (missed), 0
    assert m["u_exact"] == 0.5 and m["u_mae"] == pytest.approx(2.25)
    assert m["spurious_per_report"] == pytest.approx(1 / 3) and m["missed_per_report"] == pytest.approx(1 / 3)
    assert "macro-F1 0.4167" in res.output and "spurious 0.333" in res.output


def test_label_csv_chexpert_convention(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text('"FINDINGS: Small left pleural effusion. No pneumothorax. Possible pneumonia."\n')
    out = tmp_path / "out.csv"
    res = runner.invoke(app, ["label", str(src), "-o", str(out), "--labeler", "rules", "--format", "csv"])
    assert res.exit_code == 0, res.output
    row = next(csv.DictReader(out.open()))
    assert row["pleural_effusion"] == "1" and row["pneumothorax"] == "0" and row["pneumonia"] == "-1"
    assert row["cardiomegaly"] == "" and row["u_pneumonia"] == "1"


def test_bad_line_fails_or_skips_with_line_number(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text(
        '{"id": "a", "text": "No effusion."}\n{broken\n'
        '{"id": "c", "text": "  "}\n{"id": "d", "text": "Cardiomegaly."}\n'
    )
    out = tmp_path / "out.jsonl"
    res = runner.invoke(app, ["label", str(src), "-o", str(out), "--labeler", "rules"])
    assert res.exit_code == 1 and "in.jsonl:2:" in res.output
    res = runner.invoke(app, ["label", str(src), "-o", str(out), "--labeler", "rules", "--on-error", "skip"])
    assert res.exit_code == 0, res.output
    assert "in.jsonl:3:" in res.output and "2 lines skipped" in res.output
    assert [json.loads(x)["id"] for x in out.read_text().splitlines()] == ["a", "d"]


def test_model_labeler_with_bundle_and_missing_bundle(tmp_path, tiny_bundle):
    src = write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "text": "FINDINGS: No effusion."}])
    out = tmp_path / "out.jsonl"
    res = runner.invoke(app, ["label", str(src), "-o", str(out), "--model", str(tiny_bundle)])
    assert res.exit_code == 0, res.output
    rec = json.loads(out.read_text())
    assert rec["labeler"].startswith("model/int8/") and len(rec["findings"]["nodule"]["probs"]) == 8
    res = runner.invoke(app, ["label", str(src), "-o", str(out), "--model", str(tmp_path / "nope")])
    assert res.exit_code == 2 and "does not exist" in res.output


def test_unknown_view_is_a_clear_error(tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "text": "No effusion."}])
    res = runner.invoke(
        app, ["label", str(src), "-o", str(tmp_path / "o"), "--labeler", "rules", "--view", "nih"]
    )
    assert res.exit_code == 2 and "unknown view" in res.output


def test_installed_entry_point_runs(tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("No pneumothorax.\n")
    out = tmp_path / "out.jsonl"
    bindir = Path(sys.executable).parent
    proc = subprocess.run(
        [str(bindir / "radlabel"), "label", str(src), "-o", str(out), "--labeler", "rules"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(out.read_text())["findings"]["pneumothorax"]["status"] == "absent"
    proc = subprocess.run(
        [str(bindir / "radlabel"), "distill", "--help"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0 and "teach" in proc.stdout


def test_missing_input_is_a_usage_error_and_writes_nothing(tmp_path):
    out = tmp_path / "out.jsonl"
    res = runner.invoke(app, ["label", str(tmp_path / "nope.jsonl"), "-o", str(out), "--labeler", "rules"])
    assert res.exit_code == 2 and "does not exist" in res.output
    assert not out.exists()


def test_bundle_of_an_unfinished_run_is_a_clear_error(tmp_path):
    from distill.cli import app as distill_app

    (tmp_path / "run").mkdir()
    res = runner.invoke(distill_app, ["bundle", str(tmp_path / "run"), "-o", str(tmp_path / "b")])
    assert res.exit_code == 2 and "not a finished training run" in res.output
    assert not (tmp_path / "b").exists()


def test_verify_checks_each_shipped_variant_against_fp32(tmp_path, tiny_bundle_fp16):
    from distill.cli import app as distill_app

    data = Path(__file__).resolve().parents[2] / "data" / "reports.jsonl"
    res = runner.invoke(distill_app, ["verify", str(tiny_bundle_fp16), "--reports", str(data)])
    lines = [line for line in res.output.splitlines() if line.startswith("parity vs the fp32 file")]
    assert [line.split()[5] for line in lines] == ["int8", "fp16"] and all("311 reports" in x for x in lines)
    assert res.exit_code == (0 if all(line.endswith("passed") for line in lines) else 1)
    # fp16 of the tiny model keeps the fp32 decisions
    assert lines[1].endswith("passed")

    res = runner.invoke(distill_app, ["verify", str(tmp_path), "--reports", str(data)])
    assert res.exit_code == 1 and "not a model bundle" in res.output


def test_bundle_refuses_to_overwrite_without_force(tmp_path):
    from distill.cli import app as distill_app

    existing = tmp_path / "b"
    existing.mkdir()
    (existing / "keep.txt").write_text("x")
    res = runner.invoke(distill_app, ["bundle", str(tmp_path / "run"), "-o", str(existing)])
    assert res.exit_code == 2 and "--force" in res.output
    assert (existing / "keep.txt").read_text() == "x"
    # -o is required: no default that could point at the shipped bundle
    res = runner.invoke(distill_app, ["bundle", str(tmp_path / "run")])
    assert res.exit_code == 2 and "--output" in res.output


def test_label_from_another_directory_uses_the_embedded_bundle(tmp_path, dev_reports):
    write_jsonl(tmp_path / "in.jsonl", [{"id": r["id"], "text": r["text"]} for r in dev_reports[:5]])
    env = {k: v for k, v in os.environ.items() if k != "RADLABEL_MODEL"}
    exe = Path(sys.executable).parent / "radlabel"
    proc = subprocess.run(
        [str(exe), "label", "in.jsonl", "-o", "out.jsonl"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    recs = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert len(recs) == 5 and recs[0]["labeler"].startswith("model/int8/")


def test_label_counts_reports_without_body(tmp_path):
    src = write_jsonl(
        tmp_path / "in.jsonl",
        [{"id": "a", "text": "History: rule out pneumonia"}, {"id": "b", "text": "FINDINGS: No effusion."}],
    )
    res = runner.invoke(app, ["label", str(src), "-o", str(tmp_path / "o.jsonl"), "--labeler", "rules"])
    assert res.exit_code == 0 and "1 reports had no FINDINGS or IMPRESSION text" in res.output
    recs = [json.loads(line) for line in (tmp_path / "o.jsonl").read_text().splitlines()]
    assert recs[0]["findings"]["no_finding"]["u"] is None and recs[1]["findings"]["no_finding"]["u"] == 3


def test_label_variant_picks_the_bundle_file(tmp_path, tiny_bundle, dev_reports):
    src = write_jsonl(tmp_path / "in.jsonl", [{"id": r["id"], "text": r["text"]} for r in dev_reports[:3]])
    out = tmp_path / "o.jsonl"
    res = runner.invoke(
        app, ["label", str(src), "-o", str(out), "--model", str(tiny_bundle), "--variant", "fp32"]
    )
    assert res.exit_code == 0, res.output
    assert json.loads(out.read_text().splitlines()[0])["labeler"].startswith("model/fp32/")


def test_profile_prints_writes_json_and_draws(tmp_path):
    labels = write_jsonl(
        tmp_path / "l.jsonl",
        [
            {"id": "a", "u": {"pleural_effusion": 3, "pneumothorax": -3}},
            {"id": "b", "u": {"pleural_effusion": 1}},
        ],
    )
    out, png = tmp_path / "p.json", tmp_path / "p.png"
    res = runner.invoke(
        app, ["profile", str(labels), "-o", str(out), "--view", "chexpert14", "--png", str(png)]
    )
    assert res.exit_code == 0, res.output
    assert "pleural_effusion" in res.output and "ALL findings" in res.output
    prof = json.loads(out.read_text())
    assert prof["findings"]["pleural_effusion"]["hedged_share"] == 0.5
    assert prof["findings"]["pleural_effusion"]["expected_flip_rate"] == pytest.approx(0.2915 / 2)
    assert "Pleural Effusion" in prof["views"]["chexpert14"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bad = runner.invoke(app, ["profile", str(labels), "--view", "nope"])
    assert bad.exit_code == 2 and "unknown view" in bad.output
