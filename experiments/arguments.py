"""Command-line arguments of the experiments' commands: a parser whose errors are one line, the checks the
commands share, and the validation of a run's folder before anything is written.

A command checks every option before it creates a file (:func:`run_folder` checks the run's folder with
:meth:`experiments.runs.Run.check`, which creates nothing), so that a bad option leaves no folder behind.
Every check raises SystemExit with one line naming the option, what it got and what it expected: Python
prints it to stderr and exits with status 1. :func:`command` does the same for what can only be found while
the command runs (a checkpoint that would run code, met on ``--resume``).
"""

from __future__ import annotations

import argparse
import functools
import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from estimators.checks import BETA_RANGE
from experiments.runs import Run, UnsafeCheckpoint, check_folder

SEED_MAX = 2**32 - 1  # numpy's RandomState and scikit-learn's random_state take seeds in [0, 2**32 - 1]

F = TypeVar("F", bound=Callable[..., Any])


class ArgumentParser(argparse.ArgumentParser):
    """argparse's parser, except that an error (an unknown option, a value of the wrong type, a choice not
    offered) is one line: ``<prog>: <argparse's message> (see --help)``, exit status 1."""

    def error(self, message: str):
        raise SystemExit(f"{self.prog}: {message} (see --help)")


def option(name: str) -> str:
    """The command-line spelling of an argument's attribute name: "n_mc" -> "--n-mc"."""
    return "--" + name.replace("_", "-")


def as_option(err: BaseException, rename: dict[str, str] | None = None) -> SystemExit:
    """A library error whose message starts with the argument at fault ("run_id: ...") as a command-line
    error naming the option ("--run-id: ..."), one line; ``rename`` maps an argument to the option it comes
    from where their names differ."""
    text = " ".join(str(err).split())
    name, sep, rest = text.partition(": ")
    if sep and name.isidentifier():
        return SystemExit(f"{option((rename or {}).get(name, name))}: {rest}")
    return SystemExit(text)


def command(main: F) -> F:
    """Decorate a command's ``main``: a checkpoint that would run code (refused on ``--resume``, nothing
    executed) ends the command with one line naming the file instead of a traceback."""

    @functools.wraps(main)
    def wrapped(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except UnsafeCheckpoint as err:
            raise SystemExit(f"--resume: {' '.join(str(err).split())}") from err

    return wrapped  # type: ignore[return-value]


def at_least(args: argparse.Namespace, names: Iterable[str], minimum: int) -> None:
    """Every option in ``names`` (attribute names, e.g. "n_mc"), or each of its values for a list option, is
    an integer >= ``minimum``."""
    for name in names:
        value = getattr(args, name)
        values = value if isinstance(value, (list, tuple)) else [value]
        if any(v < minimum for v in values):
            raise SystemExit(f"{option(name)}: got {value}, expected integers >= {minimum}"
                             if isinstance(value, (list, tuple)) else
                             f"{option(name)}: got {value}, expected >= {minimum}")


def at_least_one(args: argparse.Namespace, names: Iterable[str]) -> None:
    """Every option in ``names`` is an integer >= 1."""
    at_least(args, names, 1)


def positive(args: argparse.Namespace, names: Iterable[str]) -> None:
    """Every option in ``names`` is a finite number > 0 (nan and inf rejected)."""
    for name in names:
        value = getattr(args, name)
        if not (value > 0 and math.isfinite(value)):
            raise SystemExit(f"{option(name)}: got {value}, expected a finite number > 0")


def betas(args: argparse.Namespace, name: str) -> None:
    """Option ``name`` holds a noise standard deviation beta (a list option: distinct ones), each finite and
    > 0 with beta^2 and 1 / beta^2 representable (as :class:`noisynet.NoisyTwin` requires)."""
    value = getattr(args, name)
    values = value if isinstance(value, (list, tuple)) else [value]
    lo, hi = BETA_RANGE
    if not values or not all(lo < v < hi for v in values):
        raise SystemExit(f"{option(name)}: got {value}, expected noise standard deviations > 0 (not the variance) "
                         f"between {lo:g} and {hi:g}")
    if len(set(values)) != len(values):
        raise SystemExit(f"{option(name)}: got {value}, expected distinct values (each gives its own rows)")


def distinct(args: argparse.Namespace, name: str) -> None:
    """The list option ``name`` has no value twice (each would be run, and written, twice)."""
    value = getattr(args, name)
    if len(set(value)) != len(value):
        raise SystemExit(f"{option(name)}: got {value}, expected distinct values")


def seed(args: argparse.Namespace, name: str = "seed") -> None:
    """The seed is an integer in [0, 2**32 - 1], the range numpy and scikit-learn accept (torch's seeds
    derived from it, seed * 10^8 + offsets, stay within 64 bits)."""
    value = getattr(args, name)
    if not 0 <= value <= SEED_MAX:
        raise SystemExit(f"{option(name)}: got {value}, expected an integer in [0, 2**32 - 1 = {SEED_MAX}]")


def sp_settings(args: argparse.Namespace) -> None:
    """The SP measurement options of an SZT-style run: --beta a noise std (:func:`betas`);
    --replicas and --min-replicas >= 8 (the nested-replica bias diagnostic uses R/4 >= 2); --n-query >= 2
    and --n-mc >= 1; --target-half-width finite and >= 0 (nats; 0 fixes R = --replicas)."""
    betas(args, "beta")
    at_least(args, ("replicas", "min_replicas"), 8)
    at_least(args, ("n_query",), 2)
    at_least_one(args, ("n_mc",))
    if not (args.target_half_width >= 0 and math.isfinite(args.target_half_width)):
        raise SystemExit(f"--target-half-width: got {args.target_half_width}, expected a finite number >= 0 (nats)")


def training(args: argparse.Namespace) -> None:
    """The training options: --epochs, --batch-size and --threads >= 1, --lr a finite number > 0, --seed
    (:func:`seed`)."""
    at_least_one(args, ("epochs", "batch_size", "threads"))
    positive(args, ("lr",))
    seed(args)


def folder(path: str | Path, name: str) -> Path:
    """``path`` (the value of option ``name``) is, or can be made, a writable folder; nothing is created."""
    try:
        return check_folder(path, name)
    except ValueError as err:
        raise as_option(err) from err


def run_folder(out: str | Path, experiment: str, run_id: str, config: dict[str, Any], *,
               resume: bool) -> Path:
    """The folder ``<out>/<experiment>/<run_id>`` of a run about to start, checked as :class:`Run` will
    check it (run id a single folder name, --out writable, the run new or, with --resume, existing with the
    same config), creating nothing; returns it."""
    try:
        return Run.check(out, experiment, run_id, config, resume=resume)
    except ValueError as err:
        raise as_option(err) from err
