"""Shared fixtures: the committed tiny model bundle (a fresh copy per test) and sample data."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
DATA = ROOT / "data"


@pytest.fixture(scope="session")
def tiny_bundle_src() -> Path:
    """The committed tiny bundle (read-only: copy before changing it)."""
    path = FIXTURES / "tiny_bundle"
    assert (path / "labeler_config.json").is_file(), "run tests/fixtures/make_tiny_bundle.py"
    return path


@pytest.fixture
def tiny_bundle(tiny_bundle_src: Path, tmp_path: Path) -> Path:
    """A per-test copy of the tiny bundle."""
    dst = tmp_path / "bundle"
    shutil.copytree(tiny_bundle_src, dst)
    return dst


@pytest.fixture
def tiny_bundle_fp16(tiny_bundle: Path) -> Path:
    """The per-test tiny bundle plus an fp16 file made by the export code, listed in its config."""
    from distill.export import convert_fp16
    from labeler.model.config import LabelerConfig

    convert_fp16(tiny_bundle / "model.onnx", tiny_bundle / "model.fp16.onnx")
    config = LabelerConfig.read(tiny_bundle)
    config.files.fp16 = "model.fp16.onnx"
    config.write(tiny_bundle)
    return tiny_bundle


@pytest.fixture(scope="session")
def dev_reports() -> list[dict[str, str]]:
    """The first 40 dev reports of the shipped corpus."""
    out = []
    with (DATA / "reports.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            obj = json.loads(line)
            if obj["split"] == "dev":
                out.append(obj)
            if len(out) == 40:
                break
    return out
