"""The labeler, its batcher and readiness: built off the event loop, once per process.

Loading a bundle and warming ONNX Runtime takes a while, so the service starts answering
/healthz at once and loads in a background thread; /readyz and the labelling routes answer 503
until the warm-up runs are done. Archive jobs are accepted and stored from the start; their
worker starts with the batcher and first resumes jobs a restart interrupted. Shutdown (after
uvicorn has drained in-flight requests) stops the job worker after its current chunk and lets
the batcher finish what is queued.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labeler.base import Labeler
from labeler.batcher import DynamicBatcher, TokenCounter, word_counts
from labeler.errors import LabelerError
from labeler.lanes import plan, run_batch_size
from labeler.model.backend import available_providers
from labeler.model.labeler import ModelLabeler
from labeler.records import Report
from labeler.schema import Schema, load_schema
from service.jobfiles import JobFiles
from service.jobrunner import BackgroundLabeler, JobRunner
from service.jobstore import JobStore
from service.metrics import ServiceMetrics
from service.settings import ServiceSettings

log = logging.getLogger("radlabel.service")

# a short and a long report: ORT sizes its buffers on the first runs of each shape
WARMUP_TEXTS = (
    "FINDINGS: The heart is normal in size. The lungs are clear. IMPRESSION: No acute disease.",
    "FINDINGS: "
    + "Stable mild cardiomegaly. Small left pleural effusion, possibly atelectasis. " * 20
    + "IMPRESSION: Cardiomegaly. Small effusion.",
)


@dataclass
class ModelInfo:
    """What GET /v1/model tells about the labeler being served."""

    name: str
    provider: str
    threads: int | None
    workers: int = 1
    card: dict[str, Any] = field(default_factory=dict)


def _card_summary(bundle: Path, model: ModelLabeler) -> dict[str, Any]:
    """The served file, its sha256, and the card's dev metrics and licence for that variant."""
    path = bundle / "card.json"
    card = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    return {
        "bundle": bundle.name,
        "file": model.backend.path.name,
        "variant": model.variant,
        "sha256": model.sha256,
        "architecture": model.config.architecture,
        "created": card.get("created"),
        "licence": card.get("data", {}).get("licence"),
        "dev_metrics": _headline(card.get("dev_metrics", {}).get(model.variant, {})),
    }


def _headline(metrics: dict[str, Any]) -> dict[str, Any]:
    """The dev figures a client cares about, not the whole per-finding table."""
    per_status = metrics.get("per_status", {})
    return {
        "n_reports": metrics.get("n_reports"),
        "macro_f1": metrics.get("macro_f1"),
        "uncertain_f1": per_status.get("uncertain", {}).get("f1"),
        "u_exact": metrics.get("u_exact"),
    }


def warmup_reports(max_chars: int) -> list[Report]:
    """The warm-up's reports, cut to the character limit: a service set to accept only short
    reports must still turn ready."""
    return [Report(id=f"warmup-{i}", text=t[:max_chars]) for i, t in enumerate(WARMUP_TEXTS)]


def _peak_text(model: ModelLabeler, max_chars: int) -> str:
    """The longest report of the warm-up's kind that the model reads whole: exactly as many
    tokens as it reads at most, without truncation (so warming up logs no truncation warning),
    within the character limit. A binary search over the number of findings words, then
    one-token stops for the last tokens a several-token word would overshoot (a peak one token
    short left a soak growing 9 MB in steps; the truncated peak had kept it flat)."""
    words = ("Stable mild cardiomegaly. Small left pleural effusion, possibly atelectasis. " * 200).split()

    def text(n: int, stops: int = 0) -> str:
        return f"FINDINGS: {' '.join(words[:n])}{' .' * stops} IMPRESSION: Cardiomegaly. Small effusion."

    def fits(candidate: str) -> bool:
        return len(candidate) <= max_chars and not model.token_counts([candidate])[1][0]

    if not fits(text(0)):  # a character limit shorter than the template itself
        return text(0)[:max_chars]
    low, high = 0, len(words)  # text(low) fits; text(high + 1) does not
    while low < high:
        mid = (low + high + 1) // 2
        low, high = (mid, high) if fits(text(mid)) else (low, mid - 1)
    stops = 0
    while fits(text(low, stops + 1)):
        stops += 1
    return text(low, stops)


def _warm_at_peak(model: ModelLabeler, workers: int, max_chars: int) -> None:
    """Run the largest run the service can make on every worker at once, so ONNX Runtime's
    memory arena grows to its peak before /readyz says ready instead of in steps under traffic
    (a 10-minute soak of new texts, warmed without this, grew 19 MB in steps from minute 6).
    The other source of steps, a memory pattern per input shape, is off in `OnnxBackend`."""
    text = _peak_text(model, max_chars)
    reports = [Report(id=f"warmup-peak-{i}", text=text) for i in range(model.batch_size)]
    with ThreadPoolExecutor(workers, thread_name_prefix="radlabel-warmup") as pool:
        for done in [pool.submit(model.label, reports) for _ in range(workers)]:
            done.result()  # a failed run fails the load, as the other warm-up runs do


