"""The dynamic batcher on the real tiny ONNX bundle: coalescing, budgets, order, backpressure."""

from __future__ import annotations

import threading
import time
from concurrent.futures import wait

import pytest

from labeler.batcher import DynamicBatcher
from labeler.errors import InvalidInput, Overloaded
from labeler.model.labeler import ModelLabeler
from labeler.records import Report


class Recorder:
    """Observer that keeps what the batcher reports."""

    def __init__(self) -> None:
        self.runs: list[tuple[int, int]] = []
        self.depths: list[int] = []
        self.lock = threading.Lock()

    def queued(self, depth: int) -> None:
        with self.lock:
            self.depths.append(depth)

    def ran(self, reports, tokens, waits, seconds, truncated) -> None:
        assert len(waits) == reports and seconds >= 0
        with self.lock:
            self.runs.append((reports, tokens))


@pytest.fixture
def model(tiny_bundle):
    return ModelLabeler.from_bundle(tiny_bundle, batch_size=64)


def reports(dev_reports, n, start=0):
    return [Report(id=r["id"], text=r["text"]) for r in dev_reports[start : start + n]]


def test_concurrent_requests_share_runs_and_keep_their_order(model, dev_reports):
    rec = Recorder()
    b = DynamicBatcher(model, model.token_counts, max_batch_size=16, max_wait_s=0.2, observer=rec)
    singles = [b.submit([r]) for r in reports(dev_reports, 12)]
    multi = b.submit(reports(dev_reports, 20, start=12))
    b.start()
    wait([*singles, multi], timeout=30)
    b.stop()
    direct = model.label(reports(dev_reports, 32))
    got = [f.result()[0] for f in singles] + multi.result()
    assert [r.id for r in got] == [r.id for r in direct]
    assert [r.u_map() for r in got] == [r.u_map() for r in direct]
    assert max(n for n, _ in rec.runs) > 1 and sum(n for n, _ in rec.runs) == 32
    assert all(n <= 16 for n, _ in rec.runs)


def test_each_request_gets_its_own_views_and_mapping(model, dev_reports):
    b = DynamicBatcher(model, model.token_counts, max_wait_s=0.05)
    batch = reports(dev_reports, 6)
    f1 = b.submit(batch, views=["chexpert14"], mapping="chexpert")
    f2 = b.submit(batch)
    b.start()
    a, c = f1.result(timeout=30), f2.result(timeout=30)
    b.stop()
    assert [r.model_dump() for r in a] == [
        r.model_dump() for r in model.label(batch, views=["chexpert14"], mapping="chexpert")
    ]
    assert [r.model_dump() for r in c] == [r.model_dump() for r in model.label(batch)]


def test_padded_token_budget_and_batch_size_bound_every_run(model, dev_reports):
    rec = Recorder()
    budget = 600
    b = DynamicBatcher(model, model.token_counts, max_batch_size=8, max_batch_tokens=budget, observer=rec)
    f = b.submit(reports(dev_reports, 40))
    b.start()
    assert len(f.result(timeout=30)) == 40
    b.stop()
    assert sum(n for n, _ in rec.runs) == 40
    assert all(n <= 8 and (tokens <= budget or n == 1) for n, tokens in rec.runs)


def test_full_queue_is_refused_not_grown(model, dev_reports):
    b = DynamicBatcher(model, model.token_counts, capacity=10)  # worker not started: nothing drains
    b.submit(reports(dev_reports, 8))
    with pytest.raises(Overloaded, match="queue full"):
        b.submit(reports(dev_reports, 3))
    assert b.depth == 8
    b.submit(reports(dev_reports, 2))  # exactly at capacity is fine
    assert b.depth == 10


def test_cancelled_request_costs_no_run(model, dev_reports):
    rec = Recorder()
    b = DynamicBatcher(model, model.token_counts, max_wait_s=0.01, observer=rec)
    gone = b.submit(reports(dev_reports, 10))
    assert gone.cancel()
    kept = b.submit(reports(dev_reports, 3, start=10))
    b.start()
    assert len(kept.result(timeout=30)) == 3
    b.stop()
    assert sum(n for n, _ in rec.runs) == 3


def test_bad_reports_are_refused_before_queueing(model):
    b = DynamicBatcher(model, model.token_counts, max_chars=50)
    with pytest.raises(InvalidInput, match="empty text"):
        b.submit([Report(id="a", text="  \n ")])
    with pytest.raises(InvalidInput, match="control character"):
        b.submit([Report(id="a", text="No effusion.\x00")])
    with pytest.raises(InvalidInput, match="limit is 50"):
        b.submit([Report(id="a", text="x " * 40)])
    with pytest.raises(InvalidInput):
        b.submit([Report(id="a", text="fine")], views=["nope"])
    assert b.depth == 0


