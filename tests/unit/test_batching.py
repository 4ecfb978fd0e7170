import numpy as np

from labeler.batching import run_sorted


def test_run_sorted_restores_input_order():
    ids = [[1, 2, 3], [4], [5, 6], [7, 8, 9, 10]]

    def pad(batch):
        width = max(len(x) for x in batch)
        arr = np.array([x + [0] * (width - len(x)) for x in batch], dtype=np.int64)
        return arr, (arr > 0).astype(np.int64)

    calls = []

    def run(input_ids, mask):
        calls.append(input_ids.shape)
        return (input_ids.sum(axis=1, keepdims=True)).astype(np.float32)  # one output per row

    out = run_sorted(ids, pad, run, batch_size=2)
    assert out[:, 0].tolist() == [6.0, 4.0, 11.0, 34.0]
    assert calls == [(2, 2), (2, 4)]  # short ones together, long ones together
