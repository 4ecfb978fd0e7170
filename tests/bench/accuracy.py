"""Dev-split accuracy: rules vs student fp32 / int8 / fp16, every metric of LABELS.md.

fp16 (the GPU file) runs on the CPU provider here unless onnxruntime has CUDA.

Run: `python -m tests.bench.accuracy [--model models/default]`. Prints a markdown table for
BENCHMARKS.md and writes tests/bench/results/accuracy.json (accuracy-<dir name>.json for a
bundle other than models/default, e.g. `--model models/ensemble`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from labeler.metrics import EvalResult, evaluate
from labeler.model.config import LabelerConfig
from labeler.model.labeler import ModelLabeler
from labeler.records import Report
from labeler.rules.labeler import RuleLabeler
from labeler.schema import load_schema
from tests.bench.common import dev_split, machine, save


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", type=Path, default=Path("models/default"))
    args = parser.parse_args()
    schema = load_schema()
    ids, texts, gold = dev_split()
    reports = [Report(id=i, text=t) for i, t in zip(ids, texts, strict=True)]
    results: dict[str, EvalResult] = {}
    labelers = {"rules": RuleLabeler()}
    for variant in ("fp32", "int8", "fp16"):
        if args.model.is_dir() and getattr(LabelerConfig.read(args.model).files, variant):
            labelers[f"student {variant}"] = ModelLabeler.from_bundle(
                args.model,
                variant=variant,  # type: ignore[arg-type]
                prefer_gpu=variant == "fp16",
            )  # type: ignore[assignment]
    for name, lab in labelers.items():
        pred = {r.id: r.u_map() for r in lab.label(reports)}
        results[name] = evaluate(pred, gold, schema)
    names = list(results)
    lines = [
        f"Dev split ({len(ids)} reports), {machine()}",
        "",
        "| metric | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]

    def row(label: str, fn) -> None:  # type: ignore[no-untyped-def]
        lines.append(f"| {label} | " + " | ".join(fn(results[n]) for n in names) + " |")

    row("macro-F1", lambda r: f"{r.macro_f1:.4f}")
    for s in ("present", "absent", "uncertain"):
        row(f"pooled F1 {s}", lambda r, s=s: f"{r.per_status[s]['f1']:.3f}")
    row("u exact match", lambda r: f"{r.u_exact:.3f}")
    row("u MAE", lambda r: f"{r.u_mae:.3f}")
    row("u kappa (quadratic)", lambda r: f"{r.u_kappa:.3f}")
    for key in schema.keys:
        row(f"F1 {key}", lambda r, k=key: f"{r.per_finding[k]['f1']:.3f}")
    print("\n".join(lines))
    # the default bundle's figures are BENCHMARKS.md's main table; any other bundle gets its own file
    name = "accuracy" if args.model.name == "default" else f"accuracy-{args.model.name}"
    scores = {n: r.to_dict() for n, r in results.items()}
    save(name, {"model": str(args.model), "machine": machine(), "results": scores})


if __name__ == "__main__":
    main()
