"""The engine's own threads, whatever the caller's torch setting.

The engine's tensor operations are many and small (blocks of at most a few MiB): with torch's default of
one intra-op thread per core, a core taken by another process stalls every operation at the OpenMP barrier
until the scheduler runs the waiting thread again (measured on 2 cores with one other busy process: 35
times slower than one thread). So every engine entry point runs its work with one intra-op thread and
restores the caller's setting afterwards; ``benchmarks/bench_threads.py`` measures the result idle and
loaded. :func:`engine_threads` also decorates a function (``@engine_threads()``), for estimators that do
work of their own around the engine. Where a second core helps, the engine uses it without barriers: the
truncated path's k-d tree queries (scipy's ``workers``), and the large blocks of the clustered and truncated
paths, cut once into parts that run side by side on Python threads (:func:`run_parts`; torch releases the
GIL inside its operations), each part single-threaded. Split once, the parts do not wait on each other, so
a busy core delays them at most as much as it delays one thread (measured: ``bench_threads.py``, column
``def/ser``). Both use every core this process may use (:func:`workers`), at most ``OMP_NUM_THREADS``
where that is set (Ray sets it to a task's CPUs, so that parallel tasks do not oversubscribe the cores)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import torch

T = TypeVar("T")
R = TypeVar("R")


@contextlib.contextmanager
def engine_threads(n: int = 1) -> Iterator[None]:
    """Run the block with ``n`` torch intra-op threads, then restore the caller's count (also on error)."""
    before = torch.get_num_threads()
    if before != n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


def workers() -> int:
    """Threads for the engine's own parallel work (k-d tree queries, :func:`run_parts`): the cores this
    process may run on (its affinity mask), at most ``OMP_NUM_THREADS`` where that is set to a positive
    integer."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    cap = os.environ.get("OMP_NUM_THREADS", "")
    return min(cores, int(cap)) if cap.isdigit() and int(cap) > 0 else cores


def run_parts(fn: Callable[[T], R], parts: Sequence[T], threads: int | None = None) -> list[R]:
    """[fn(part) for part in parts], the parts on up to ``threads`` (default :func:`workers`) threads at
    once: torch releases the GIL inside its operations, so parts of single-threaded work run side by side,
    and split once they never wait on each other (a busy core delays them at most as much as it delays one
    thread). Worth it where each operation is large: many small ones contend for the GIL instead. The
    results do not depend on the thread count; exceptions propagate."""
    n = min(len(parts), workers() if threads is None else threads)
    if n <= 1:
        return [fn(part) for part in parts]
    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(fn, parts))
