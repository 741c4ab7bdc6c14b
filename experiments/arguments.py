"""Checks of command-line arguments shared by the experiments' commands.

Each raises SystemExit with a message naming the option, what it got and what it expected (a command-line
error, not a traceback)."""

from __future__ import annotations

import argparse
import math
from collections.abc import Iterable


def at_least_one(args: argparse.Namespace, names: Iterable[str]) -> None:
    """Every option in ``names`` (attribute names, e.g. "n_mc") is an integer >= 1."""
    for name in names:
        if getattr(args, name) < 1:
            raise SystemExit(f"--{name.replace('_', '-')}: got {getattr(args, name)}, expected >= 1")


def sp_settings(args: argparse.Namespace) -> None:
    """The SP measurement options of an SZT-style run: --beta a finite noise std > 0 (not the variance);
    --replicas and --min-replicas >= 8 (the nested-replica bias diagnostic uses R/4 >= 2);
    --target-half-width >= 0 (nats; 0 fixes R = --replicas)."""
    if not (args.beta > 0 and math.isfinite(args.beta)):
        raise SystemExit(f"--beta: got {args.beta}, expected a noise standard deviation > 0")
    if min(args.replicas, args.min_replicas) < 8:
        raise SystemExit(f"--replicas, --min-replicas: got {args.replicas}, {args.min_replicas}; expected >= 8 "
                         "(nested-replica bias diagnostic)")
    if args.target_half_width < 0:
        raise SystemExit(f"--target-half-width: got {args.target_half_width}, expected >= 0")
