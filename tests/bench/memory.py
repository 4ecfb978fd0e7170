"""Memory under new shapes: which ONNX Runtime memory setting keeps a labelling process flat.

The service's 10-minute soaks grew 5-19 MB in steps (BENCHMARKS, "Soak"). This drives the
service's own labeler set-up in process, without HTTP, so a setting can be judged in minutes:
`workers` threads (the service's default plan) label runs of 1..`run batch size` unique dev
reports (a numbered line appended, as real traffic is new text), as the batcher makes them under
32 clients. After the service's warm-up and `--settle` seconds of that load (the tokenizer's
text-keyed cache fills to its bound), RSS is sampled every `--every` seconds for `--seconds`.
Each setting runs in a fresh process (`--child SETTING`), one after the other.

Settings: `shipped` (what `OnnxBackend` makes: memory patterns off), `no-peak` (shipped, but
warmed without the service's peak run), `pattern-on` (ORT's
default, shipped until 2026-12-03: one planned block per input shape, cached per shape), and
three on top of `pattern-on`: `shrink` (the arena hands free chunks back after every run),
`same-as-requested` (an arena that extends by what is asked instead of doubling),
`malloc-arenas-2` (glibc limited to two malloc arenas).

`--texts long` labels long reports instead of dev reports: each one 4-12 dev reports joined
(~200-600 tokens, the longest cut at the model's limit), the load that decides whether the
peak warm-up only brings forward what long reports would grow anyway (`shipped` vs `no-peak`).
Each sample also records glibc malloc's bytes in use / free / mmap'd and Python's block count,
which tell a leak or the token cache (in use grows) from arena growth (mmap'd grows) from pages
of a reserved arena becoming resident (RSS grows alone).

`--speed-rounds N` instead times `shipped` against `pattern-on` in one process, alternating N
rounds: the raw labeler's one call over the dev reports (as the CLI runs it) and the two-worker
load above (`--every` seconds a round). Run: `python -m tests.bench.memory [--settings a,b]
[--seconds 300] [--texts dev|long] [--speed-rounds 3]`; writes results/memory.json (memory_long.json
for long texts) or results/memory_speed.json.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from typing import Any

from tests.bench.common import ROOT, dev_split, fresh, machine, save
from tests.bench.service import rss_mb

SETTINGS = ("shipped", "no-peak", "pattern-on", "shrink", "same-as-requested", "malloc-arenas-2")


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def heap() -> dict[str, float]:
    """Where the RSS sits, to tell a leak from fragmentation: glibc malloc's bytes in use and
    free in its arenas, its mmap'd blocks (all arenas: `mallinfo2`, glibc >= 2.33), and
    Python's allocated blocks (pymalloc maps its own arenas, outside malloc's figures)."""
    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = _MallInfo2
    info = libc.mallinfo2()
    mb = 2**20
    return {
        "malloc_in_use_mb": round(info.uordblks / mb, 1),
        "malloc_free_mb": round(info.fordblks / mb, 1),
        "mmapped_mb": round(info.hblkhd / mb, 1),
        "python_blocks": sys.getallocatedblocks(),
    }


def build(setting: str) -> tuple[Any, int, int]:
    """(model labeler, workers, run batch size) as the service plans them, under one setting."""
    import onnxruntime as ort

    from labeler.bundles import embedded_bundle
    from labeler.lanes import plan, run_batch_size
    from labeler.model.labeler import ModelLabeler

    workers, threads = plan(None, None, False)
    size = run_batch_size(threads, False)
    model = ModelLabeler.from_bundle(embedded_bundle(), batch_size=size, threads=threads, spin=False)
    if setting in ("shipped", "no-peak"):
        return model, workers, size
    backend = model.backend
    options = backend.session.get_session_options()  # OnnxBackend's own, patterns back on
    options.enable_mem_pattern = True
    if setting == "same-as-requested":
        info = ort.OrtMemoryInfo("Cpu", ort.OrtAllocatorType.ORT_ARENA_ALLOCATOR, 0, ort.OrtMemType.DEFAULT)
        # max_mem 0 (no cap), strategy 1 = kSameAsRequested, default chunk sizes
        ort.create_and_register_allocator(info, ort.OrtArenaCfg(0, 1, -1, -1))
        options.add_session_config_entry("session.use_env_allocators", "1")
    backend.session = ort.InferenceSession(str(backend.path), options, providers=["CPUExecutionProvider"])
    if setting == "shrink":
        run_options = ort.RunOptions()
        run_options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
        plain_run = backend.session.run
        backend.session.run = lambda outputs, feeds: plain_run(outputs, feeds, run_options)
    return model, workers, size


def drive(model: Any, workers: int, size: int, texts: list[str], seconds: float, seed: int = 0) -> int:
    """`workers` threads label runs of 1..`size` unique reports for `seconds`; reports labelled."""
    from labeler.records import Report

    lean = model.without_evidence()
    stop = time.monotonic() + seconds
    done = [0] * workers

    def work(k: int) -> None:
        rng = random.Random(seed * 1000 + k)
        n = 0
        while time.monotonic() < stop:
            picked = rng.sample(texts, rng.randint(1, size))
            tag = f"{seed}-{k}-{n}"
            lean.label([Report(id=f"{tag}-{j}", text=fresh(t, f"{tag}-{j}")) for j, t in enumerate(picked)])
            n += 1
            done[k] += len(picked)

    pool = [threading.Thread(target=work, args=(k,)) for k in range(workers)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return sum(done)


def long_texts(texts: list[str], n: int = 400, seed: int = 0) -> list[str]:
    """`n` long reports, each 4-12 dev reports joined: lengths up to and past the model's limit."""
    rng = random.Random(seed)
    return ["\n".join(rng.sample(texts, rng.randint(4, 12))) for _ in range(n)]


