"""Every Prometheus metric of the service, on a registry of its own per app.

Names carry the `radlabel_` prefix and unit suffixes. Labels hold routes (templates, never raw
paths), status codes, finding keys and statuses: never report text, never report or job ids.
The batcher reports its queue and runs through `observe_*` (it knows no Prometheus).
"""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, disable_created_metrics

from labeler.assemble import is_empty_body
from labeler.records import ReportLabels
from labeler.schema import Schema

LATENCY = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class ServiceMetrics:
    """The service's metrics; also the batcher's observer."""

    def __init__(self) -> None:
        disable_created_metrics()  # type: ignore[no-untyped-call] # `_created` series double every counter for nothing a dashboard uses
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "radlabel_requests_total",
            "HTTP requests by route and status code",
            ["route", "method", "code"],
            registry=r,
        )
        self.latency = Histogram(
            "radlabel_request_duration_seconds",
            "HTTP request latency",
            ["route"],
            buckets=LATENCY,
            registry=r,
        )
        self.failures = Counter(
            "radlabel_request_failures_total", "4xx/5xx answers by error code", ["error_type"], registry=r
        )
        self.queue_wait = Histogram(
            "radlabel_queue_wait_seconds", "time a report waited for its batch", buckets=LATENCY, registry=r
        )
        self.inference = Histogram(
            "radlabel_inference_seconds", "time of one labeler run (one batch)", buckets=LATENCY, registry=r
        )
        self.batch_size = Histogram(
            "radlabel_batch_size", "reports per labeler run", buckets=BATCH, registry=r
        )
        self.queue_depth = Gauge("radlabel_queue_depth", "reports waiting for the labeler", registry=r)
        self.reports = Counter("radlabel_reports_total", "reports labelled", registry=r)
        self.tokens = Counter("radlabel_tokens_total", "padded tokens run through the labeler", registry=r)
        self.truncated = Counter(
            "radlabel_truncated_reports_total",
            "reports longer than the model's max_length (FINDINGS cut)",
            registry=r,
        )
        self.labels = Counter(
            "radlabel_labels_total", "labels emitted by finding and status", ["finding", "status"], registry=r
        )
        self.empty = Counter(
            "radlabel_empty_reports_total",
            "reports with no FINDINGS/IMPRESSION text (nothing mentioned, no_finding not derived)",
            registry=r,
        )
        self.job_rows = Counter(
            "radlabel_job_rows_total", "archive job rows handled, by outcome", ["outcome"], registry=r
        )
        self.jobs = Counter("radlabel_jobs_total", "archive jobs accepted", registry=r)
        self.model = Info("radlabel_model", "the model being served", registry=r)
        self.ready = Gauge("radlabel_ready", "1 when the model is loaded and warmed up", registry=r)
        self._label_children: dict[tuple[str, str], Counter] = {}

    def queued(self, depth: int) -> None:
        """Batcher observer: the queue depth changed."""
        self.queue_depth.set(depth)

    def ran(self, reports: int, tokens: int, waits: Sequence[float], seconds: float, truncated: int) -> None:
        """Batcher observer: one run finished."""
        self.batch_size.observe(reports)
        self.inference.observe(seconds)
        for w in waits:
            self.queue_wait.observe(w)
        self.reports.inc(reports)
        self.tokens.inc(tokens)
        if truncated:
            self.truncated.inc(truncated)

    def count_labels(self, records: Sequence[ReportLabels], schema: Schema) -> None:
        """Count emitted labels by finding and status, and reports without body text."""
        counts: dict[tuple[str, str], int] = {}
        empty = sum(1 for rec in records if is_empty_body(rec, schema))
        if empty:
            self.empty.inc(empty)
        for rec in records:
            for key, lab in rec.findings.items():
                counts[(key, lab.status)] = counts.get((key, lab.status), 0) + 1
        for pair, n in counts.items():
            child = self._label_children.get(pair)
            if child is None:  # labels() takes a lock and builds a key; 18 per report add up
                child = self._label_children[pair] = self.labels.labels(finding=pair[0], status=pair[1])
            child.inc(n)
