"""Throughput on real dev reports: rules (one core) and the student as torch eager, ORT fp32
and ORT int8, at batch 1 and 32, all measured in one run so the ratios are comparable.

Run: `python -m tests.bench.speed [--model models/default] [--checkpoint runs/default/best ...]`
(one checkpoint per member for an ensemble bundle).
Reports/s include tokenization and decoding (the whole `label` path for the ONNX labelers).
Where onnxruntime has a CUDA provider (onnxruntime-gpu on a GPU machine), ORT fp16 and fp32 are
also timed on the GPU at batch 64 and 256.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path

from labeler.model.backend import available_providers
from labeler.model.config import LabelerConfig
from labeler.model.labeler import ModelLabeler
from labeler.records import Report
from labeler.rules.labeler import RuleLabeler
from tests.bench.common import dev_split, machine, save


def rate(fn: Callable[[], object], n: int, min_seconds: float = 3.0) -> float:
    """Reports per second of `fn` (which labels n reports), best of repeated runs."""
    fn()  # warm-up
    best = 0.0
    spent = 0.0
    runs = 0
    while spent < min_seconds or runs < 2:
        start = time.perf_counter()
        fn()
        took = time.perf_counter() - start
        spent += took
        runs += 1
        best = max(best, n / took)
    return best


def batched(label: Callable[[list[Report]], object], reports: list[Report], size: int) -> Callable[[], None]:
    def run() -> None:
        for k in range(0, len(reports), size):
            label(reports[k : k + size])

    return run


def ort_rates(
    model: Path,
    variant: str,
    reports: list[Report],
    sizes: dict[str, tuple[int, int]],
    threads: int | None,
    gpu: bool,
) -> dict[str, float]:
    """Reports/s of one bundle variant per named (reports per call, reports per ONNX run)."""
    out = {}
    for name, (call, run) in sizes.items():
        lab = ModelLabeler.from_bundle(
            model,
            variant=variant,  # type: ignore[arg-type]
            threads=threads,
            batch_size=run,
            prefer_gpu=gpu,
        )
        out[name] = rate(batched(lab.label, reports, call), len(reports))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", type=Path, default=Path("models/default"))
    parser.add_argument(
        "--checkpoint", type=Path, nargs="+", default=[Path("runs/default/best")], help="one per member"
    )
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    ids, texts, _ = dev_split()
    reports = [Report(id=i, text=t) for i, t in zip(ids, texts, strict=True)]
    n = len(reports)
    rows: dict[str, dict[str, float]] = {}

    # rules on one core: pin the process to CPU 0 for this measurement only
    cpus = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(cpus)})
    rules = RuleLabeler()
    rows["rules (1 core)"] = {
        "b1": rate(batched(rules.label, reports, 1), n),
        "b32": rate(batched(rules.label, reports, 32), n),
    }
    os.sched_setaffinity(0, cpus)

    if all(c.is_dir() for c in args.checkpoint):
        import torch

        from distill.ensemble import load_model
        from labeler.tokenize import ReportEncoder

        torch.set_num_threads(args.threads)
        student = load_model(args.checkpoint).eval()
        enc = ReportEncoder.from_file(args.model / "tokenizer.json", 256)

        def eager(batch: list[Report]) -> None:
            b = enc.encode([r.text for r in batch])
            with torch.inference_mode():
                student(torch.from_numpy(b.input_ids), torch.from_numpy(b.attention_mask))

        rows[f"student torch eager ({args.threads} threads)"] = {
            "b1": rate(batched(eager, reports, 1), n),
            "b32": rate(batched(eager, reports, 32), n),
        }
    if args.model.is_dir():
        cpu_sizes = {"b1": (1, 1), "b32": (32, 32), "all": (n, 8)}
        for variant in ("fp32", "int8"):
            rows[f"student ORT {variant} ({args.threads} threads)"] = ort_rates(
                args.model, variant, reports, cpu_sizes, args.threads, gpu=False
            )
        if "CUDAExecutionProvider" in available_providers(prefer_gpu=True):
            gpu_sizes = {"b1": (1, 1), "b32": (32, 32), "b64": (64, 64), "b256": (256, 256)}
            shipped = LabelerConfig.read(args.model).files
            for variant in ("fp16", "fp32"):
                if not getattr(shipped, variant):
                    continue
                rows[f"student ORT {variant} (CUDA)"] = ort_rates(
                    args.model, variant, reports, gpu_sizes, None, gpu=True
                )

    print(f"Reports/s on {n} dev reports; {machine()}\n")
    print(
        f"| labeler | batch 1 | batch 32 | one call of {n} (length-sorted, batches of 8) |\n|---|---|---|---|"
    )
    for name, r in rows.items():
        whole = f"{r['all']:.0f}" if "all" in r else "-"
        print(f"| {name} | {r['b1']:.0f} | {r['b32']:.0f} | {whole} |")
    gpu_rows = {name: r for name, r in rows.items() if "b64" in r}
    if gpu_rows:
        print("\n| labeler (GPU) | batch 64 | batch 256 |\n|---|---|---|")
        for name, r in gpu_rows.items():
            print(f"| {name} | {r['b64']:.0f} | {r['b256']:.0f} |")
    save("speed", {"machine": machine(), "reports": n, "reports_per_s": rows})


if __name__ == "__main__":
    main()
