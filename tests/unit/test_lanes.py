"""How the service splits the cores between labeler workers and ONNX Runtime threads."""

from __future__ import annotations

import pytest

from labeler.lanes import cpu_quota, plan, run_batch_size, usable_cores


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


def _tree(tmp_path, proc: str, files: dict[str, str]):
    root = tmp_path / "cgroup"
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    root.mkdir(exist_ok=True)
    (tmp_path / "proc_cgroup").write_text(proc)
    return root, tmp_path / "proc_cgroup"


@pytest.mark.parametrize(
    ("proc", "files", "expected"),
    [
        # cgroup v2 inside a container (docker --cpus 1.5): its cgroup at the mount root
        ("0::/\n", {"cpu.max": "150000 100000\n"}, 1.5),
        ("0::/\n", {"cpu.max": "max 100000\n"}, None),  # v2, no quota
        # v2 on a host: the process's own cgroup, and a tighter quota on its parent wins
        (
            "0::/app.slice/radlabel\n",
            {"app.slice/radlabel/cpu.max": "400000 100000", "app.slice/cpu.max": "200000 100000"},
            2.0,
        ),
        # v1 (hybrid hosts, like this VM): the cpu controller's quota over its period
        (
            "4:memory:/x\n1:cpu,cpuacct:/\n0::/\n",
            {"cpu,cpuacct/cpu.cfs_quota_us": "50000", "cpu,cpuacct/cpu.cfs_period_us": "100000"},
            0.5,
        ),
        ("1:cpu:/\n", {"cpu/cpu.cfs_quota_us": "-1", "cpu/cpu.cfs_period_us": "100000"}, None),
        # v1 without a cgroup namespace: the path named in /proc is not in the mount; the root is read
        ("1:cpu:/docker/abc\n", {"cpu/cpu.cfs_quota_us": "300000", "cpu/cpu.cfs_period_us": "100000"}, 3.0),
        ("0::/\n", {"cpu.max": "junk"}, None),  # unreadable: no limit known
        ("", {}, None),
    ],
)
def test_cpu_quota_reads_cgroup_v1_and_v2(tmp_path, proc, files, expected):
    root, proc_cgroup = _tree(tmp_path, proc, files)
    assert cpu_quota(root, proc_cgroup) == expected


def test_usable_cores_is_capped_by_the_quota(monkeypatch):
    import labeler.lanes as lanes

    monkeypatch.setattr(lanes, "cpu_quota", lambda: 0.5)
    assert usable_cores() == 1
    monkeypatch.setattr(lanes, "cpu_quota", lambda: 4096.0)  # a quota above the affinity: the affinity
    assert usable_cores() == len(lanes.os.sched_getaffinity(0))


@pytest.mark.parametrize(
    ("threads", "gpu", "expected"), [(1, False, 4), (2, False, 8), (None, False, 8), (1, True, 8)]
)
def test_run_batch_size(threads, gpu, expected):
    assert run_batch_size(threads, gpu) == expected
