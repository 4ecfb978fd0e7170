"""ONNX Runtime session of the student: CUDA provider when present, CPU otherwise.

Input names are read from the session (`token_type_ids` exists only when the encoder has a
type vocabulary), and every ORT failure is wrapped in a typed labeler error.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from labeler.errors import InferenceError, ModelLoadError
from labeler.lanes import quota_threads


def available_providers(prefer_gpu: bool = True) -> list[str]:
    """Providers to use, best first: CUDA when this onnxruntime build offers it, then CPU."""
    have = ort.get_available_providers()
    out = ["CUDAExecutionProvider"] if prefer_gpu and "CUDAExecutionProvider" in have else []
    return [*out, "CPUExecutionProvider"]


class OnnxBackend:
    """One inference session of a student ONNX file."""

    def __init__(
        self, path: Path, providers: list[str] | None = None, threads: int | None = None, spin: bool = True
    ) -> None:
        if not path.is_file():
            raise ModelLoadError(f"model file {path} does not exist")
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # errors only: an fp16 graph on the CPU provider warns once per node it cannot fold
        options.log_severity_level = 3
        # No memory patterns: ORT caches one per input shape and reserves each as one block, so
        # new (batch, length) pairs grew the arena in steps (two workers labelling new reports:
        # +10 MB in 5 minutes after 20 s of settling; off: +0.7 MB, and no slower; a served
        # hour: +2.8 MB. `python -m tests.bench.memory`). Reports always come in new shapes.
        options.enable_mem_pattern = False
        if not spin:
            # idle intra-op threads then sleep instead of busy-waiting: a server shares its cores
            # with the event loop, and spinning threads starve it between runs
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        threads = threads or quota_threads()  # a container's CPU quota, when one caps the cores
        if threads:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(
                str(path), options, providers=providers or available_providers()
            )
        except Exception as exc:  # ORT raises its own Fail/InvalidGraph types, not exported
            raise ModelLoadError(f"cannot load {path}: {exc}") from exc
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.path = path

    @property
    def has_attention(self) -> bool:
        """True when the graph also outputs each finding's attention over the tokens (evidence)."""
        return "attention" in self.output_names

    @property
    def provider(self) -> str:
        """The provider that runs the session."""
        return str(self.session.get_providers()[0])

    def run(
        self, input_ids: npt.NDArray[np.int64], attention_mask: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.float32]:
        """Logits [batch, findings, classes].

        Raises:
            InferenceError: ORT failed on the batch.
        """
        return self._run(input_ids, attention_mask, ["logits"] if self.has_attention else None)[0]

    def run_with_attention(
        self, input_ids: npt.NDArray[np.int64], attention_mask: npt.NDArray[np.int64]
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        """Logits and attention [batch, findings, length] (the graph must have the output).

        Raises:
            InferenceError: ORT failed on the batch.
        """
        logits, attention = self._run(input_ids, attention_mask, ["logits", "attention"])
        return logits, attention

    def _run(
        self,
        input_ids: npt.NDArray[np.int64],
        attention_mask: npt.NDArray[np.int64],
        outputs: list[str] | None,
    ) -> list[npt.NDArray[np.float32]]:
        feeds: dict[str, npt.NDArray[np.int64]] = {}
        for name in self.input_names:
            if name == "input_ids":
                feeds[name] = input_ids
            elif name == "attention_mask":
                feeds[name] = attention_mask
            elif name == "token_type_ids":
                feeds[name] = np.zeros_like(input_ids)
            else:
                raise InferenceError(f"model has an unexpected input {name!r}")
        try:
            out = self.session.run(outputs, feeds)
        except Exception as exc:
            raise InferenceError(f"inference failed: {exc}") from exc
        return [np.asarray(o, dtype=np.float32) for o in out]
