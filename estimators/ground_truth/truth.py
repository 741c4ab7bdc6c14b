"""The :class:`Truth` record and the input validation shared by the ground-truth modules."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np

from estimators import checks


@dataclass(frozen=True)
class Truth:
    """A reference value computed by closed form or deterministic quadrature (never by sampling).

    Attributes:
        value: the quantity, in nats (float).
        abs_error: bound on |value - exact| in nats (float >= 0): the quadrature's reported error estimate
            plus analytic bounds on every truncation (integration domain, dropped nodes). 0.0 for a closed
            form. See each function for what the bound covers and how rigorous it is.
        method: words naming the method (closed form, quad, Gauss-Hermite order, ...).
    """

    value: float
    abs_error: float
    method: str

    def __post_init__(self) -> None:
        if not math.isfinite(self.value):
            raise ValueError(f"value: got {self.value!r}, expected a finite number")
        if not (self.abs_error >= 0.0 and math.isfinite(self.abs_error)):
            raise ValueError(f"abs_error: got {self.abs_error!r}, expected a finite number >= 0")

    def contains(self, x: float, slack: float = 0.0) -> bool:
        """Whether ``x`` lies within ``abs_error + slack`` of ``value``."""
        return abs(float(x) - self.value) <= self.abs_error + slack


def combine(terms: Iterable[tuple[float, Truth]], method: str, extra_error: float = 0.0) -> Truth:
    """The linear combination sum_j c_j T_j; errors add as sum_j |c_j| abs_error_j (+ ``extra_error``)."""
    terms = list(terms)
    value = math.fsum(c * t.value for c, t in terms)
    err = math.fsum(abs(c) * t.abs_error for c, t in terms) + extra_error
    return Truth(float(value), float(err), method)


def points_array(x: Any, name: str, *, dims: tuple[int, ...] = (1, 2)) -> np.ndarray:
    """Finite float64 points of shape (k, d) with d in ``dims``; a 1-D array (k,) is read as (k, 1)."""
    t = checks.as_tensor(x, name)
    if t.dim() == 1:
        t = t.reshape(-1, 1)
    t = checks.samples(t, name, rank=2)
    if t.shape[1] not in dims:
        raise ValueError(f"{name}: got shape {tuple(t.shape)}, expected (k, d) with d in {dims}")
    return t.cpu().numpy()


def weights_array(w: Any, name: str, *, length: int) -> np.ndarray:
    """Weights >= 0 of shape (length,), normalised to sum 1; None gives equal weights."""
    if w is None:
        return np.full(length, 1.0 / length)
    return checks.weights(w, name, length=length).cpu().numpy()


def beta_value(beta: Any, name: str = "beta") -> float:
    """The noise standard deviation: a finite number > 0."""
    return checks.positive(beta, name)


def merge_duplicates(points: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Merge exactly equal points (summing their weights) and drop zero-weight points. Exact: the law of S
    is unchanged."""
    keep = weights > 0
    points, weights = points[keep], weights[keep]
    uniq, inverse = np.unique(points, axis=0, return_inverse=True)
    merged = np.bincount(inverse.ravel(), weights=weights, minlength=len(uniq))
    return uniq, merged
