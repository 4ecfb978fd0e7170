"""Generalized label smoothing (GLS) guided by the radiologist's certainty u.

The image-training job downstream turns each finding's u into a smoothing rate and a soft
target: confident statements (|u| = 3) give a negative rate, which sharpens the label past
0/1, and hedged ones give a rate near 1, which pulls it to 0.5. Everything here is numpy and
vectorised; the PyTorch loss lives in `distill.losses` because this package never imports torch.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

from labeler.errors import InvalidInput
from labeler.schema import Smoothing

FloatArray = npt.NDArray[np.float64]
NotMentionedPolicy = Literal["negative", "ignore"]


def _as_u(u: npt.ArrayLike) -> FloatArray:
    arr = np.asarray(u, dtype=np.float64)
    finite = arr[~np.isnan(arr)]
    if finite.size and (np.any(np.abs(finite) > 3) or np.any(finite != np.round(finite))):
        raise InvalidInput("u must be an integer in -3..3 (NaN for not mentioned)")
    return arr


def smoothing_rate(u: npt.ArrayLike, params: Smoothing | None = None) -> FloatArray:
    """Smoothing rate r(u) = r0 - k*|u|.

    Args:
        u: certainties in -3..3 (NaN = not mentioned, passed through as NaN).
        params: k and r0; the schema defaults when None.

    Returns:
        r with the shape of u.
    """
    p = params or Smoothing()
    return p.r0 - p.k * np.abs(_as_u(u))


def hard_label(u: npt.ArrayLike) -> FloatArray:
    """Hard label y = 1 if u > 0 else 0 (u = 0 gives 0; its target is 0.5 anyway)."""
    arr = _as_u(u)
    return np.where(np.isnan(arr), np.nan, (arr > 0).astype(np.float64))


def soft_target(u: npt.ArrayLike, params: Smoothing | None = None) -> FloatArray:
    """GLS target of the positive class, t = (1 - r)*y + r/2.

    Args:
        u: certainties in -3..3 (NaN = not mentioned, passed through as NaN).
        params: k and r0; the schema defaults when None.

    Returns:
        t with the shape of u; it equals 0.5 + k*u/2 when r0 = 1.
    """
    r = smoothing_rate(u, params)
    y = hard_label(u)
    return (1.0 - r) * y + r / 2.0


def two_class_target(u: npt.ArrayLike, params: Smoothing | None = None) -> FloatArray:
    """The two-class GLS target [1 - t, t], stacked on a new last axis."""
    t = soft_target(u, params)
    return np.stack([1.0 - t, t], axis=-1)


def training_arrays(
    u: npt.ArrayLike,
    params: Smoothing | None = None,
    policy: NotMentionedPolicy = "negative",
    warmup: bool = False,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Targets, rates and a loss mask for a batch, with the consumer's policies applied.

    Args:
        u: certainties, NaN where the finding is not mentioned.
        params: k and r0.
        policy: `negative` makes not-mentioned findings a hard negative (t = 0, r = 0);
            `ignore` masks them out of the loss.
        warmup: during warm-up epochs only |u| = 3 enters the loss.

    Returns:
        (t, r, mask) with the shape of u; mask is 1.0 where the entry counts.

    Raises:
        InvalidInput: an unknown policy.
    """
    if policy not in ("negative", "ignore"):
        raise InvalidInput(f"unknown not-mentioned policy {policy!r}")
    arr = _as_u(u)
    missing = np.isnan(arr)
    t = np.where(missing, 0.0, soft_target(np.where(missing, 0, arr), params))
    r = np.where(missing, 0.0, smoothing_rate(np.where(missing, 0, arr), params))
    mask = np.ones_like(arr) if policy == "negative" else (~missing).astype(np.float64)
    if warmup:
        mask = mask * (np.where(missing, policy == "negative", np.abs(arr) == 3)).astype(np.float64)
    return t, r, mask
