"""Model outputs to certainties: argmax over (not mentioned, u = -3..+3) per finding.

Shared by the model labeler and the training recipe, so evaluation during training decodes
exactly as serving does.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from labeler.schema import class_to_u


def softmax(logits: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Softmax over the last axis, numerically stable."""
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    out: npt.NDArray[np.float32] = (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)
    return out


def logits_to_u(logits: npt.NDArray[np.float32], keys: Sequence[str]) -> list[dict[str, int | None]]:
    """Argmax class per finding -> u-map per report.

    Args:
        logits: [reports, findings, 8].
        keys: finding keys in head order.

    Returns:
        One finding -> u (None = not mentioned) map per report.
    """
    classes = logits.argmax(axis=-1)
    return [{k: class_to_u(int(c)) for k, c in zip(keys, row, strict=True)} for row in classes]
