"""Dynamic batching: concurrent labelling requests coalesced into shared labeler runs.

A service gets many small requests at once; running each alone wastes the ONNX session's
batch parallelism, and running them on the event loop would stall every other client. The
batcher owns `workers` threads: requests are split into reports and queued (bounded, so a
burst is refused with `Overloaded` instead of growing memory), a free worker waits up to
`max_wait_s` for a batch to fill, takes the oldest report plus the queued reports closest to it
in token length (length-aware: less padding, and the oldest report always goes first, so none
starves) up to `max_batch_size` reports and `max_batch_tokens` padded tokens, and runs the
labeler once. A multi-report request may be spread over several runs; its future resolves when
its last report is done. A cancelled request (client gone) is dropped from the queue before it
costs a run.

Several workers share one labeler (ONNX Runtime sessions take concurrent runs). On a CPU, runs
side by side with one thread each use the cores better than one run with all of them: a
DeBERTa run of a few reports keeps a second intra-op thread only half busy. With several
workers, a worker takes at most its share of the waiting reports (what is queued divided by the
idle workers), so a lone multi-report request is spread over the idle workers, while under load
(the others busy) a worker takes all it may. Background runs are not split so: they keep their
fixed size, so an archive's runs, and its int8 labels, do not depend on timing.

Two lanes: interactive requests and background work (archive jobs). A run holds reports of
one lane only; interactive reports always head the next run, and background runs are capped
at `background_batch_size` reports, so an interactive request waits at most for one short
background run. Background submissions skip the capacity check: their submitter (the job
worker) keeps only one chunk in the queue at a time.

Every run labels with the default mapping and no views; each request's own views and mapping
are re-derived from u afterwards (`labeler.assemble.reassemble`), so requests with different
options still share runs. This module knows no web framework: the service adapts its futures
to asyncio and feeds its metrics through `BatchObserver`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field
from typing import Protocol

from labeler.assemble import reassemble
from labeler.base import DEFAULT_MAX_CHARS, Labeler, check_request
from labeler.errors import Overloaded
from labeler.records import Report, ReportLabels
from labeler.schema import Schema, load_schema

TokenCounter = Callable[[Sequence[str]], tuple[list[int], list[int]]]
"""texts -> (tokens the model reads per text, tokens cut by truncation per text)."""


class BatchObserver(Protocol):
    """Receives what a monitoring layer needs to know about the queue and the runs."""

    def queued(self, depth: int) -> None:
        """The number of reports waiting changed."""

    def ran(self, reports: int, tokens: int, waits: Sequence[float], seconds: float, truncated: int) -> None:
        """A run finished: its size, padded tokens, each report's queue wait, run time, truncations."""


def word_counts(texts: Sequence[str]) -> tuple[list[int], list[int]]:
    """A token estimate for labelers without a tokenizer (the rule labeler): words, no truncation."""
    return [len(t.split()) + 2 for t in texts], [0] * len(texts)


@dataclass(eq=False)
class _Request:
    future: Future[list[ReportLabels]]
    results: list[ReportLabels | None]
    views: tuple[str, ...]
    mapping: str
    remaining: int
    background: bool = False
    evidence: bool = True


@dataclass(eq=False)
class _Item:
    request: _Request
    index: int
    report: Report
    tokens: int
    truncated: bool
    enqueued: float = field(default_factory=time.monotonic)


