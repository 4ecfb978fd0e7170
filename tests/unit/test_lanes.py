"""How the service splits the cores between labeler workers and ONNX Runtime threads."""

from __future__ import annotations

import pytest

from labeler.lanes import plan, run_batch_size, usable_cores


@pytest.mark.parametrize(
    ("workers", "threads", "gpu", "cores", "expected"),
    [
        (None, None, False, 2, (2, 1)),  # the default on a CPU: a worker per core, one thread each
        (None, None, False, 16, (16, 1)),
        (None, 4, False, 16, (4, 4)),  # threads asked for: as many workers as fit
        (None, 32, False, 16, (1, 32)),  # more threads than cores: still one worker
        (1, None, False, 16, (1, None)),  # one worker: ONNX Runtime's own default, all cores
        (4, None, False, 16, (4, 4)),  # workers asked for: the cores shared among them
        (8, None, False, 2, (8, 1)),
        (3, 2, False, 2, (3, 2)),  # both asked for: taken as given
        (None, None, True, 16, (1, None)),  # CUDA: one worker feeds the GPU
        (2, 1, True, 16, (2, 1)),
    ],
)
def test_plan(workers, threads, gpu, cores, expected):
    assert plan(workers, threads, gpu, cores) == expected


def test_usable_cores_is_this_process_affinity():
    assert 1 <= usable_cores() <= 4096


@pytest.mark.parametrize(
    ("threads", "gpu", "expected"), [(1, False, 4), (2, False, 8), (None, False, 8), (1, True, 8)]
)
def test_run_batch_size(threads, gpu, expected):
    assert run_batch_size(threads, gpu) == expected
