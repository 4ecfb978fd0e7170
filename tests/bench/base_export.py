"""The `base` student shape through export, fp32 and fp16 parity, on this machine.

Random initial weights (base-size training belongs on a GPU): this checks that the export
path and the fp16 gate work at DeBERTa-v3-base shape, not what a trained base model scores.
Run: `python -m tests.bench.base_export [--reports 64]`.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from distill.export import convert_fp16, export_onnx, parity, torch_logits
from distill.student import build_student
from labeler.schema import load_schema
from labeler.tokenize import ReportEncoder
from tests.bench.common import DATA, dev_split, machine


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reports", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    texts = dev_split()[1][: args.reports]
    enc = ReportEncoder.from_file(DATA / "tokenizer.json", 256)
    torch.manual_seed(0)
    student = build_student(load_schema().keys, "base", enc.tokenizer.get_vocab_size(), 256, enc.pad_id)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        start = time.perf_counter()
        export_onnx(student, enc, texts, out / "model.onnx")
        took = time.perf_counter() - start
        ref = torch_logits(student, enc, texts, batch_size=8)
        checks = [parity(ref, out / "model.onnx", enc, texts, "fp32", 8)]
        checks.append(parity(ref, convert_fp16(out / "model.onnx", out / "m16.onnx"), enc, texts, "fp16", 8))
        sizes = {p.name: p.stat().st_size / 1e6 for p in out.iterdir()}
    print(f"base shape, {machine()}: export {took:.0f} s, sizes MB {sizes}")
    for c in checks:
        print(c.summary())


if __name__ == "__main__":
    main()
