"""The model labeler: a distilled student bundle behind the common `Labeler` interface.

Reports are sorted by token length and batched (padding to the longest in each batch, not to
max_length), run through ONNX Runtime, decoded by argmax over (not mentioned, u -3..+3), and
turned into records by the same code as the rule labeler. Records carry the probabilities and,
for bundles whose graph outputs the label-wise attention, evidence spans traced from it
(`labeler.model.evidence`); older bundles give no spans.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np

from labeler.assemble import build_record
from labeler.base import DEFAULT_MAX_CHARS, check_request
from labeler.batching import run_sorted, run_sorted_with_rows
from labeler.decode import logits_to_u, softmax
from labeler.digest import file_sha256
from labeler.errors import ModelLoadError
from labeler.model.backend import OnnxBackend, available_providers
from labeler.model.config import LabelerConfig
from labeler.model.evidence import clauses, spans
from labeler.records import Report, ReportLabels
from labeler.rules.vocab import with_sections
from labeler.schema import Schema, load_schema
from labeler.sections import has_body
from labeler.tokenize import ReportEncoder

log = logging.getLogger(__name__)

Variant = Literal["auto", "fp32", "int8", "fp16"]


def choose_file(config: LabelerConfig, variant: Variant, providers: list[str]) -> tuple[str, str]:
    """Pick the model file: int8 on CPU, fp16 (else fp32) on CUDA, unless asked otherwise.

    Returns:
        (variant name, file name).

    Raises:
        ModelLoadError: the requested variant is not in the bundle.
    """
    on_gpu = providers[0] == "CUDAExecutionProvider"
    if variant == "auto":
        if on_gpu:
            variant = "fp16" if config.files.fp16 else "fp32"
        else:
            variant = "int8" if config.files.int8 else "fp32"
    name = getattr(config.files, variant)
    if not name:
        raise ModelLoadError(f"bundle has no {variant} model")
    return variant, name


class ModelLabeler:
    """Labels reports with an exported student model."""

    def __init__(
        self,
        backend: OnnxBackend,
        encoder: ReportEncoder,
        config: LabelerConfig,
        schema: Schema,
        label_name: str,
        max_chars: int = DEFAULT_MAX_CHARS,
        batch_size: int = 8,
        evidence: bool = True,
    ) -> None:
        self.backend = backend
        self.evidence = evidence  # spans from the attention output, when the graph has it
        self.sha256 = ""  # of the model file, set by from_bundle (manifests record it)
        self.variant = "fp32"  # which bundle file runs, set by from_bundle
        self.encoder = encoder
        self.config = config
        self.schema = schema
        self.max_chars = max_chars
        self.batch_size = batch_size
        self._name = label_name

    @classmethod
    def from_bundle(
        cls,
        directory: Path,
        variant: Variant = "auto",
        max_chars: int = DEFAULT_MAX_CHARS,
        batch_size: int = 8,
        threads: int | None = None,
        prefer_gpu: bool = True,
        spin: bool = True,
    ) -> ModelLabeler:
        """Load a model bundle directory.

        Args:
            directory: the bundle (labeler_config.json, tokenizer.json, model files).
            variant: auto | fp32 | int8 | fp16.
            max_chars: longest report accepted.
            batch_size: reports per ONNX run.
            threads: intra-op threads (ORT default when None).
            prefer_gpu: use CUDA when this onnxruntime build has it.
            spin: let idle ORT threads busy-wait (fastest alone; off when sharing cores).

        Raises:
            ModelLoadError: missing or broken bundle.
            SchemaMismatch: bundle made for another schema version.
        """
        directory = Path(directory)
        if not directory.is_dir():
            raise ModelLoadError(
                f"model bundle {directory} does not exist "
                "(train one with `make model`, or use --labeler rules)"
            )
        config = LabelerConfig.read(directory)
        schema = load_schema()
        config.check(schema)
        providers = available_providers(prefer_gpu)
        chosen, filename = choose_file(config, variant, providers)
        backend = OnnxBackend(directory / filename, providers, threads, spin)
        encoder = ReportEncoder.from_file(
            directory / config.files.tokenizer,
            config.max_length,
            config.special_tokens or None,
            with_sections(config.sections),
        )
        full = file_sha256(directory / filename)
        labeler = cls(backend, encoder, config, schema, f"model/{chosen}/{full[:8]}", max_chars, batch_size)
        labeler.sha256 = full
        labeler.variant = chosen
        return labeler

    def without_evidence(self) -> ModelLabeler:
        """The same model (one session, one tokenizer) labelling without evidence spans.

        Archive labelling keeps u, not spans (a GLS manifest has no place for them), and tracing
        spans costs about a fifth of a report's labelling time; the labels are the same.
        """
        twin = copy.copy(self)
        twin.evidence = False
        return twin

    @property
    def name(self) -> str:
        """`model/<variant>/<sha256 prefix of the model file>`."""
        return self._name

    def health(self) -> bool:
        """Run a one-token batch through the session."""
        ids, mask = self.encoder.pad([[self.encoder.cls_id, self.encoder.sep_id, self.encoder.sep_id]])
        logits = self.backend.run(ids, mask)
        return bool(np.isfinite(logits).all())

    def token_counts(self, texts: Sequence[str]) -> tuple[list[int], list[int]]:
        """Tokens the model reads per text (after truncation) and tokens cut from each."""
        ids, cut = self.encoder.ids(texts)
        return [len(x) for x in ids], cut

    def _ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Model input ids; how many reports were truncated is logged (counts only: report text
        never goes to the logs)."""
        ids, cut = self.encoder.ids(texts)
        truncated = sum(1 for c in cut if c)
        if truncated:
            log.warning(
                "%d of %d reports exceeded %d tokens: FINDINGS cut, IMPRESSION kept",
                truncated,
                len(ids),
                self.encoder.max_length,
            )
        return ids

    def logits(self, texts: Sequence[str]) -> np.ndarray:
        """Logits [reports, findings, 8] in input order, run in length-sorted batches."""
        ids = self._ids(texts)
        return run_sorted(ids, self.encoder.pad, self.backend.run, self.batch_size)

    def label(
        self,
        reports: Sequence[Report],
        views: Sequence[str] = (),
        mapping: str = "default",
    ) -> list[ReportLabels]:
        """Label reports.

        Args:
            reports: the batch.
            views: view names to add.
            mapping: status mapping name.

        Returns:
            One record per report, in input order.

        Raises:
            InvalidInput: empty text, unknown view or mapping.
            InputTooLong: a report over the character limit.
            InferenceError: the ONNX session failed.
        """
        check_request(reports, self.schema, views, mapping, self.max_chars)
        if not reports:
            return []
        texts = [r.text for r in reports]
        attention: list[np.ndarray] | None = None
        if self.evidence and self.backend.has_attention:
            logits, attention = self.logits_and_attention(texts)
        else:
            logits = self.logits(texts)
        probs = softmax(logits)
        keys = self.config.findings
        found = clauses(self.encoder, texts) if attention is not None else None
        out = []
        for n, (report, u, p) in enumerate(zip(reports, logits_to_u(logits, keys), probs, strict=True)):
            prob_map = {k: p[i].tolist() for i, k in enumerate(keys)}
            body = has_body(report.text, self.encoder.vocab)
            evidence = None
            if found is not None and attention is not None and body:
                evidence = {
                    k: spans(report.text, found[n], attention[n][i])
                    for i, k in enumerate(keys)
                    if u.get(k) is not None
                }
            out.append(
                build_record(report.id, u, self.schema, self.name, evidence, prob_map, views, mapping, body)
            )
        return out

    def logits_and_attention(self, texts: Sequence[str]) -> tuple[np.ndarray, list[np.ndarray]]:
        """Logits [reports, findings, 8] and, per report, attention [findings, its length]."""
        ids = self._ids(texts)
        return run_sorted_with_rows(ids, self.encoder.pad, self.backend.run_with_attention, self.batch_size)