def warm(model: Any, workers: int, peak: bool = True) -> None:
    """The service's warm-up: its warm-up reports, then the peak run on every worker."""
    from service.runtime import _warm_at_peak, warmup_reports

    model.label(warmup_reports(20_000))
    if peak:
        _warm_at_peak(model, workers, 20_000)


def child(setting: str, seconds: float, every: float, settle: float, kind: str = "dev") -> dict[str, Any]:
    """Label new runs for `seconds` under one setting; RSS over time and reports done."""
    model, workers, size = build(setting)
    warm(model, workers, peak=setting != "no-peak")
    after_warmup = rss_mb(os.getpid())
    _, texts, _ = dev_split()
    if kind == "long":
        texts = long_texts(texts)
    drive(model, workers, size, texts, settle, seed=1)
    started_rss = rss_mb(os.getpid())
    trace: list[tuple[float, float]] = [(0.0, round(started_rss, 1))]
    heaps = [heap()]
    reports = 0
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds - 1e-3:
        reports += drive(
            model, workers, size, texts, min(every, seconds - (time.monotonic() - t0)), seed=len(trace) + 1
        )
        trace.append((round(time.monotonic() - t0, 1), round(rss_mb(os.getpid()), 1)))
        heaps.append(heap())
    return {
        "setting": setting,
        "texts": kind,
        "workers": workers,
        "run_batch_size": size,
        "reports_per_s": reports / seconds,
        "rss_after_warmup_mb": round(after_warmup, 1),
        "rss_after_settle_mb": round(started_rss, 1),
        "rss_end_mb": trace[-1][1],
        "growth_mb": round(trace[-1][1] - started_rss, 1),
        "growth_second_half_mb": round(trace[-1][1] - trace[len(trace) // 2][1], 1),
        "trace": trace,
        "heap": heaps,
    }


def speed(rounds: int, seconds: float) -> dict[str, Any]:
    """`shipped` vs `pattern-on` in one process, alternating: raw one call and the 2-worker load."""
    from labeler.records import Report

    _, texts, _ = dev_split()
    reports = [Report(id=str(i), text=t) for i, t in enumerate(texts)]
    built = {name: build(name) for name in ("shipped", "pattern-on")}
    for model, workers, _ in built.values():
        warm(model, workers)
    out: dict[str, dict[str, list[float]]] = {name: {"raw": [], "workers": []} for name in built}
    for r in range(rounds):
        for name, (model, workers, size) in built.items():
            t0 = time.perf_counter()
            model.without_evidence().label(reports)
            out[name]["raw"].append(round(len(reports) / (time.perf_counter() - t0), 1))
            out[name]["workers"].append(
                round(drive(model, workers, size, texts, seconds, seed=r) / seconds, 1)
            )
            print(name, "round", r + 1, {k: v[-1] for k, v in out[name].items()}, flush=True)
    return {"machine": machine(), "rounds": rounds, "seconds": seconds, "reports_per_s": out}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--settings", default=",".join(SETTINGS))
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--every", type=float, default=15.0)
    parser.add_argument("--settle", type=float, default=20.0)
    parser.add_argument("--speed-rounds", type=int, default=0)
    parser.add_argument("--texts", choices=("dev", "long"), default="dev")
    parser.add_argument("--child", choices=SETTINGS)
    args = parser.parse_args()
    if args.speed_rounds:
        result = speed(args.speed_rounds, args.every)
        for name, rows in result["reports_per_s"].items():
            print(name, {k: f"{statistics.mean(v):.0f} ({', '.join(map(str, v))})" for k, v in rows.items()})
        save("memory_speed", result)
        return
    if args.child:
        print(json.dumps(child(args.child, args.seconds, args.every, args.settle, args.texts)))
        return
    results = []
    for setting in args.settings.split(","):
        env = dict(os.environ)
        if setting == "malloc-arenas-2":
            env["MALLOC_ARENA_MAX"] = "2"
        command = [sys.executable, "-m", "tests.bench.memory", "--child", setting]
        command += ["--seconds", str(args.seconds), "--every", str(args.every), "--settle", str(args.settle)]
        command += ["--texts", args.texts]
        out = subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True, text=True)
        row = json.loads(out.stdout.strip().splitlines()[-1])
        results.append(row)
        print(
            f"{setting:>18}: after warm-up {row['rss_after_warmup_mb']} MB, after settling "
            f"{row['rss_after_settle_mb']} MB, end {row['rss_end_mb']} MB (+{row['growth_mb']}, second half "
            f"+{row['growth_second_half_mb']}); {row['reports_per_s']:.0f} reports/s",
            flush=True,
        )
    name = "memory" if args.texts == "dev" else f"memory_{args.texts}"
    save(name, {"machine": machine(), "seconds": args.seconds, "settle": args.settle, "results": results})


if __name__ == "__main__":
    main()
