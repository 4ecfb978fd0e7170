"""Export a trained student to ONNX, check parity, quantize for CPU and halve for GPU.

The graph takes `input_ids` and `attention_mask` (int64, dynamic batch and sequence axes) and
returns `logits` [batch, findings, 8]. Parity is checked against PyTorch on real reports:
fp32 must agree to max |diff| <= 1e-4 (else the export is refused); for int8 the argmax
agreement is reported (int8 is a CPU path: ORT's CUDA provider does not run dynamically
quantized MatMuls). fp16 is the GPU path and is shipped only where it keeps parity: finite
logits and argmax agreement >= 99.5% (fp16 DeBERTa has a record of overflowing, optimum#608).
Without a CUDA provider its parity is measured on the CPU provider, which runs the fp16 weights
but upcasts ops that have no fp16 CPU kernel, so it is an estimate of the GPU figure.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np
import torch

from labeler.batching import run_sorted
from labeler.errors import InferenceError
from labeler.model.backend import OnnxBackend, available_providers
from labeler.model.labeler import ModelLabeler
from labeler.tokenize import ReportEncoder

log = logging.getLogger(__name__)

OPSET = 18
FP32_MAX_DIFF = 1e-4
MIN_AGREEMENT = 0.995


@dataclass
class ParityReport:
    """How closely an ONNX file reproduces PyTorch on a set of reports."""

    variant: str
    n_reports: int
    max_abs_diff: float
    argmax_agreement: float
    provider: str = "CPUExecutionProvider"

    @property
    def finite(self) -> bool:
        """Whether every logit was finite (the difference is NaN or inf otherwise)."""
        return bool(np.isfinite(self.max_abs_diff))

    @property
    def passed(self) -> bool:
        """fp32: max |diff| <= 1e-4; reduced precision: finite and argmax agreement >= 99.5%."""
        if self.variant == "fp32":
            return self.finite and self.max_abs_diff <= FP32_MAX_DIFF
        return self.finite and self.argmax_agreement >= MIN_AGREEMENT

    def to_dict(self) -> dict[str, object]:
        """JSON-ready copy."""
        return {**self.__dict__, "passed": self.passed}

    def summary(self) -> str:
        """One line for the console."""
        return (
            f"{self.variant} ({self.provider}) on {self.n_reports} reports: max|diff| "
            f"{self.max_abs_diff:.2e}, argmax agreement {self.argmax_agreement:.4f}, "
            f"{'passed' if self.passed else 'FAILED'}"
        )


class _Wrapper(torch.nn.Module):
    def __init__(self, student: torch.nn.Module) -> None:
        super().__init__()
        self.student = student

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        # two outputs: the logits, and each finding's attention over the tokens (evidence spans)
        attend = cast(
            Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]], self.student.attend
        )
        return attend(input_ids, attention_mask)


def export_onnx(
    student: torch.nn.Module,
    encoder: ReportEncoder,
    sample_texts: list[str],
    path: Path,
    dynamo: bool = True,
) -> Path:
    """Export a student (or an ensemble of students) to ONNX with dynamic batch and sequence axes.

    Args:
        student: the trained model: `Student` or `Ensemble`, (input_ids, mask) -> logits.
        encoder: its report encoder (for a realistic example input).
        sample_texts: a few reports to trace with.
        path: where to write model.onnx.
        dynamo: use the dynamo exporter (smaller graph); legacy TorchScript otherwise.

    Returns:
        The path written.
    """
    model = _Wrapper(student.float().eval())
    batch = encoder.encode(sample_texts[:2])
    args = (torch.from_numpy(batch.input_ids), torch.from_numpy(batch.attention_mask))
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.inference_mode():
        if dynamo:
            seq = torch.export.Dim("sequence", min=2, max=encoder.max_length)
            bsz = torch.export.Dim("batch", min=1, max=4096)
            shapes = {"input_ids": {0: bsz, 1: seq}, "attention_mask": {0: bsz, 1: seq}}
            program = torch.onnx.export(
                model,
                args,
                dynamo=True,
                dynamic_shapes=shapes,
                opset_version=OPSET,
                input_names=["input_ids", "attention_mask"],
                output_names=["logits", "attention"],
            )
            assert program is not None
            program.save(str(path))
        else:
            axes = {
                "input_ids": {0: "batch", 1: "sequence"},
                "attention_mask": {0: "batch", 1: "sequence"},
                "logits": {0: "batch"},
                "attention": {0: "batch", 2: "sequence"},
            }
            torch.onnx.export(
                model,
                args,
                str(path),
                dynamo=False,
                opset_version=17,
                input_names=["input_ids", "attention_mask"],
                output_names=["logits", "attention"],
                dynamic_axes=axes,
            )
    return path


def quantize_int8(src: Path, dst: Path) -> Path:
    """Dynamic int8 quantization of the MatMul/Gemm weights (CPU path)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul", "Gemm"])
    return dst


