"""The built wheel carries what a non-editable install needs: the embedded default bundle."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_wheel_ships_the_default_bundle_and_package_data(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path), "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    wheel = next(tmp_path.glob("radlabel-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    bundle = {p.name for p in (ROOT / "models" / "default").iterdir()}
    assert {f"radlabel_models/default/{n}" for n in bundle} <= names
    assert "labeler/resources/schema_v1.json" in names
    assert {"distill/resources/guide_v1.md", "distill/resources/guide_v2.md"} <= names
    assert any(n.startswith("service/") for n in names)
