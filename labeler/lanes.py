"""How many labeler runs go at once, and with how many ONNX Runtime threads each.

Measured on the 2-core dev VM (BENCHMARKS, "Service"): a run of the default student over one to
sixteen reports keeps a second intra-op thread only about half busy, so two runs side by side
with one thread each label 1.2-2x as many reports per second as one run with two threads. A single
whole-archive call is the exception (its sorted batches parallelise well inside the run); the
service, whose runs are small, runs one worker per core. On CUDA the GPU serialises runs, so
one worker feeds it. The cores are those the process may use: its affinity, capped by the CPU
quota of its cgroup (a container run with `--cpus`).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_CGROUP = Path("/proc/self/cgroup")


def _limits(directory: Path) -> float | None:
    """CPUs one cgroup directory's CFS quota allows (v2 `cpu.max`, v1 `cpu.cfs_quota_us` over
    `cpu.cfs_period_us`), or None when it sets none."""
    try:
        v2 = directory / "cpu.max"
        if v2.is_file():
            quota, period = v2.read_text().split()[:2]
            return None if quota == "max" else int(quota) / int(period)
        v1 = directory / "cpu.cfs_quota_us"
        if v1.is_file():
            quota_us = int(v1.read_text())
            period_us = int((directory / "cpu.cfs_period_us").read_text())
            return None if quota_us <= 0 else quota_us / period_us
    except (OSError, ValueError):  # unreadable or unexpected: no limit known
        return None
    return None


def cpu_quota(root: Path = CGROUP_ROOT, proc_cgroup: Path = PROC_CGROUP) -> float | None:
    """CPUs the CFS quota of this process's cgroup (or of any cgroup above it) allows; None when
    no quota is set or no cgroup file is readable (not Linux).

    `docker run --cpus 2` on a 16-core host sets such a quota: the affinity still shows 16
    cores, and 16 one-thread workers would share two cores' worth of time. Both cgroup v2 and
    v1 (hybrid hosts mount the cpu controller under `cpu` or `cpu,cpuacct`) are read; the
    process's own cgroup path and every directory up to the mount root count, so a container
    that sees its cgroup at the mount root is read right too.
    """
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        return None
    found: list[float] = []
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        if controllers == "":  # v2
            mount = root / "unified" if (root / "unified").is_dir() else root
        elif "cpu" in controllers.split(","):
            mount = root / controllers
            if not mount.is_dir():
                mount = root / "cpu"
        else:
            continue
        directory = mount / path.lstrip("/")
        for candidate in (directory, *directory.parents):
            limit = _limits(candidate)
            if limit is not None:
                found.append(limit)
            if candidate == mount:
                break
    return min(found) if found else None


def _affinity() -> int:
    """Cores the scheduler lets this process run on (every core where there is no affinity)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def usable_cores() -> int:
    """Cores this process may run on: its CPU affinity, capped by its cgroup's CPU quota
    (rounded up: 1.5 CPUs' quota keeps two workers busy half the time each)."""
    cores = _affinity()
    quota = cpu_quota()
    return cores if quota is None else max(1, min(cores, math.ceil(quota)))


def quota_threads() -> int | None:
    """Intra-op threads for a session asked for none: ONNX Runtime's own default (None: a thread
    per physical core it sees) unless a CPU quota leaves fewer cores than the affinity shows;
    then the quota's cores, or ORT's threads would take turns on too few CPUs' worth of time."""
    cores = usable_cores()
    return cores if cores < _affinity() else None


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
