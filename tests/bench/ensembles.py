"""What ensembling trained runs buys on dev: every run alone, every pair, and all of them.

Each ensemble is the mean of its members' logits, exactly what `distill bundle RUN RUN ...`
exports. Run: `python -m tests.bench.ensembles runs/a runs/b runs/c ...` (finished training
runs sharing a tokenizer). Writes tests/bench/results/ensembles.json.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import numpy as np
import torch

from distill.bundle import read_runs
from distill.student import Student
from distill.train import predict_logits
from labeler.decode import logits_to_u
from labeler.metrics import evaluate
from labeler.schema import load_schema
from labeler.tokenize import ReportEncoder
from tests.bench.common import dev_split, machine, save


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("runs", type=Path, nargs="+")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    runs = read_runs(args.runs)  # refuses runs that cannot share one bundle
    schema = load_schema()
    ids, texts, gold = dev_split()
    encoder = ReportEncoder.from_file(runs.tokenizer, runs.max_length)
    logits = {
        d.name: predict_logits(Student.load(c), encoder, texts, torch.device("cpu"))
        for d, c in zip(args.runs, runs.checkpoints, strict=True)
    }

    def score(names: tuple[str, ...]) -> tuple[float, float, float]:
        mean = np.mean([logits[n] for n in names], axis=0)
        r = evaluate(dict(zip(ids, logits_to_u(mean, schema.keys), strict=True)), gold, schema)
        return r.macro_f1, r.per_status["uncertain"]["f1"], r.u_exact

    scores = {c: score(c) for k in (1, 2) for c in itertools.combinations(logits, k)}
    single = {c[0]: v for c, v in scores.items() if len(c) == 1}
    pairs = {c: v for c, v in scores.items() if len(c) == 2}
    gain = [np.subtract(v, np.add(single[a], single[b]) / 2) for (a, b), v in pairs.items()]
    print(f"Dev split ({len(ids)} reports), {machine()}\n")
    print("| members | dev macro-F1 | pooled uncertain F1 | u exact |\n|---|---|---|---|")
    for names, (f1, unc, exact) in scores.items():
        print(f"| {' + '.join(names)} | {f1:.4f} | {unc:.3f} | {exact:.3f} |")
    if pairs:
        g = np.array(gain)
        print(f"\npairs: {len(pairs)}; pair minus the mean of its members, mean (min, max):")
        for i, name in enumerate(("macro-F1", "uncertain F1", "u exact")):
            print(f"- {name}: {g[:, i].mean():+.4f} ({g[:, i].min():+.4f}, {g[:, i].max():+.4f})")
    every = score(tuple(logits))
    print(
        f"\nall {len(logits)}: macro-F1 {every[0]:.4f}, uncertain F1 {every[1]:.3f}, u exact {every[2]:.3f}"
    )
    save(
        "ensembles",
        {
            "machine": machine(),
            "single": single,
            "pairs": {" + ".join(c): v for c, v in pairs.items()},
            "all": every,
        },
    )


if __name__ == "__main__":
    main()
