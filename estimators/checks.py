"""Input validation shared by the estimators: every failure is a ValueError (or TypeError) that names the
argument, says what it got and what was expected."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch


def as_tensor(x: Any, name: str, *, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """``x`` (tensor or array-like) as a tensor of ``dtype`` on its own device; TypeError if not numeric."""
    if isinstance(x, torch.Tensor):
        t = x.detach()
    else:
        try:
            t = torch.as_tensor(np.asarray(x))
        except (TypeError, ValueError) as err:
            raise TypeError(f"{name}: got {type(x).__name__}, expected a tensor or an array of numbers") from err
    if t.dtype == torch.bool or t.is_complex() or not (t.is_floating_point() or t.dtype in _INTS):
        raise TypeError(f"{name}: got dtype {t.dtype}, expected real numbers")
    return t.to(dtype)


_INTS = (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)


def samples(x: Any, name: str, *, rank: int, min_rows: int = 1) -> torch.Tensor:
    """Float64 samples of the given ``rank`` with finite entries and at least ``min_rows`` rows."""
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
    return t


def positive(x: Any, name: str) -> float:
    """A finite number > 0 (e.g. beta, the noise standard deviation)."""
    try:
        v = float(x)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name}: got {x!r}, expected a number > 0") from err
    if not (v > 0.0 and math.isfinite(v)):
        raise ValueError(f"{name}: got {x!r}, expected a finite number > 0")
    return v


def positive_int(x: Any, name: str, *, minimum: int = 1) -> int:
    """An integer >= ``minimum``."""
    if isinstance(x, bool) or not isinstance(x, (int, np.integer)):
        raise TypeError(f"{name}: got {x!r}, expected an integer >= {minimum}")
    if x < minimum:
        raise ValueError(f"{name}: got {x!r}, expected an integer >= {minimum}")
    return int(x)


def probability(x: Any, name: str) -> float:
    """A number strictly between 0 and 1."""
    v = float(x)
    if not 0.0 < v < 1.0:
        raise ValueError(f"{name}: got {x!r}, expected a number in (0, 1)")
    return v


def labels(y: Any, name: str, *, length: int, min_classes: int = 2) -> torch.Tensor:
    """Integer class labels of shape (length,), with at least ``min_classes`` distinct values."""
    t = torch.as_tensor(np.asarray(y)) if not isinstance(y, torch.Tensor) else y.detach()
    if t.dim() != 1:
        raise ValueError(f"{name}: got shape {tuple(t.shape)}, expected ({length},)")
    if t.shape[0] != length:
        raise ValueError(f"{name}: got {t.shape[0]} labels, expected {length} (one per input)")
    if t.is_floating_point():
        if not torch.equal(t, t.round()):
            raise ValueError(f"{name}: got non-integer values, expected integer class labels")
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
