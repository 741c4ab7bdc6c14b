"""Binning estimators of the information plane: fixed bins (Shwartz-Ziv & Tishby 2017) and entropy-based
adaptive bins (Chelombiev, Houghton & O'Donnell, ICLR 2019). docs/theory.md, sections 1 and 9.

Each neuron (column of ``t``) is binned on its own; the vector of bin indices is the symbol of an input.
With X uniform over the m inputs and T = f(X) deterministic,

    I(X; Bin T) = H(Bin T),        I(Bin T; Y) = H(Bin T) - H(Bin T | Y),

plug-in entropies of the empirical law of the m rows (nats). For a deterministic network these measure
clustering at the bin scale, not I(X;T) (which is ln m or infinite; docs/theory.md, section 1), and they depend
strongly on the bins. They carry no interval: ``bound`` says "no interval: plug-in estimator".
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from estimators import checks
from estimators.baselines.discrete import (
    NO_INTERVAL,
    InformationPlanePoint,
    _cmi,
    _entropy,
    _outside_message,
    _range,
    _row_ids,
    _rows,
)
from estimators.estimate import Estimate

SZT_N_BINS = 30
"""Shwartz-Ziv & Tishby (2017): 30 equal bins per neuron on the tanh range [-1, 1]."""


def activation_range(activation: str) -> tuple[float, float]:
    """The range (low, high) an activation's outputs lie in, for :func:`fixed_binning_mi`.

    Returns (-1.0, 1.0) for "tanh" and (0.0, 1.0) for "sigmoid" (case-insensitive).

    Raises:
        ValueError: "relu", "linear" (unbounded: pass the observed range, e.g. low=0, high=t.max() for ReLU,
            or a ``bin_width``) and any other name.
    """
    name = str(activation).lower()
    if name == "tanh":
        return (-1.0, 1.0)
    if name == "sigmoid":
        return (0.0, 1.0)
    if name in ("relu", "linear"):
        raise ValueError(f"activation: got {activation!r}, whose range is unbounded; pass the observed range "
                         f"(low=..., high=..., e.g. low=0, high=t.max() for relu) or a bin_width= instead")
    raise ValueError(f"activation: got {activation!r}, expected 'tanh' or 'sigmoid' (for 'relu'/'linear' pass "
                     f"the observed range or a bin_width)")


def _point(value: float, name: str, m: int, params: dict, diagnostics: dict) -> Estimate:
    return Estimate.point(value, estimator=name, params=params, n=m, bound=NO_INTERVAL, diagnostics=diagnostics)


def _plane(codes: np.ndarray, labels: Any, name: str, params: dict, diagnostics: dict) -> InformationPlanePoint:
    """(H(Bin T), I(Bin T; Y)) from the integer bin indices ``codes`` (m, d)."""
    m = codes.shape[0]
    y = checks.labels(labels, "labels", length=m).numpy()
    ids = _row_ids(codes)
    diagnostics = {"n_occupied_bins": int(ids.max()) + 1, **diagnostics}
    return InformationPlanePoint(
        _point(_entropy(ids), name, m, params, diagnostics), _point(_cmi(ids, y), name, m, params, diagnostics)
    )


def fixed_binning_mi(
    t: Any,
    labels: Any,
    *,
    n_bins: int | None = None,
    bin_width: float | None = None,
    low: float | None = None,
    high: float | None = None,
) -> InformationPlanePoint:
    """I(X; Bin T) = H(Bin T) and I(Bin T; Y) = H(Bin T) - H(Bin T | Y) with fixed bins per neuron
    (Shwartz-Ziv & Tishby, "Opening the Black Box of Deep Neural Networks via Information", 2017).

    Give exactly one of:

    * ``n_bins`` (default 30 when neither is given): equal bins on [low, high], edges
      ``linspace(low, high, n_bins + 1)``; bin k is [e_k, e_{k+1}), the last bin also holds ``high``.
      ``low``/``high`` default to -1 and 1 (tanh, as in the paper); they must follow the activation
      (:func:`activation_range`; e.g. [0, max] for ReLU).
    * ``bin_width``: cells [k w, (k+1) w) for every integer k (origin 0, unbounded grid). ``low``/``high`` are
      optional here; when given, values outside them still raise.

    Args:
        t: Tensor or array (m, d), real; row i is the representation of input i (X uniform over the m rows).
        labels: Tensor or array (m,), integer class labels, at least 2 classes.
        n_bins: integer >= 1.
        bin_width: finite number > 0.
        low, high: finite numbers, low < high.

    Returns:
        InformationPlanePoint(I_XT, I_TY): point Estimates in nats (no interval; bound "no interval: plug-in
        estimator"), params {"n_bins", "low", "high"} or {"bin_width", "origin", "low", "high"}, n = m,
        diagnostics["n_occupied_bins"].

    Raises:
        ValueError: a value of ``t`` outside [low, high] (names ``t`` and the count; nothing is clipped); both
            ``n_bins`` and ``bin_width`` given; bad ``t`` (rank, empty, NaN/inf), ``labels``, ``n_bins``,
            ``bin_width``, ``low``/``high``; a bin index overflowing int64 (bin_width too small).
        TypeError: non-numeric ``t``, non-integer ``n_bins``.
    """
    x = _rows(t, "t")
    if n_bins is not None and bin_width is not None:
        raise ValueError(f"n_bins, bin_width: got both ({n_bins!r}, {bin_width!r}), expected exactly one")
    if bin_width is None:
        n_bins = SZT_N_BINS if n_bins is None else checks.positive_int(n_bins, "n_bins")
        lo, hi = _range(-1.0 if low is None else low, 1.0 if high is None else high)
    else:
        w = checks.positive(bin_width, "bin_width")
        lo = -math.inf if low is None else float(low)
        hi = math.inf if high is None else float(high)
        if math.isnan(lo) or math.isnan(hi) or not lo < hi:
            raise ValueError(f"low, high: got ({low!r}, {high!r}), expected numbers with low < high")
    outside = int(np.count_nonzero((x < lo) | (x > hi)))
    if outside:
        raise ValueError(_outside_message("t", outside, x.size, lo, hi, x)
                         + "; pass the observed range (low=..., high=...) or a bin_width")
    if bin_width is None:
        codes = np.digitize(x, np.linspace(lo, hi, n_bins + 1)[1:-1])
        params = {"n_bins": n_bins, "low": lo, "high": hi}
    else:
        q = np.floor(x / w)
        if not np.all(np.abs(q) < 2.0**62):
            raise ValueError(f"bin_width: got {bin_width!r}, bin indices up to {np.abs(q).max():.3g} overflow "
                             f"int64; expected a larger bin_width")
        codes = q.astype(np.int64)
        params = {"bin_width": w, "origin": 0.0, "low": low, "high": high}
    return _plane(codes, labels, "fixed_binning", params, {})


ADAPTIVE_EDGES = ("per-neuron equal quantiles: np.quantile(t[:, j], linspace(0, 1, n_bins + 1)), method "
                  "'linear'; repeated edges (ties) merged; a value equal to an edge goes to the bin above")


def adaptive_binning_mi(t: Any, labels: Any, *, n_bins: int = SZT_N_BINS) -> InformationPlanePoint:
    """I(X; Bin T) and I(Bin T; Y) with entropy-based adaptive bins (Chelombiev, Houghton & O'Donnell,
    "Adaptive Estimators Show Information Compression in Deep Neural Networks", ICLR 2019).

    For each neuron j separately, the interior bin edges are the quantiles of levels 1/n_bins, ...,
    (n_bins-1)/n_bins of that neuron's m values (``np.quantile``, linear interpolation), so each bin holds
    about m / n_bins values and the binned entropy per neuron is near its maximum ln(n_bins). Ties: a block of
    equal values is never split, repeated edges are merged, so a neuron with heavy ties (e.g. saturated tanh)
    uses fewer, fuller bins (reported in diagnostics["bins_per_neuron"]). Bin k is [e_k, e_{k+1}). The
    entropies are then the plug-in sums of :func:`fixed_binning_mi`. Invariant under any strictly increasing
    map applied to a neuron.

    Args:
        t: Tensor or array (m, d), real; row i is the representation of input i (X uniform over the m rows).
        labels: Tensor or array (m,), integer class labels, at least 2 classes.
        n_bins: integer >= 1, bins per neuron.

    Returns:
        InformationPlanePoint(I_XT, I_TY): point Estimates in nats (no interval), params {"n_bins", "edges"}
        ("edges" describes the method), n = m, diagnostics {"n_occupied_bins", "bins_per_neuron"}.

    Raises:
        ValueError: bad ``t`` (rank, empty, NaN/inf), ``labels`` (length, single class) or ``n_bins`` (< 1).
        TypeError: non-numeric ``t``, non-integer ``n_bins``.
    """
    x = _rows(t, "t")
    n_bins = checks.positive_int(n_bins, "n_bins")
    levels = np.linspace(0.0, 1.0, n_bins + 1)[1:-1]
    codes = np.empty(x.shape, dtype=np.int64)
    for j in range(x.shape[1]):
        edges = np.unique(np.quantile(x[:, j], levels))
        codes[:, j] = np.digitize(x[:, j], edges)
    used = [int(np.unique(codes[:, j]).size) for j in range(x.shape[1])]
    params = {"n_bins": n_bins, "edges": ADAPTIVE_EDGES}
    return _plane(codes, labels, "adaptive_binning", params, {"bins_per_neuron": used})
