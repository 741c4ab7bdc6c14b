"""Scale-out on Ray: measurement tasks of a run, and whole runs of a sweep, on this machine's cores or a cluster.

The only module of the project that talks to Ray (https://docs.ray.io). A command's ``--workers N`` (default:
the cores available to this process) and ``--address`` choose where measurements run:

- ``--workers 1`` and no ``--address``: in this process (:class:`experiments.loop.InProcess`); Ray is neither
  imported nor started.
- ``--workers N`` (N >= 2): an embedded Ray instance with N CPUs, its object store bounded to
  :data:`OBJECT_STORE_BYTES` (the objects are weights, inputs and measurements, all small), no dashboard,
  workers at normal priority (:data:`WORKER_NICENESS`); it is shut down at the end of the command.
- ``--address HOST:PORT`` (or ``auto``): the Ray cluster whose head was started there with ``ray start
  --head``; its CPUs take the tasks (every node needs this project installed). ``--workers``, if given, caps this
  command's tasks in flight.

A measurement task (:class:`RayMeasurer`) measures the layers of one measured epoch of one run: it receives the
twin, the weights at that epoch, the inputs and the seed, and returns the typed
:class:`~noisynet.flow.LayerMeasurement` of each layer. It reads and writes no file, so it can run on any
node; the process that trains (the driver) writes metrics.csv, each row once. Its result is a function of
(seed, epoch, weights) only (``experiments.loop.epoch_seed``; every layer starts its replica doubling at
``min_replicas``), so the rows do not depend on the number of workers or on the order in which tasks finish.
A task whose worker dies is run again by Ray (``max_retries`` = :data:`MAX_RETRIES`). Inside a task, torch and
the BLAS pools use the command's ``--threads`` (default 1: one CPU per task).

A run task (:class:`RunPool`, used by ``experiments.sweep``) runs a whole experiment command, e.g.
``experiments.szt`` with one seed, on the driver's node (where its files are written), and submits its
measurement tasks to the same Ray instance; while it waits for them, Ray lends its CPU to them.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import socket
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from experiments import threads
from experiments.loop import InProcess
from noisynet.flow import LayerMeasurement, iter_information_flow
from noisynet.twin import NoisyTwin

OBJECT_STORE_BYTES = 512 * 2**20
"""Object store of an embedded Ray instance (bytes): Ray's default is 30% of the memory (7 GB on 24 GB); the
objects here (weights, the inputs, measurements) take a few MB."""
WORKER_NICENESS = 0
"""Scheduling priority of the embedded instance's workers: Ray's default, 15, starves them on a machine shared
with other work (beside other jobs, szt --epochs 30 with --workers 2 took twice the wall time of --workers 1);
0 gives them the priority the in-process path has."""
MAX_RETRIES = 3
"""Times Ray runs a task again whose worker died (killed, out of memory)."""
CONNECT_TIMEOUT_S = 5.0
"""Seconds :func:`check` waits for a TCP connection to --address."""


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask, e.g. a container's share)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """--workers and --address."""
    parser.add_argument("--workers", type=int, default=None,
                        help=f"processes measuring in parallel (default: the cores available, {available_cores()} "
                             "here); 1: in this process, without Ray. With --address: at most this many tasks of "
                             "this command in flight")
    parser.add_argument("--address", default=None,
                        help="HOST:PORT of a Ray cluster's head (`ray start --head` prints it), or auto: run the "
                             "measurements there instead of on a Ray instance started on this machine")


def check(args: argparse.Namespace) -> None:
    """--workers >= 1 and --address a reachable Ray head (a TCP connection within 5 s), before anything is
    written.

    Raises:
        SystemExit: one line naming the option, what it got and what was expected."""
    if args.workers is not None and args.workers < 1:
        raise SystemExit(f"--workers: got {args.workers}, expected >= 1")
    if args.address is not None:
        _reachable(args.address)


def _reachable(address: str) -> None:
    if address == "auto":
        return
    host, _, port = address.split("://", 1)[-1].rpartition(":")
    if not host or not port.isdigit():
        raise SystemExit(f"--address: got {address!r}, expected HOST:PORT of a Ray cluster's head (e.g. "
                         "192.168.1.5:6379, printed by `ray start --head`) or auto")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as err:
        raise SystemExit(f"--address: cannot reach a Ray cluster at {address} ({err.strerror or err}); start one "
                         "with `ray start --head` on that machine, or leave --address out to use this machine's "
                         "cores") from None


def workers(args: argparse.Namespace) -> int:
    """The --workers in force (default: the cores available)."""
    return args.workers if args.workers is not None else available_cores()


def in_process(args: argparse.Namespace) -> bool:
    """Whether the command measures in its own process (--workers 1, no --address)."""
    return args.address is None and workers(args) == 1


def task_cap(args: argparse.Namespace) -> int | None:
    """At most this many of the command's tasks in flight: --workers on a cluster (--address), None on an
    embedded instance (it has --workers CPUs, and Ray queues the rest)."""
    return args.workers if args.address is not None else None


def _token_auth() -> None:
    """Use token authentication to join a cluster where a token is at hand (RAY_AUTH_TOKEN,
    RAY_AUTH_TOKEN_PATH, or ~/.ray/auth_token, which ``ray start --head`` writes) and RAY_AUTH_MODE is unset: Ray
    does so itself for ``auto`` but not for an explicit HOST:PORT, whose head then refuses the connection."""
    if "RAY_AUTH_MODE" not in os.environ and (
            "RAY_AUTH_TOKEN" in os.environ or "RAY_AUTH_TOKEN_PATH" in os.environ
            or (Path.home() / ".ray" / "auth_token").exists()):
        os.environ["RAY_AUTH_MODE"] = "token"


@contextlib.contextmanager
def session(n_workers: int, address: str | None = None) -> Iterator[None]:
    """Ray for the duration of the block: joined at ``address``, or an embedded instance with ``n_workers``
    CPUs, shut down afterwards. Inside a Ray task, or where the caller already started Ray, the running
    instance is used and left running.

    Raises:
        SystemExit: the cluster at ``address`` could not be joined (one line)."""
    if address is not None:
        _token_auth()  # before Ray is imported: it reads its settings then
    import ray

    if ray.is_initialized():
        yield
        return
    quiet = {"logging_level": logging.ERROR, "log_to_driver": True}
    try:
        if address is not None:
            ray.init(address=address, **quiet)
        else:
            ray.init(address="local", num_cpus=n_workers, object_store_memory=OBJECT_STORE_BYTES,  # never another
                     include_dashboard=False,  # instance running here (`ray start`): --address is for that
                     _system_config={"worker_niceness": WORKER_NICENESS}, **quiet)
    except (ConnectionError, RuntimeError, ValueError) as err:
        raise SystemExit(f"--address: could not join the Ray cluster at {address}: {' '.join(str(err).split())}"
                         if address else f"--workers: could not start Ray: {' '.join(str(err).split())}") from None
    try:
        yield
    finally:
        ray.shutdown()


EXECUTION = ("workers", "address")
"""The options of add_arguments: where a command computes, never what (left out of a run's config.json)."""


@contextlib.contextmanager
def started(args: argparse.Namespace) -> Iterator[None]:
    """Ray running for the block where ``args`` (--workers, --address) asks for it, e.g. one instance for the
    several runs of a command; nothing otherwise."""
    if in_process(args):
        yield
        return
    with session(workers(args), args.address):
        yield


@contextlib.contextmanager
def measurer(args: argparse.Namespace) -> Iterator[Any]:
    """Where a command's measurements run (module docstring): :class:`~experiments.loop.InProcess` or a
    :class:`RayMeasurer` inside a :func:`session`; ``args`` has --workers, --address and --threads."""
    with started(args):
        yield (InProcess() if in_process(args) else
               RayMeasurer(threads=getattr(args, "threads", 1), cap=task_cap(args)))


def _measure(twin: NoisyTwin, weights: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor | None,
             sites: list[str], seed: int, flow: dict, n_threads: int) -> tuple[list[LayerMeasurement], list]:
    """A measurement task: the layers ``sites`` of ``twin`` with ``weights`` (iter_information_flow), and the
    warnings it issued as (message, category) pairs, for the driver to issue."""
    with threads.limited(n_threads), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        twin.model.load_state_dict(weights)
        layers = list(iter_information_flow(twin, x, y, seed=seed, sites=sites, **flow))
    return layers, [(str(w.message), w.category) for w in caught]


class RayMeasurer:
    """Measurements as Ray tasks, one per submission (a measured epoch, or a network of experiments.compare):
    the measurer interface of :class:`experiments.loop.InProcess`.

    Args:
        threads: torch/BLAS threads inside a task (and the CPUs it asks Ray for).
        cap: at most this many tasks in flight (None: as many as submitted; Ray queues them).
    """

    def __init__(self, threads: int = 1, cap: int | None = None) -> None:
        import ray

        self._ray = ray
        self._task = ray.remote(max_retries=MAX_RETRIES, num_cpus=threads)(_measure)
        self.threads, self.cap = threads, cap
        self._refs: dict[Any, object] = {}  # ObjectRef -> key
        self._backlog: list[tuple] = []
        self._shared: list[tuple[object, Any]] = []  # (object, its ObjectRef): put once per object

    @property
    def pending(self) -> int:
        """Tasks submitted whose results have not been yielded yet."""
        return len(self._refs) + len(self._backlog)

    def _put(self, obj: object) -> Any:
        for o, ref in self._shared:
            if o is obj:
                return ref
        ref = self._ray.put(obj)
        self._shared.append((obj, ref))
        return ref

    def submit(self, key: object, twin: NoisyTwin, x: torch.Tensor, y: torch.Tensor | None, *, sites: list[str],
               seed: int, flow: dict) -> None:
        """Queue the measurement of ``sites`` of ``twin`` at its current weights (copied now)."""
        weights = {k: v.detach().clone() for k, v in twin.model.state_dict().items()}
        refs = (self._put(twin), self._put(x), None if y is None else self._put(y))
        self._backlog.append((key, refs, weights, list(sites), seed, dict(flow)))
        self._pump()

    def _pump(self) -> None:
        while self._backlog and (self.cap is None or len(self._refs) < self.cap):
            key, (twin, x, y), weights, sites, seed, flow = self._backlog.pop(0)
            self._refs[self._task.remote(twin, weights, x, y, sites, seed, flow, self.threads)] = key

    def results(self, wait: bool = True) -> Iterator[tuple[object, LayerMeasurement]]:
        """(key, LayerMeasurement) of the finished tasks, each task's layers in forward order, after issuing
        the warnings the task recorded; with ``wait``, until every submitted task has finished (yielding each
        as it finishes)."""
        while self._refs:
            ready, _ = self._ray.wait(list(self._refs), num_returns=1 if wait else len(self._refs),
                                      timeout=None if wait else 0)
            if not ready:
                return
            for ref in ready:
                key = self._refs.pop(ref)
                layers, caught = self._ray.get(ref)
                self._pump()
                for message, category in caught:
                    warnings.warn(message, category, stacklevel=2)
                for meas in layers:
                    yield key, meas


# ------------------------------------------------------------------------------------------------ runs


def run_command(module: str, argv: list[str], log: str) -> str | None:
    """A run task: ``module.main(argv)`` with its output in the file ``log``; returns None, or the command's
    error message (a command-line error is an answer, not a crash for Ray to retry)."""
    with open(log, "a", buffering=1) as f, contextlib.redirect_stdout(f), contextlib.redirect_stderr(f):
        try:
            importlib.import_module(module).main(argv)
        except SystemExit as err:
            if err.code not in (None, 0):
                return str(err.code)
    return None


class RunPool:
    """Experiment commands as Ray tasks, each on the driver's node (it writes the run's files there) with one
    CPU for its training; its measurement tasks go wherever Ray places them.

    Args:
        cap: at most this many runs in flight (default: the CPUs of the Ray instance): the others wait here,
            so that Ray does not start a run in every CPU a waiting run lends to its measurements.
    """

    def __init__(self, cap: int | None = None) -> None:
        import ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        self._ray = ray
        here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
        self._task = ray.remote(run_command).options(
            num_cpus=1, max_retries=MAX_RETRIES, scheduling_strategy=here,
            runtime_env={"env_vars": {"TQDM_DISABLE": "1"}})
        self.cap = cap or max(1, int(ray.cluster_resources().get("CPU", 1)))
        self._refs: dict[Any, Any] = {}
        self._backlog: list[tuple[Any, str, list[str], str]] = []

    @property
    def pending(self) -> int:
        """Runs submitted whose end has not been returned by :meth:`finished` yet."""
        return len(self._refs) + len(self._backlog)

    def submit(self, key: Any, module: str, argv: list[str], log: str | Path) -> None:
        """Queue ``python -m module argv`` (its output appended to ``log``, an absolute path)."""
        self._backlog.append((key, module, list(argv), str(log)))
        self._pump()

    def _pump(self) -> None:
        while self._backlog and len(self._refs) < self.cap:
            key, module, argv, log = self._backlog.pop(0)
            self._refs[self._task.remote(module, argv, log)] = key

    def finished(self, timeout: float) -> list[tuple[Any, str | None]]:
        """The runs that finished within ``timeout`` seconds: (key, None) or (key, the error, one line)."""
        if not self._refs:
            return []
        ready, _ = self._ray.wait(list(self._refs), num_returns=len(self._refs), timeout=timeout)
        out = []
        for ref in ready:
            key = self._refs.pop(ref)
            try:
                out.append((key, self._ray.get(ref)))
            except self._ray.exceptions.RayError as err:
                out.append((key, _one_line(err)))
        self._pump()
        return out


def _one_line(err: BaseException) -> str:
    """The last line of an error's text (Ray's task errors carry the remote traceback before it)."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return lines[-1] if lines else type(err).__name__
