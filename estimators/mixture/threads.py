"""The engine's own thread count, whatever the caller's torch setting.

The engine's tensor operations are many and small (blocks of at most a few MiB): with torch's default of
one intra-op thread per core, a core taken by another process stalls every operation at the OpenMP barrier
until the scheduler runs the waiting thread again (measured on 2 cores with one other busy process: 35
times slower than one thread). So every engine entry point runs its work with one intra-op thread and
restores the caller's setting afterwards; ``benchmarks/bench_threads.py`` measures the result idle and
loaded. :func:`engine_threads` also decorates a function (``@engine_threads()``), for estimators that do
work of their own around the engine. The truncated path's k-d tree queries (scipy, ``workers=-1``) run on
every core in a plain thread pool that splits the queries once: they do not wait on each other, so a busy
core delays them at most as much as one worker would be delayed."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


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
