"""How many labeler runs go at once, and with how many ONNX Runtime threads each.

Measured on the 2-core dev VM (BENCHMARKS, "Service"): a run of the default student over one to
sixteen reports keeps a second intra-op thread only about half busy, so two runs side by side
with one thread each label 1.2-2x as many reports per second as one run with two threads. A single
whole-archive call is the exception (its sorted batches parallelise well inside the run); the
service, whose runs are small, runs one worker per core. On CUDA the GPU serialises runs, so
one worker feeds it.
"""

from __future__ import annotations

import os


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity; a CFS quota is not visible here)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def plan(
    workers: int | None, threads: int | None, gpu: bool, cores: int | None = None
) -> tuple[int, int | None]:
    """(workers, intra-op threads per worker; None = ONNX Runtime's default, all cores).

    Args:
        workers: asked for, or None for the default.
        threads: asked for, or None for the default.
        gpu: the session runs on CUDA.
        cores: usable cores (this process's when None).
    """
    if gpu:
        return workers or 1, threads
    cores = cores or usable_cores()
    if workers is None:
        per = threads or 1
        return max(1, cores // per), per
    if threads is None and workers > 1:
        threads = max(1, cores // workers)
    return workers, threads


def run_batch_size(threads: int | None, gpu: bool) -> int:
    """Reports per ONNX Runtime run inside one labeler call, when not set.

    A call sorts its reports by length and runs them in sub-batches; every report is padded to
    the longest of its sub-batch, and DeBERTa's relative attention makes padding dear. With one
    thread per worker, runs of 4 labelled 1.1-1.4x as fast as runs of 8 at 32 requests in flight
    and about as fast with 128 (BENCHMARKS, "Service"); a multi-thread run needs the larger
    runs to keep its threads busy, and a GPU far larger ones (set it there).
    """
    return 4 if threads == 1 and not gpu else 8