class Runtime:
    """Holds the labeler and batcher once loaded; tells readiness."""

    def __init__(self, settings: ServiceSettings, metrics: ServiceMetrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self.schema: Schema = load_schema()
        self.batcher: DynamicBatcher | None = None
        self.info: ModelInfo | None = None
        self.error: str | None = None
        self.files: JobFiles | None = None
        self.store: JobStore | None = None
        self.jobs: JobRunner | None = None
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def ready(self) -> bool:
        """True once the labeler is loaded, warmed up and its batcher runs."""
        return self._ready.is_set()

    def start(self) -> None:
        """Open the job store, then load the model in the background."""
        self.files = JobFiles(self.settings.data_dir)
        self.store = JobStore(self.files.database)
        self._thread = threading.Thread(target=self._load, name="radlabel-load", daemon=True)
        self._thread.start()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until ready (tests and benchmarks)."""
        return self._ready.wait(timeout)

    def stop(self) -> None:
        """Stop the job worker after its chunk, label what is queued, then stop the batcher."""
        if self.jobs is not None:
            self.jobs.stop(timeout=self.settings.drain_timeout_s)
        if self.batcher is not None:
            self.batcher.stop(timeout=self.settings.drain_timeout_s)
        if self.store is not None:
            self.store.close()

    def _count_job_rows(self, labelled: int, refused: int) -> None:
        self.metrics.job_rows.labels(outcome="labelled").inc(labelled)
        if refused:
            self.metrics.job_rows.labels(outcome="refused").inc(refused)

    def _build(self) -> tuple[Labeler, TokenCounter, str, int | None, int]:
        """(labeler, token counter, provider, threads per worker, workers)."""
        s = self.settings
        if s.labeler == "rules":  # pure Python under the GIL: a second worker would only wait
            from labeler.rules.labeler import RuleLabeler

            return RuleLabeler(max_chars=s.max_report_chars), word_counts, "cpu", 1, 1
        gpu = s.provider != "cpu" and "CUDAExecutionProvider" in available_providers(True)
        workers, threads = plan(s.workers, s.threads, gpu)
        model = ModelLabeler.from_bundle(
            s.model,
            variant=s.variant,
            max_chars=s.max_report_chars,
            # a coalesced call runs length-sorted sub-batches
            batch_size=s.run_batch_size or run_batch_size(threads, gpu),
            threads=threads,
            prefer_gpu=s.provider != "cpu",
            spin=s.spinning,
        )
        if s.provider == "cuda" and model.backend.provider != "CUDAExecutionProvider":
            raise LabelerError("provider=cuda, but onnxruntime has no CUDA provider here")
        return model, model.token_counts, model.backend.provider, threads, workers

    def _load(self) -> None:
        s = self.settings
        started = time.monotonic()
        try:
            labeler, counter, provider, threads, workers = self._build()
            warm = warmup_reports(s.max_report_chars)
            for _ in range(s.warmup_rounds):
                labeler.label(warm)
            if s.warmup_rounds and isinstance(labeler, ModelLabeler):
                _warm_at_peak(labeler, workers, s.max_report_chars)
            if not labeler.health():
                raise LabelerError("the labeler failed its health check")
        except Exception as exc:  # reported by /readyz; the process stays up to say why
            self.error = f"{type(exc).__name__}: {exc}"
            log.error("model load failed: %s", self.error)
            return
        # archive results and answers without `include=evidence` keep no spans: skip tracing them
        lean = labeler.without_evidence() if isinstance(labeler, ModelLabeler) else None
        self.batcher = DynamicBatcher(
            labeler,
            counter,
            max_batch_size=s.max_batch_size,
            max_wait_s=s.max_wait_ms / 1000,
            max_batch_tokens=s.max_batch_tokens,
            capacity=s.queue_capacity,
            max_chars=s.max_report_chars,
            observer=self.metrics,
            schema=self.schema,
            background_batch_size=s.job_batch_size,
            background_labeler=lean,
            workers=workers,
            lean_labeler=lean,
        )
        self.batcher.start()
        assert self.store is not None and self.files is not None
        self.jobs = JobRunner(
            self.store,
            self.files,
            self.batcher,
            self.schema,
            BackgroundLabeler(self.batcher, labeler.name, getattr(labeler, "sha256", "")),
            chunk_rows=s.job_chunk_rows,
            max_chars=s.max_report_chars,
            on_chunk=self._count_job_rows,
        )
        self.jobs.start()  # resumes jobs a restart interrupted
        card = _card_summary(s.model, labeler) if isinstance(labeler, ModelLabeler) else {}
        self.info = ModelInfo(labeler.name, provider, threads, workers, card)
        self.metrics.model.info(
            {
                "model": labeler.name,
                "schema": self.schema.version,
                "provider": provider,
                "threads": str(threads or "auto"),
                "workers": str(workers),
            }
        )
        self.metrics.ready.set(1)
        self._ready.set()
        log.info(
            "ready: %s on %s, %d worker(s) x %s thread(s), runs of %s reports, in %.1f s",
            labeler.name,
            provider,
            workers,
            threads or "all",
            getattr(labeler, "batch_size", "-"),
            time.monotonic() - started,
        )
