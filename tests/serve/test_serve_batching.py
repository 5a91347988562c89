"""DynamicBatcher: merging, limits and failure handling, with a recording fake model."""

from __future__ import annotations

import threading

import pytest

from hanyi.config import DecodeConfig
from hanyi.errors import Cancelled
from hanyi.serving.batching import DynamicBatcher, QueueFullError

GREEDY, BEAM = DecodeConfig(beam_size=1), DecodeConfig(beam_size=4)


class Recorder:
    """translate() that records its batches; the first call waits until ``release``."""

    def __init__(self, fail_on: str | None = None):
        self.calls: list[list[str]] = []
        self.release, self.entered = threading.Event(), threading.Event()
        self.fail_on = fail_on

    def __call__(self, texts, decode, need_attention, cancel=None):
        self.calls.append(list(texts))
        self.entered.set()
        self.release.wait(5)
        if self.fail_on in texts:
            raise ValueError("model exploded")
        return [f"<{t}>" for t in texts]


@pytest.fixture
def running():
    batchers = []

    def make(recorder, **kwargs):
        batcher = DynamicBatcher(recorder, **kwargs)
        batcher.start()
        batchers.append((batcher, recorder))
        return batcher

    yield make
    for batcher, recorder in batchers:
        recorder.release.set()
        batcher.stop()


def test_requests_that_wait_together_run_as_one_batch(running):
    rec = Recorder()
    batcher = running(rec, max_batch=32, batch_wait_ms=0)
    first = batcher.submit(["a"], GREEDY, False)
    assert rec.entered.wait(5)  # the worker is busy with "a"
    waiting = [batcher.submit([f"b{i}", f"c{i}"], GREEDY, False) for i in range(4)]
    rec.release.set()
    assert first.result(5) == ["<a>"]
    assert [f.result(5) for f in waiting] == [[f"<b{i}>", f"<c{i}>"] for i in range(4)]
    assert rec.calls == [["a"], ["b0", "c0", "b1", "c1", "b2", "c2", "b3", "c3"]]
    assert batcher.stats.batches == 2 and batcher.stats.texts == 9


def test_batches_respect_max_batch_and_decode_options(running):
    rec = Recorder()
    batcher = running(rec, max_batch=3, batch_wait_ms=0)
    batcher.submit(["x"], GREEDY, False)
    assert rec.entered.wait(5)
    futures = [batcher.submit(["g1", "g2"], GREEDY, False),
               batcher.submit(["beam"], BEAM, False),
               batcher.submit(["g3"], GREEDY, False),
               batcher.submit(["att"], GREEDY, True),
               batcher.submit(["g4", "g5"], GREEDY, False)]
    rec.release.set()
    for future in futures:
        future.result(5)
    for call in rec.calls:
        assert len(call) <= 3
    assert ["g1", "g2"] in rec.calls and ["beam"] in rec.calls and ["att"] in rec.calls


def test_full_queue_refuses_and_cancelled_jobs_are_skipped(running):
    rec = Recorder()
    batcher = running(rec, max_batch=8, batch_wait_ms=0, queue_size=3)
    batcher.submit(["running"], GREEDY, False)
    assert rec.entered.wait(5)
    kept = batcher.submit(["a", "b"], GREEDY, False)
    dropped = batcher.submit(["c"], GREEDY, False)
    with pytest.raises(QueueFullError, match="busy"):
        batcher.submit(["d"], GREEDY, False)
    assert dropped.cancel()
    rec.release.set()
    assert kept.result(5) == ["<a>", "<b>"]
    assert ["a", "b"] in rec.calls and all("c" not in call for call in rec.calls)
    assert batcher.waiting == 0 and batcher.stats.skipped == 1


def test_model_errors_reach_every_request_of_the_batch(running):
    rec = Recorder(fail_on="bad")
    batcher = running(rec, max_batch=8, batch_wait_ms=0)
    batcher.submit(["warm"], GREEDY, False)
    assert rec.entered.wait(5)
    futures = [batcher.submit(["bad"], GREEDY, False), batcher.submit(["ok"], GREEDY, False)]
    rec.release.set()
    for future in futures:
        with pytest.raises(ValueError, match="exploded"):
            future.result(5)
    assert batcher.submit(["after"], GREEDY, False).result(5) == ["<after>"]


def test_submit_before_start_is_an_error():
    with pytest.raises(RuntimeError, match="not running"):
        DynamicBatcher(Recorder()).submit(["a"], GREEDY, False)


class Endless:
    """translate() that decodes "forever" in steps, asking ``cancel`` between them, as the
    real search does; ``finish`` lets it end normally."""

    def __init__(self):
        self.finish, self.entered, self.steps = threading.Event(), threading.Event(), 0
        self.release = self.finish  # what the `running` fixture sets at the end

    def __call__(self, texts, decode, need_attention, cancel=None):
        self.entered.set()
        while not self.finish.wait(0.01):
            self.steps += 1
            if cancel is not None and cancel():
                raise Cancelled("translation cancelled")
        return [t.upper() for t in texts]


def test_work_stops_when_every_request_in_the_batch_has_given_up(running):
    model = Endless()
    batcher = running(model, max_batch=8, batch_wait_ms=0)
    future = batcher.submit(["garbage"], GREEDY, False, timeout_s=0.3)
    assert model.entered.wait(5)
    with pytest.raises(Cancelled):
        future.result(5)  # stopped between two steps, shortly after the deadline
    assert batcher.stats.cancelled == 1
    assert not batcher.stalled(after_s=5)


def test_a_batch_keeps_going_while_one_of_its_requests_still_waits(running):
    model = Endless()
    batcher = running(model, max_batch=8, batch_wait_ms=50)
    impatient = batcher.submit(["a"], GREEDY, False, timeout_s=0.1)
    patient = batcher.submit(["b"], GREEDY, False, timeout_s=30)
    assert model.entered.wait(5)
    threading.Event().wait(0.4)  # the impatient one is past its deadline
    model.finish.set()
    assert patient.result(5) == ["B"] and impatient.result(5) == ["A"]
    assert batcher.stats.cancelled == 0


def test_an_abandoned_request_is_skipped_or_stopped(running):
    model = Endless()
    batcher = running(model, max_batch=1, batch_wait_ms=0)
    running_one = batcher.submit(["a"], GREEDY, False)
    assert model.entered.wait(5)
    queued = batcher.submit(["b"], GREEDY, False)
    assert batcher.stalled(after_s=0.0)  # a batch is running and "b" waits
    batcher.abandon(queued)  # still queued: skipped when its turn comes
    batcher.abandon(running_one)  # running: the search stops at its next step
    with pytest.raises(Cancelled):
        running_one.result(5)
    assert queued.cancelled()
