"""Input validation shared by the estimators: every failure is a ValueError (or TypeError) that names the
argument, says what it got and what was expected."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch


def _tensor(x: Any, name: str, expected: str) -> torch.Tensor:
    """``x`` as a tensor holding data (not on the meta device); TypeError naming ``name`` where it is not
    numbers (strings, objects, ragged lists)."""
    if isinstance(x, torch.Tensor):
        t = x.detach()
    else:
        try:
            arr = np.asarray(x)
        except (TypeError, ValueError) as err:  # ragged nested lists, for instance
            raise TypeError(f"{name}: got {type(x).__name__} {_short(x)}, expected {expected}") from err
        try:
            t = torch.as_tensor(arr)
        except (TypeError, ValueError, RuntimeError) as err:  # strings, objects, unsigned 16-bit ...
            raise TypeError(f"{name}: got {type(x).__name__} of dtype {arr.dtype}, expected {expected}") from err
    if t.device.type == "meta":
        raise ValueError(f"{name}: got a tensor on the meta device (a shape without data), expected {expected} "
                         "with data (on the CPU or a GPU)")
    return t


def _short(x: Any) -> str:
    text = repr(x)
    return text if len(text) <= 60 else text[:57] + "..."


def as_tensor(x: Any, name: str, *, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """``x`` (tensor or array-like) as a tensor of ``dtype`` on its own device; TypeError if not numeric,
    ValueError on the meta device (no data)."""
    t = _tensor(x, name, "a tensor or an array of numbers")
    if t.dtype == torch.bool or t.is_complex() or not (t.is_floating_point() or t.dtype in _INTS):
        raise TypeError(f"{name}: got dtype {t.dtype}, expected real numbers")
    return t.to(dtype)


_INTS = (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)


def samples(x: Any, name: str, *, rank: int, min_rows: int = 1, distances: bool = False) -> torch.Tensor:
    """Float64 samples of the given ``rank`` with finite entries and at least ``min_rows`` rows; with
    ``distances`` (for estimators that take squared distances between samples) also the squared distance of
    any two of them (vectors along the last dimension, of size d) is finite in float64: every |entry| below
    sqrt(max float64 / (4 d)), about 6.7e153 / sqrt(d)."""
    t = as_tensor(x, name)
    if t.dim() != rank:
        shape = {2: "(n, d)", 3: "(m, R, d)", 1: "(n,)"}.get(rank, f"rank {rank}")
        raise ValueError(f"{name}: got shape {tuple(t.shape)}, expected {shape}")
    if any(s == 0 for s in t.shape):
        raise ValueError(f"{name}: got an empty shape {tuple(t.shape)}, expected every dimension >= 1")
    if t.shape[0] < min_rows:
        raise ValueError(f"{name}: got {t.shape[0]} rows, expected at least {min_rows}")
    bad = ~torch.isfinite(t)
    if bad.any():
        raise ValueError(f"{name}: got {int(bad.sum())} NaN or infinite entries, expected finite numbers")
    if distances:
        d = t.shape[-1] if rank > 1 else 1
        limit = math.sqrt(torch.finfo(torch.float64).max / (4 * d))
        top = float(t.abs().max())
        if not top < limit:
            raise ValueError(f"{name}: got entries as large as {top:.3g} in magnitude, expected |entries| < "
                             f"{limit:.3g} (d = {d}), so that squared distances between samples are finite")
    return t


def _number(x: Any, name: str, expected: str) -> float:
    """``x`` as a float: a real number (a Python or numpy number, or a one-element tensor), not a bool or a
    string; TypeError naming ``name`` otherwise."""
    if isinstance(x, (bool, np.bool_, str, bytes)) or (isinstance(x, torch.Tensor) and x.dtype == torch.bool):
        raise TypeError(f"{name}: got {x!r}, expected {expected}")
    if isinstance(x, torch.Tensor) and x.device.type == "meta":
        raise ValueError(f"{name}: got a tensor on the meta device (no data), expected {expected}")
    try:
        return float(x)
    except (TypeError, ValueError, RuntimeError) as err:
        raise TypeError(f"{name}: got {_short(x)}, expected {expected}") from err


def positive(x: Any, name: str) -> float:
    """A finite number > 0 (a bool or a string is a TypeError)."""
    v = _number(x, name, "a number > 0")
    if not (v > 0.0 and math.isfinite(v)):
        raise ValueError(f"{name}: got {x!r}, expected a finite number > 0")
    return v


BETA_RANGE = (1.5e-154, 1.3e154)
"""Noise standard deviations beta with beta^2 and 1 / beta^2 finite, nonzero float64 numbers (the Gaussian
densities of the estimators use both; :class:`noisynet.NoisyTwin` accepts the same range)."""


def beta(x: Any, name: str = "beta") -> float:
    """beta, a noise standard deviation (not the variance): a finite number > 0 whose square and inverse
    square are finite and nonzero in float64, i.e. in :data:`BETA_RANGE` (about 1e-154 .. 1e154).

    Raises:
        TypeError: not a number (a bool or a string included).
        ValueError: not finite, <= 0, or outside :data:`BETA_RANGE` (names ``name``).
    """
    v = positive(x, name)
    lo, hi = BETA_RANGE
    if not lo < v < hi:
        raise ValueError(f"{name}: got {x!r}, expected a noise standard deviation between {lo:g} and {hi:g} "
                         f"({name}^2 and 1/{name}^2 representable in float64)")
    return v


def positive_int(x: Any, name: str, *, minimum: int = 1) -> int:
    """An integer >= ``minimum``."""
    if isinstance(x, bool) or not isinstance(x, (int, np.integer)):
        raise TypeError(f"{name}: got {x!r}, expected an integer >= {minimum}")
    if x < minimum:
        raise ValueError(f"{name}: got {x!r}, expected an integer >= {minimum}")
    return int(x)


def probability(x: Any, name: str) -> float:
    """A number strictly between 0 and 1 (a bool or a string is a TypeError)."""
    v = _number(x, name, "a number in (0, 1)")
    if not 0.0 < v < 1.0:
        raise ValueError(f"{name}: got {x!r}, expected a number in (0, 1)")
    return v


def labels(y: Any, name: str, *, length: int, min_classes: int = 2) -> torch.Tensor:
    """Integer class labels of shape (length,), with at least ``min_classes`` distinct values, as int64 on the
    CPU. Float labels must be whole numbers that int64 holds exactly (|y| < 2^63; 1e30 and 2e30 would both
    become the same int64): ValueError otherwise; strings, bools and objects are a TypeError."""
    t = _tensor(y, name, "integer class labels")
    if t.dim() != 1:
        raise ValueError(f"{name}: got shape {tuple(t.shape)}, expected ({length},)")
    if t.shape[0] != length:
        raise ValueError(f"{name}: got {t.shape[0]} labels, expected {length} (one per input)")
    if t.is_floating_point():
        if not torch.equal(t, t.round()):
            raise ValueError(f"{name}: got non-integer values, expected integer class labels")
        big = t.abs().max().item() if t.numel() else 0.0
        if not big < 2.0**63:
            raise ValueError(f"{name}: got a label of magnitude {big:.3g}, expected integers that int64 holds "
                             "exactly (|label| < 2^63)")
    elif t.dtype not in _INTS:
        raise TypeError(f"{name}: got dtype {t.dtype}, expected integer class labels")
    t = t.to(torch.int64).cpu()
    k = int(torch.unique(t).numel())
    if k < min_classes:
        raise ValueError(f"{name}: got {k} distinct class(es), expected at least {min_classes}")
    return t


def weights(w: Any, name: str, *, length: int) -> torch.Tensor:
    """Non-negative finite float64 weights of shape (length,) with a positive sum, normalised to sum 1."""
    t = samples(w, name, rank=1)
    if t.shape[0] != length:
        raise ValueError(f"{name}: got {t.shape[0]} weights, expected {length} (one per sample)")
    if (t < 0).any():
        raise ValueError(f"{name}: got negative weights, expected weights >= 0")
    total = float(t.sum())
    if not total > 0.0:
        raise ValueError(f"{name}: got weights summing to {total}, expected a positive sum")
    return t / total


def generator(g: Any, name: str = "generator") -> torch.Generator:
    """A torch.Generator from a Generator, an int seed, or None (a fresh, randomly seeded generator)."""
    if isinstance(g, torch.Generator):
        return g
    if g is None:
        out = torch.Generator()
        out.seed()
        return out
    if isinstance(g, (int, np.integer)) and not isinstance(g, bool):
        out = torch.Generator()
        out.manual_seed(int(g))
        return out
    raise TypeError(f"{name}: got {g!r}, expected a torch.Generator, an int seed or None")
