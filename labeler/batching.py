"""Length-sorted batching: run a model over token id lists, padding each batch to its longest.

Reports vary from ~15 to ~250 tokens and DeBERTa's relative attention makes padding costly,
so inputs are sorted by length, cut into batches, run, and the outputs put back in input
order. Serving (ONNX), parity checks and training-time evaluation (PyTorch) all use this.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

Ids = npt.NDArray[np.int64]


def run_sorted(
    ids: Sequence[Sequence[int]],
    pad: Callable[[Sequence[Sequence[int]]], tuple[Ids, Ids]],
    run: Callable[[Ids, Ids], npt.NDArray[np.float32]],
    batch_size: int,
) -> npt.NDArray[np.float32]:
    """Run `run(input_ids, attention_mask)` over length-sorted batches.

    Args:
        ids: unpadded token ids per input.
        pad: pads a list of id lists to (input_ids, attention_mask).
        run: the model; returns one output row per input row.
        batch_size: inputs per call of `run`.

    Returns:
        The outputs stacked in input order.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be positive")
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    out: npt.NDArray[np.float32] | None = None
    for k in range(0, len(order), batch_size):
        idx = order[k : k + batch_size]
        result = run(*pad([ids[i] for i in idx]))
        if out is None:
            out = np.zeros((len(ids), *result.shape[1:]), dtype=np.float32)
        out[idx] = result
    return out if out is not None else np.zeros((0,), dtype=np.float32)


def run_sorted_with_rows(
    ids: Sequence[Sequence[int]],
    pad: Callable[[Sequence[Sequence[int]]], tuple[Ids, Ids]],
    run: Callable[[Ids, Ids], tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]],
    batch_size: int,
) -> tuple[npt.NDArray[np.float32], list[npt.NDArray[np.float32]]]:
    """`run_sorted` for a model with a second, per-token output ([batch, ..., length]): the
    first output stacked in input order, the second per input and cut to its own length."""
    rows: dict[int, npt.NDArray[np.float32]] = {}
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    first: npt.NDArray[np.float32] | None = None
    for k in range(0, len(order), batch_size):
        idx = order[k : k + batch_size]
        main, per_token = run(*pad([ids[i] for i in idx]))
        if first is None:
            first = np.zeros((len(ids), *main.shape[1:]), dtype=np.float32)
        first[idx] = main
        for row, i in enumerate(idx):
            rows[i] = per_token[row, ..., : len(ids[i])]
    if first is None:
        return np.zeros((0,), dtype=np.float32), []
    return first, [rows[i] for i in range(len(ids))]
