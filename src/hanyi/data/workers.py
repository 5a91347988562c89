"""Worker processes for `prepare`: an ordered ``map`` for its streamed passes
(data/spool.py) and of binarising (data/shards.py), and a job run beside the caller (the
tokenizers, trained while the training split is written)."""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager


@contextmanager
def worker_map(use_pool: bool, initializer: Callable, initargs: tuple,
               workers: int | None = None) -> Iterator[Callable]:
    """``map`` in this process (after ``initializer(*initargs)``) unless ``use_pool`` and
    several cores are ours; then a process pool's map, in task order. The pool forks from
    a clean server process (``forkserver``), not from this one, which may hold threads
    (PyTorch's, a DDP process group's). At most two tasks per worker are in flight:
    ``Executor.map`` would read every task up front, i.e. the whole corpus into memory."""
    workers = workers or min(len(os.sched_getaffinity(0)), 8)
    if not use_pool or workers < 2:
        initializer(*initargs)
        yield map
        return
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=initializer,
                             initargs=initargs) as pool:

        def ordered_map(fn, tasks):
            pending: deque = deque()
            for task in tasks:
                pending.append(pool.submit(fn, task))
                if len(pending) >= 2 * workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()

        yield ordered_map


@contextmanager
def in_background(use_process: bool, fn: Callable, *args) -> Iterator[Callable[[], object]]:
    """Start ``fn(*args)`` in another process (from the ``forkserver``, as above) and
    yield a ``wait`` that returns its result or raises its error. Without ``use_process``
    (or with one core) ``wait`` runs ``fn`` in this process. Leaving the block before
    waiting (an error) terminates the other process."""
    if not use_process or len(os.sched_getaffinity(0)) < 2:
        yield lambda: fn(*args)
        return
    with multiprocessing.get_context("forkserver").Pool(1) as pool:  # exit: terminate()
        result = pool.apply_async(fn, args)
        yield result.get
