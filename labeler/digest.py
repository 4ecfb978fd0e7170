"""SHA-256 of files, read in blocks: model bundles, pretrained weights and label files are
identified by it (cards, manifests, pins), and a 350 MB model should not be read into memory."""

from __future__ import annotations

import hashlib
from pathlib import Path


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file."""
    h = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