def convert_fp16(src: Path, dst: Path) -> Path:
    """fp16 weights and activations with fp32 inputs and outputs (the GPU path).

    ONNX Runtime's converter clamps constants to the fp16 range (the attention mask's fill
    value becomes -65504 instead of overflowing to -inf) and keeps the graph's inputs and the
    logits in fp32, so the labeler feeds and reads every variant the same way.
    """
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = convert_float_to_float16(onnx.load(str(src)), keep_io_types=True)
    onnx.save(model, str(dst))
    return dst


def torch_logits(
    student: torch.nn.Module, encoder: ReportEncoder, texts: list[str], batch_size: int = 32
) -> np.ndarray:
    """PyTorch logits in input order (one batch per `batch_size`, padded to the longest)."""
    from distill.train import predict_logits

    return predict_logits(student.float().eval(), encoder, texts, torch.device("cpu"), batch_size)


def parity(
    reference: np.ndarray,
    onnx_path: Path,
    encoder: ReportEncoder,
    texts: list[str],
    variant: str,
    batch_size: int = 32,
) -> ParityReport:
    """Compare an ONNX file's logits with reference logits on the same texts.

    fp16 runs on the CUDA provider when this onnxruntime build has one (its real target);
    fp32 and int8 always run on the CPU provider.
    """
    providers = available_providers(prefer_gpu=variant == "fp16")
    backend = OnnxBackend(onnx_path, providers)
    ids, _ = encoder.ids(texts)
    got = run_sorted(ids, encoder.pad, backend.run, batch_size)
    if got.shape != reference.shape:
        raise InferenceError(f"ONNX output shape {got.shape} != reference {reference.shape}")
    with np.errstate(invalid="ignore"):
        diff = float(np.abs(got - reference).max())
    return ParityReport(
        variant=variant,
        n_reports=len(texts),
        max_abs_diff=diff if np.isfinite(got).all() else float("nan"),
        argmax_agreement=float((got.argmax(-1) == reference.argmax(-1)).mean()),
        provider=backend.provider,
    )


def verify_bundle(directory: Path, texts: list[str], batch_size: int = 32) -> list[ParityReport]:
    """Check a bundle's int8 and fp16 files against its fp32 file on real reports.

    For a shipped bundle whose training checkpoint is not at hand (the default model on a GPU
    machine, say): the fp32 file matches PyTorch to 1e-4 (the bundle gate), so it stands in as
    the reference. fp16 runs on CUDA where onnxruntime has it.
    """
    fp32 = ModelLabeler.from_bundle(directory, variant="fp32", batch_size=batch_size, prefer_gpu=False)
    reference = fp32.logits(texts)
    out = []
    for variant in ("int8", "fp16"):
        name = getattr(fp32.config.files, variant)
        if name:
            out.append(parity(reference, directory / name, fp32.encoder, texts, variant, batch_size))
    return out
