"""A bounded queue and a dynamic batcher between the web server and the model.

The event loop must never run the model: one forward pass blocks for tens of
milliseconds, and every other request (health checks included) would wait behind it. So
requests become :class:`Job` s in a queue, and one worker thread takes them out and calls
the translator. While the model is busy, new jobs pile up; the worker then takes the first
one and every *compatible* job behind it (same decoding options), up to ``max_batch``
texts, and translates them in one call. Batching spreads each decoder step's fixed cost
over several sentences (see docs/RESULTS.md "Serving" for the measured gain).

The queue is bounded in *texts*, not requests: when ``queue_size`` texts are already
waiting, :meth:`DynamicBatcher.submit` raises :class:`QueueFullError` (the app answers
503) instead of letting latency and memory grow without limit.

A caller that gives up is never computed for: a job whose future is cancelled before it
starts is skipped, and a job past its deadline (``submit(..., timeout_s=)``) or
:meth:`~DynamicBatcher.abandon` ed stops the running search between two decoding steps
once *every* job in its batch has been given up (the others still want their answers).
:meth:`~DynamicBatcher.stalled` tells the health check when the worker is stuck.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

from hanyi.config import DecodeConfig
from hanyi.errors import Cancelled

log = logging.getLogger(__name__)

# translate(texts, decode, need_attention, cancel=...) -> list[Translation]
TranslateFn = Callable[..., list]


class QueueFullError(RuntimeError):
    """The queue already holds ``queue_size`` texts."""


@dataclass
class Job:
    texts: list[str]
    decode: DecodeConfig
    need_attention: bool
    deadline: float | None = None  # time.monotonic() after which nobody waits for it
    future: Future = field(default_factory=Future)
    abandoned: bool = False  # the caller said it no longer wants the answer
    submitted: float = field(default_factory=time.monotonic)

    def given_up(self) -> bool:
        return (self.abandoned or self.future.cancelled()
                or (self.deadline is not None and time.monotonic() > self.deadline))

    def joins(self, other: Job) -> bool:
        """Can this job be translated in the same call as ``other``?"""
        return self.decode == other.decode and self.need_attention == other.need_attention


@dataclass
class BatcherStats:
    batches: int = 0
    texts: int = 0
    skipped: int = 0  # jobs cancelled before they ran
    cancelled: int = 0  # batches stopped mid-search: every job in them was given up


class DynamicBatcher:
    """One worker thread that drains a bounded job queue in batches.

    ``translate(texts, decode, need_attention)`` must return one result per text, in order.
    """

    def __init__(self, translate: TranslateFn, max_batch: int = 32, batch_wait_ms: float = 5.0,
                 queue_size: int = 256, on_batch: Callable[[list[str]], None] | None = None):
        self._translate = translate
        self.on_batch = on_batch  # told the texts of every batch that was translated
        self.max_batch = max_batch
        self.batch_wait_s = batch_wait_ms / 1000.0
        self.queue_size = queue_size
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._lock = threading.Lock()
        self._waiting = 0  # texts submitted and not yet started
        self._carry: Job | None = None  # taken from the queue but not compatible; runs next
        self._thread: threading.Thread | None = None
        self._jobs: dict[Future, Job] = {}  # submitted and not finished
        self._running_since: float | None = None  # when the current batch started
        self.stats = BatcherStats()

    @property
    def waiting(self) -> int:
        return self._waiting

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="hanyi-batcher", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout)
            self._thread = None

    def submit(self, texts: list[str], decode: DecodeConfig, need_attention: bool,
               timeout_s: float | None = None) -> Future:
        """Queue ``texts``; the returned future gets the list of translations. After
        ``timeout_s`` seconds nobody waits for them: work on them stops."""
        if self._thread is None:
            raise RuntimeError("the batcher is not running; call start() first")
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        job = Job(list(texts), decode, need_attention, deadline)
        with self._lock:
            # An empty queue always accepts one job, so a request of more than queue_size
            # texts (allowed by max_texts) is slow rather than impossible.
            if self._waiting and self._waiting + len(texts) > self.queue_size:
                raise QueueFullError(f"the server is busy ({self._waiting} texts queued); "
                                     f"try again shortly")
            self._waiting += len(texts)
            self._jobs[job.future] = job
        job.future.add_done_callback(self._forget)
        self._queue.put(job)
        return job.future

    def _forget(self, future: Future) -> None:
        with self._lock:
            self._jobs.pop(future, None)

    def abandon(self, future: Future) -> None:
        """The caller no longer wants this answer (its client left, or it timed out)."""
        with self._lock:
            job = self._jobs.get(future)
        if job is not None:
            job.abandoned = True
            future.cancel()  # a job still queued is then skipped; a running one stops

    def stalled(self, after_s: float) -> bool:
        """True when the current batch has run, or the oldest queued job has waited, for
        more than ``after_s`` seconds: the health check then reports "degraded"."""
        now = time.monotonic()
        if self._running_since is not None and now - self._running_since > after_s:
            return True
        with self._lock:
            oldest = min((j.submitted for j in self._jobs.values()
                          if not j.future.running()), default=None)
        return oldest is not None and now - oldest > after_s

    def _run(self) -> None:
        stop = False
        while not stop:
            first = self._carry or self._queue.get()
            self._carry = None
            if first is None:
                return
            jobs, stop = self._gather(first)
            self._execute(jobs)
        if self._carry is not None:  # stopping: the job held back still gets an answer
            self._execute([self._carry])

    def _gather(self, first: Job) -> tuple[list[Job], bool]:
        """``first`` and the compatible jobs that arrive within ``batch_wait_ms``, and
        whether the stop sentinel was seen."""
        jobs, count = [first], len(first.texts)
        deadline = time.monotonic() + self.batch_wait_s
        while count < self.max_batch:
            try:
                job = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if job is None:
                return jobs, True
            if not job.joins(first) or count + len(job.texts) > self.max_batch:
                self._carry = job
                break
            jobs.append(job)
            count += len(job.texts)
        return jobs, False

    def _execute(self, jobs: list[Job]) -> None:
        with self._lock:
            self._waiting -= sum(len(job.texts) for job in jobs)
        live = [job for job in jobs if job.future.set_running_or_notify_cancel()]
        self.stats.skipped += len(jobs) - len(live)
        if not live:
            return
        texts = [text for job in live for text in job.texts]
        self._running_since = time.monotonic()
        try:
            results = self._translate(texts, live[0].decode, live[0].need_attention,
                                      cancel=lambda: all(job.given_up() for job in live))
        except Exception as exc:  # noqa: BLE001 - handed to the waiting requests
            if isinstance(exc, Cancelled):
                self.stats.cancelled += 1
                log.info("stopped a batch of %d texts: every request in it was given up",
                         len(texts))
            for job in live:
                job.future.set_exception(exc)
            return
        finally:
            self._running_since = None
        self.stats.batches += 1
        self.stats.texts += len(texts)
        if self.on_batch is not None:
            self.on_batch(texts)
        start = 0
        for job in live:
            job.future.set_result(results[start:start + len(job.texts)])
            start += len(job.texts)