def test_stop_labels_what_is_queued(model, dev_reports):
    b = DynamicBatcher(model, model.token_counts, max_wait_s=1.0)
    f = b.submit(reports(dev_reports, 5))
    b.start()
    b.stop(timeout=30)
    assert len(f.result(timeout=0)) == 5
    with pytest.raises(Overloaded, match="shutting down"):
        b.submit(reports(dev_reports, 1))


class Spy:
    """Wraps a labeler and records the ids of each run, in run order."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.runs: list[list[str]] = []

    @property
    def name(self) -> str:
        return self.inner.name

    def health(self) -> bool:
        return True

    def label(self, reports, views=(), mapping="default"):
        self.runs.append([r.id for r in reports])
        return self.inner.label(reports, views, mapping)


def test_interactive_reports_run_before_queued_background_work_and_never_share_its_runs(model, dev_reports):
    spy, bg = Spy(model), Spy(model.without_evidence())
    b = DynamicBatcher(
        spy, model.token_counts, max_batch_size=16, capacity=4, background_batch_size=5, background_labeler=bg
    )
    job = b.submit(reports(dev_reports, 23), background=True)  # past the capacity: not counted
    asked = b.submit(reports(dev_reports, 3, start=30))
    b.start()
    wait([job, asked], timeout=30)
    b.stop()
    assert len(spy.runs) == 1 and sorted(spy.runs[0]) == sorted(r.id for r in asked.result())
    assert all(len(run) <= 5 for run in bg.runs) and sum(map(len, bg.runs)) == 23
    assert [r.u_map() for r in job.result()] == [r.u_map() for r in model.label(reports(dev_reports, 23))]
    with pytest.raises(Overloaded):
        b2 = DynamicBatcher(spy, model.token_counts, capacity=4)
        b2.submit(reports(dev_reports, 5))


def test_without_evidence_gives_the_same_labels_and_no_spans(model, dev_reports):
    batch = reports(dev_reports, 12)
    full, bare = model.label(batch), model.without_evidence().label(batch)
    assert [r.u_map() for r in full] == [r.u_map() for r in bare]
    assert any(f.evidence for r in full for f in r.findings.values())
    assert not any(f.evidence for r in bare for f in r.findings.values()) and model.evidence


class Overlap(Spy):
    """A spy whose every run waits at a barrier for a second run to be in flight with it, so
    the test fails (BrokenBarrierError) unless two workers really run side by side."""

    def __init__(self, inner, parties: int = 2) -> None:
        super().__init__(inner)
        self.barrier = threading.Barrier(parties, timeout=10)

    def label(self, reports, views=(), mapping="default"):
        self.barrier.wait()
        return super().label(reports, views, mapping)


def test_two_workers_run_side_by_side_and_label_as_one(model, dev_reports):
    lab = Overlap(model)
    b = DynamicBatcher(lab, model.token_counts, max_batch_size=64, max_wait_s=0.0, workers=2)
    batch = reports(dev_reports, 20)
    f = b.submit(batch)  # one request: the first worker takes its share, the second the rest
    b.start()
    got = f.result(timeout=30)
    b.stop(timeout=30)
    assert [len(run) for run in lab.runs] == [10, 10]
    assert [r.id for r in got] == [r.id for r in batch]
    # int8 activations are quantized per run, so compare with the same two runs made directly
    by_id = {r.id: r for r in batch}
    direct = {rec.id: rec for run in lab.runs for rec in model.label([by_id[i] for i in run])}
    assert [r.model_dump() for r in got] == [direct[r.id].model_dump() for r in batch]


def test_many_requests_over_two_workers_keep_their_order_and_labels(model, dev_reports):
    spy = Spy(model)
    b = DynamicBatcher(spy, model.token_counts, max_batch_size=8, max_wait_s=0.0, workers=2)
    b.start()
    sizes = [1 + i % 4 for i in range(16)]  # 40 reports, each in one request only
    starts = [sum(sizes[:i]) for i in range(len(sizes))]
    asked = [reports(dev_reports, n, start=k) for n, k in zip(sizes, starts, strict=True)]
    futures = [b.submit(r) for r in asked]
    wait(futures, timeout=60)
    b.stop(timeout=30)
    assert sum(map(len, spy.runs)) == sum(map(len, asked))
    by_id = {r.id: r for rs in asked for r in rs}
    direct = {(tuple(run), rec.id): rec for run in spy.runs for rec in model.label([by_id[i] for i in run])}
    ran_in = {i: tuple(run) for run in spy.runs for i in run}
    assert len(ran_in) == 40 and len(spy.runs) > 1
    for f, rs in zip(futures, asked, strict=True):
        got = f.result(timeout=0)
        assert [x.id for x in got] == [r.id for r in rs]
        assert [x.u_map() for x in got] == [direct[(ran_in[r.id], r.id)].u_map() for r in rs]


def test_stop_with_two_workers_labels_what_is_queued(model, dev_reports):
    b = DynamicBatcher(model, model.token_counts, max_wait_s=1.0, workers=2)
    f = b.submit(reports(dev_reports, 9))
    b.start()
    b.stop(timeout=30)
    assert len(f.result(timeout=0)) == 9


def test_background_runs_keep_their_size_with_idle_workers(model, dev_reports):
    bg = Spy(model.without_evidence())
    b = DynamicBatcher(model, model.token_counts, background_batch_size=5, background_labeler=bg, workers=3)
    job = b.submit(reports(dev_reports, 7), background=True)
    b.start()
    assert len(job.result(timeout=30)) == 7
    b.stop(timeout=30)
    # split among the three idle workers as interactive work is, they would run as 3 + 2 + 2
    assert sorted(map(len, bg.runs)) == [2, 5]


def test_runs_without_an_evidence_request_use_the_lean_labeler(model, dev_reports):
    full, lean = Spy(model), Spy(model.without_evidence())
    b = DynamicBatcher(full, model.token_counts, max_batch_size=16, lean_labeler=lean)
    plain = b.submit(reports(dev_reports, 4), evidence=False)
    b.start()
    bare = plain.result(timeout=30)
    spans = b.submit(reports(dev_reports, 4, start=4)).result(timeout=30)  # evidence by default
    b.stop()
    b2 = DynamicBatcher(full, model.token_counts, max_batch_size=16, max_wait_s=1.0, lean_labeler=lean)
    mixed = [
        b2.submit(reports(dev_reports, 2, start=8), evidence=False),
        b2.submit(reports(dev_reports, 2, start=10)),
    ]
    b2.start()
    wait(mixed, timeout=30)
    b2.stop()
    assert [len(r) for r in lean.runs] == [4] and [len(r) for r in full.runs] == [4, 4]
    assert not any(f.evidence for r in bare for f in r.findings.values())
    assert any(f.evidence for r in spans for f in r.findings.values())
    # a run shared with a request that wants spans traces them for all its reports
    assert any(f.evidence for r in mixed[0].result() for f in r.findings.values())
    assert [r.u_map() for r in bare] == [r.u_map() for r in model.label(reports(dev_reports, 4))]


def test_a_worker_outlives_a_queue_emptied_by_another_while_it_waits(model, dev_reports):
    """A worker waiting out `max_wait_s` releases the lock; another worker may take the whole
    queue meanwhile. The waiter must go back to waiting, not die on the empty queue (it did,
    with IndexError, leaving the batcher a worker short for good). Work queued before the
    workers start puts all three in that wait at once."""
    for k in range(10):
        b = DynamicBatcher(model, model.token_counts, max_wait_s=0.005, background_batch_size=5, workers=3)
        job = b.submit(reports(dev_reports, 7, start=k), background=True)
        b.start()
        try:
            assert len(job.result(timeout=30)) == 7
            time.sleep(0.02)  # past any waiter's timeout
            assert all(thread.is_alive() for thread in b._threads), f"a worker died in round {k}"
            assert len(b.submit(reports(dev_reports, 3)).result(timeout=30)) == 3
        finally:
            b.stop(timeout=30)


class Short(Spy):
    """A labeler that once returns one record too few: a bug in a labeler, not in the batcher."""

    def label(self, reports, views=(), mapping="default"):
        out = super().label(reports, views, mapping)
        return out[:-1] if len(self.runs) == 1 else out


def test_a_run_that_fails_after_labelling_fails_its_requests_and_keeps_the_worker(model, dev_reports):
    b = DynamicBatcher(Short(model), model.token_counts, max_wait_s=0.0)
    b.start()
    try:
        broken = b.submit(reports(dev_reports, 3))
        with pytest.raises(ValueError):  # zip(strict=True): records and batch differ
            broken.result(timeout=30)
        assert all(thread.is_alive() for thread in b._threads)
        assert len(b.submit(reports(dev_reports, 2, start=3)).result(timeout=30)) == 2
    finally:
        b.stop(timeout=30)
