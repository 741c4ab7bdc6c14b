"""Thread limits for the experiments' commands.

The networks here are small: on a 2-core machine a second torch or BLAS thread mostly adds synchronisation,
and on a shared one it made training 8 to 30 times slower (measured by the SZT, spiral and compare runs).
Commands take ``--threads`` (default 1) and run inside :func:`limited`. (The mixture engine behind the SP
estimator sets its own thread count whatever this is: ``estimators.mixture.threads``.)"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from threadpoolctl import threadpool_limits


def add_argument(parser) -> None:
    parser.add_argument("--threads", type=int, default=1,
                        help="torch and BLAS threads (1: the tensors are small and threads mostly contend)")


@contextlib.contextmanager
def limited(n: int) -> Iterator[None]:
    """Run the block with ``n`` torch intra-op threads and ``n`` BLAS threads, restored afterwards.

    Raises:
        SystemExit: n < 1 (a command-line error).
    """
    if n < 1:
        raise SystemExit(f"--threads: got {n}, expected >= 1")
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        with threadpool_limits(n):
            yield
    finally:
        torch.set_num_threads(before)