class DynamicBatcher:
    """Worker threads that run a labeler over coalesced batches of queued reports."""

    def __init__(
        self,
        labeler: Labeler,
        token_counter: TokenCounter = word_counts,
        max_batch_size: int = 32,
        max_wait_s: float = 0.005,
        max_batch_tokens: int = 16384,
        capacity: int = 2048,
        max_chars: int = DEFAULT_MAX_CHARS,
        observer: BatchObserver | None = None,
        schema: Schema | None = None,
        background_batch_size: int | None = None,
        background_labeler: Labeler | None = None,
        workers: int = 1,
        lean_labeler: Labeler | None = None,
    ) -> None:
        """Args:
        labeler: what runs the batches.
        token_counter: the labeler's token lengths, for the padded-token budget.
        max_batch_size: reports per run at most.
        max_wait_s: how long the oldest queued report waits for a batch to fill.
        max_batch_tokens: padded tokens per run at most (reports x longest report).
        capacity: reports queued at most; `submit` refuses more with `Overloaded`.
        max_chars: the longest report accepted.
        observer: metrics sink.
        schema: the label schema (the packaged one when None).
        background_batch_size: reports per background run at most (max_batch_size when None).
        background_labeler: what runs background batches (`labeler` when None), e.g. the
            same model without evidence spans, which archive results do not keep.
        workers: runs in flight at once (the labeler must take concurrent calls).
        lean_labeler: what runs interactive batches in which no request wants evidence spans
            (`labeler` when None), e.g. the same model without them: tracing spans costs
            ~10% of a run, wasted on a client that drops them.
        """
        if max_batch_size < 1 or max_batch_tokens < 1 or capacity < 1 or max_wait_s < 0 or workers < 1:
            raise ValueError("batch size, token budget, capacity and workers must be positive, max wait >= 0")
        self.labeler = labeler
        self.count_tokens = token_counter
        self.max_batch_size = max_batch_size
        self.max_wait_s = max_wait_s
        self.max_batch_tokens = max_batch_tokens
        self.capacity = capacity
        self.max_chars = max_chars
        self.observer = observer
        self.schema = schema or load_schema()
        self.background_batch_size = min(background_batch_size or max_batch_size, max_batch_size)
        self.background_labeler = background_labeler or labeler
        self.lean_labeler = lean_labeler or labeler
        self.workers = workers
        self._pending: list[_Item] = []
        self._cond = threading.Condition()
        self._done = threading.Lock()  # a request's reports may finish in two workers at once
        self._stopping = False
        self._busy = 0  # workers running a batch
        self._threads: list[threading.Thread] = []

    @property
    def depth(self) -> int:
        """Reports waiting in the queue."""
        with self._cond:
            return len(self._pending)

    def start(self) -> None:
        """Start the worker threads."""
        if not self._threads:
            self._threads = [
                threading.Thread(target=self._work, name=f"radlabel-batcher-{i}", daemon=True)
                for i in range(self.workers)
            ]
            for thread in self._threads:
                thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Label what is queued, then stop the workers (the service calls this after draining HTTP)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self._threads:
            thread.join(None if deadline is None else max(deadline - time.monotonic(), 0.0))

    def submit(
        self,
        reports: Sequence[Report],
        views: Sequence[str] = (),
        mapping: str = "default",
        background: bool = False,
        evidence: bool = True,
    ) -> Future[list[ReportLabels]]:
        """Queue reports for labelling; the future gives one record per report in input order.

        Args:
            background: archive work: runs only when no interactive report waits, in runs of
                at most `background_batch_size`, and is not counted against the capacity.
            evidence: the caller wants evidence spans; runs whose requests all say no may use
                the lean labeler, whose records have none.

        Raises:
            InvalidInput: empty text, control characters, unknown view or mapping.
            InputTooLong: a report over the character limit.
            Overloaded: the queue cannot take this many more reports.
        """
        check_request(reports, self.schema, views, mapping, self.max_chars)
        future: Future[list[ReportLabels]] = Future()
        if not reports:
            future.set_result([])
            return future
        tokens, cut = self.count_tokens([r.text for r in reports])
        request = _Request(
            future, [None] * len(reports), tuple(views), mapping, len(reports), background, evidence
        )
        items = [_Item(request, i, r, tokens[i], cut[i] > 0) for i, r in enumerate(reports)]
        with self._cond:
            if self._stopping:
                raise Overloaded("the labeler is shutting down")
            waiting = sum(1 for it in self._pending if not it.request.background)
            if not background and waiting + len(items) > self.capacity:
                raise Overloaded(f"queue full: {waiting} reports waiting, capacity {self.capacity}")
            self._pending.extend(items)
            depth = len(self._pending)
            self._cond.notify()
        if self.observer:
            self.observer.queued(depth)
        return future

    def _take(self) -> list[_Item]:
        """Pick the next batch (caller holds the lock): the oldest live report plus the live
        reports nearest to it in length, within the size and padded-token budgets."""
        live = [it for it in self._pending if not it.request.future.done()]
        if not live:
            self._pending = []
            return []
        interactive = [it for it in live if not it.request.background]
        lane = interactive or live  # background only when no interactive report waits
        limit = self.max_batch_size if interactive else self.background_batch_size
        idle = self.workers - self._busy  # this worker included
        if interactive and idle > 1:  # leave the other idle workers their share
            # (not for background work: its runs stay the same whatever the timing, so an
            # archive's int8 labels do not depend on which worker was free)
            limit = min(limit, -(-len(lane) // idle))
        head, rest = lane[0], lane[1:]
        rest.sort(key=lambda it: (abs(it.tokens - head.tokens), it.enqueued))
        batch, longest = [head], head.tokens
        for it in rest:
            if len(batch) >= limit:
                break
            width = max(longest, it.tokens)
            if width * (len(batch) + 1) > self.max_batch_tokens:
                continue
            batch.append(it)
            longest = width
        taken = set(map(id, batch))
        self._pending = [it for it in live if id(it) not in taken]
        return batch

    def _ready(self) -> bool:
        """A worker should stop waiting: stopping, or a batch is worth running now (full, over the
        token budget, or its oldest report waited enough)."""
        if self._stopping or len(self._pending) >= self.max_batch_size:
            return True
        if not self._pending:
            return False
        tokens = sum(it.tokens for it in self._pending)
        return tokens >= self.max_batch_tokens or self._wait_left() <= 0

    def _wait_left(self) -> float:
        """Seconds until the oldest queued report has waited `max_wait_s` (inf when none)."""
        if not self._pending:
            return float("inf")
        return self.max_wait_s - (time.monotonic() - self._pending[0].enqueued)

    def _work(self) -> None:
        while True:
            with self._cond:
                # one wait for both cases: every wait releases the lock, and another worker
                # may empty the queue meanwhile, so emptiness is checked after each wake-up
                while not self._ready():
                    left = self._wait_left()
                    self._cond.wait(None if left == float("inf") else max(left, 0.0005))
                if not self._pending:  # stopping, nothing left
                    return
                batch = self._take()
                depth = len(self._pending)
                if depth:  # what this worker left is for another one
                    self._cond.notify()
                self._busy += 1
            if self.observer:
                self.observer.queued(depth)
            try:
                if batch:
                    self._run(batch)
            except Exception as exc:  # LabelerError, or a bug (records that do not match the
                # batch, a failing observer): fail what is unanswered, keep the worker, which
                # would otherwise die and leave every later request unanswered
                self._fail(batch, exc)
            finally:
                with self._cond:
                    self._busy -= 1

    @staticmethod
    def _fail(batch: list[_Item], exc: BaseException) -> None:
        for it in batch:
            _resolve(it.request.future, exc)

    def _run(self, batch: list[_Item]) -> None:
        started = time.monotonic()
        waits = [started - it.enqueued for it in batch]
        if batch[0].request.background:
            labeler = self.background_labeler
        elif any(it.request.evidence for it in batch):
            labeler = self.labeler
        else:
            labeler = self.lean_labeler
        records = labeler.label([it.report for it in batch])  # raising: `_work` fails the batch
        seconds = time.monotonic() - started
        for it, rec in zip(batch, records, strict=True):
            req = it.request
            if req.views or req.mapping != "default":
                rec = reassemble(rec, self.schema, req.views, req.mapping)
            with self._done:
                req.results[it.index] = rec
                req.remaining -= 1
                finished = req.remaining == 0
            if finished:
                _resolve(req.future, [r for r in req.results if r is not None])
        if self.observer:
            width = max(it.tokens for it in batch)
            truncated = sum(1 for it in batch if it.truncated)
            self.observer.ran(len(batch), width * len(batch), waits, seconds, truncated)


def _resolve(future: Future[list[ReportLabels]], outcome: list[ReportLabels] | BaseException) -> None:
    """Set a result or an error unless the future is already done (cancelled by its client)."""
    if future.done():
        return
    try:
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)
    except InvalidStateError:  # cancelled between the check and the set
        pass
