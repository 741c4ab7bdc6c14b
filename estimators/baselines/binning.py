"""Binning estimators of the information plane: fixed bins (Shwartz-Ziv & Tishby 2017) and entropy-based
adaptive bins (Chelombiev, Houghton & O'Donnell, ICLR 2019). docs/theory.md, sections 1 and 9.

Each neuron (column of ``t``) is binned on its own; the vector of bin indices is the symbol of an input.
With X uniform over the m inputs and T = f(X) deterministic,

    I(X; Bin T) = H(Bin T),        I(Bin T; Y) = H(Bin T) - H(Bin T | Y),

plug-in entropies of the empirical law of the m rows (nats). For a deterministic network these measure
clustering at the bin scale, not I(X;T) (which is ln m or infinite; docs/theory.md, section 1), and they
depend strongly on the bins. They carry no interval: ``bound`` says "no interval: plug-in estimator".

Two conventions for fixed bins on a range [low, high], both offered by name:

* "equal" (the default here): ``n_bins`` equal bins [e_k, e_{k+1}), edges ``linspace(low, high, n_bins + 1)``,
  the last bin closed (it also holds ``high``).
* "szt": Shwartz-Ziv & Tishby's code, ``bins = np.linspace(-1, 1, 30).astype(np.float32)`` and each value
  replaced by ``bins[np.digitize(value, bins) - 1]``: 30 *edges*, i.e. 29 bins [e_k, e_{k+1}), and a value
  equal to the top edge is a symbol of its own (a saturated tanh unit at exactly 1.0 is not merged with the
  values just below it). :meth:`FixedBinning.szt` gives it. On the same layer the two conventions can differ
  by a tenth of a nat or more. (Their code also maps a value below the range onto the top edge's symbol;
  here a value outside [low, high] raises instead.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from estimators import checks
from estimators.baselines.discrete import (
    NO_INTERVAL,
    _cmi,
    _entropy,
    _mi_estimate,
    _outside_message,
    _range,
    _row_ids,
    _rows,
)
from estimators.estimate import Estimate
from estimators.protocol import Estimator, LayerData, MIEstimate

N_BINS = 30
"""Default number of equal bins per neuron (convention "equal"; Shwartz-Ziv & Tishby's 30 is a number of edges)."""
SZT_N_EDGES = 30
"""Shwartz-Ziv & Tishby's code: ``np.linspace(-1, 1, 30)``, 30 edges on the tanh range, i.e. 29 bins."""
CONVENTIONS = ("equal", "szt")


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


def _plane(codes: np.ndarray, labels: Any, name: str, params: dict, diagnostics: dict) -> MIEstimate:
    """(H(Bin T), I(Bin T; Y)) from the integer bin indices ``codes`` (m, d); I(T;Y) None without labels."""
    m = codes.shape[0]
    y = None if labels is None else checks.labels(labels, "labels", length=m).numpy()
    ids = _row_ids(codes)
    diagnostics = {"n_occupied_bins": int(ids.max()) + 1, **diagnostics}
    i_ty = None if y is None else _point(_cmi(ids, y), name, m, params, diagnostics)
    return _mi_estimate(name, params, _point(_entropy(ids), name, m, params, diagnostics), i_ty)


def _grid(n_bins: Any, bin_width: Any, low: Any, high: Any, convention: Any) -> dict[str, Any]:
    """The validated, resolved grid of :func:`fixed_binning_mi` as its params (see there for the rules)."""
    if convention not in CONVENTIONS:
        raise ValueError(f"convention: got {convention!r}, expected one of {CONVENTIONS}")
    if n_bins is not None and bin_width is not None:
        raise ValueError(f"n_bins, bin_width: got both ({n_bins!r}, {bin_width!r}), expected exactly one")
    if bin_width is None:
        n = N_BINS if n_bins is None else checks.positive_int(n_bins, "n_bins")
        lo, hi = _range(-1.0 if low is None else low, 1.0 if high is None else high)
        return {"n_bins": n, "bin_width": None, "low": lo, "high": hi, "convention": convention}
    if convention != "equal":
        raise ValueError(f"convention: got {convention!r} with bin_width, expected 'equal' (the 'szt' convention "
                         "bins a range into n_bins)")
    w = checks.positive(bin_width, "bin_width")
    lo = -math.inf if low is None else float(low)
    hi = math.inf if high is None else float(high)
    if math.isnan(lo) or math.isnan(hi) or not lo < hi:
        raise ValueError(f"low, high: got ({low!r}, {high!r}), expected numbers with low < high")
    return {"n_bins": None, "bin_width": w, "low": low, "high": high, "convention": convention, "origin": 0.0}


def fixed_binning_mi(
    t: Any,
    labels: Any = None,
    *,
    n_bins: int | None = None,
    bin_width: float | None = None,
    low: float | None = None,
    high: float | None = None,
    convention: str = "equal",
) -> MIEstimate:
    """I(X; Bin T) = H(Bin T) and I(Bin T; Y) = H(Bin T) - H(Bin T | Y) with fixed bins per neuron
    (Shwartz-Ziv & Tishby, "Opening the Black Box of Deep Neural Networks via Information", 2017).

    Give at most one of:

    * ``n_bins`` (default 30 when neither is given): bins on [low, high] (``low``/``high`` default to -1 and 1,
      tanh as in the paper; they must follow the activation, :func:`activation_range`, e.g. [0, max] for
      ReLU), by ``convention``:

      - "equal": equal bins, edges ``linspace(low, high, n_bins + 1)``; bin k is [e_k, e_{k+1}), the last bin
        also holds ``high``;
      - "szt": Shwartz-Ziv & Tishby's code, edges ``linspace(low, high, n_bins + 1)`` rounded to float32 and
        codes ``np.digitize(t, edges)``: bin k is [e_k, e_{k+1}) and a value equal to ``high`` is a symbol of
        its own. Their 30 edges on [-1, 1] are ``n_bins=29`` (:meth:`FixedBinning.szt`).

    * ``bin_width``: cells [k w, (k+1) w) for every integer k (origin 0, unbounded grid). ``low``/``high`` are
      optional here; when given, values outside them still raise.

    Args:
        t: Tensor or array (m, d), real; row i is the representation of input i (X uniform over the m rows).
        labels: Tensor or array (m,), integer class labels, at least 2 classes; or None (I(X;T) only).
        n_bins: integer >= 1.
        bin_width: finite number > 0.
        low, high: finite numbers, low < high.
        convention: "equal" or "szt" (with ``n_bins`` only).

    Returns:
        :class:`MIEstimate` (estimator "binning_range", "binning_szt" or "binning_width"): point Estimates in
        nats (no interval; bound "no interval: plug-in estimator"), params {"n_bins", "bin_width", "low",
        "high", "convention"} (the one not used None; with bin_width also "origin": 0.0), n = m,
        diagnostics["n_occupied_bins"].

    Raises:
        ValueError: a value of ``t`` outside [low, high] (names ``t`` and the count; nothing is clipped); both
            ``n_bins`` and ``bin_width`` given; bad ``t`` (rank, empty, NaN/inf), ``labels``, ``n_bins``,
            ``bin_width``, ``low``/``high``, ``convention``; a bin index overflowing int64 (bin_width too small).
        TypeError: non-numeric ``t``, non-integer ``n_bins``.
    """
    x = _rows(t, "t")
    params = _grid(n_bins, bin_width, low, high, convention)
    lo = -math.inf if params["low"] is None else params["low"]
    hi = math.inf if params["high"] is None else params["high"]
    outside = int(np.count_nonzero((x < lo) | (x > hi)))
    if outside:
        raise ValueError(_outside_message("t", outside, x.size, lo, hi, x)
                         + "; pass the observed range (low=..., high=...) or a bin_width")
    if params["bin_width"] is None:
        edges = np.linspace(lo, hi, params["n_bins"] + 1)
        if convention == "szt":
            codes = np.digitize(x, edges.astype(np.float32))
            name = "binning_szt"
        else:
            codes = np.digitize(x, edges[1:-1])
            name = "binning_range"
    else:
        q = np.floor(x / params["bin_width"])
        if not np.all(np.abs(q) < 2.0**62):
            raise ValueError(f"bin_width: got {bin_width!r}, bin indices up to {np.abs(q).max():.3g} overflow "
                             f"int64; expected a larger bin_width")
        codes = q.astype(np.int64)
        name = "binning_width"
    return _plane(codes, labels, name, params, {})


ADAPTIVE_EDGES = ("per-neuron equal quantiles: np.quantile(t[:, j], linspace(0, 1, n_bins + 1)), method "
                  "'linear'; repeated edges (ties) merged; a value equal to an edge goes to the bin above")


def adaptive_binning_mi(t: Any, labels: Any = None, *, n_bins: int = N_BINS) -> MIEstimate:
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
        labels: Tensor or array (m,), integer class labels, at least 2 classes; or None (I(X;T) only).
        n_bins: integer >= 1, bins per neuron.

    Returns:
        :class:`MIEstimate` (estimator "binning_adaptive"): point Estimates in nats (no interval), params
        {"n_bins", "edges"} ("edges" describes the method), n = m, diagnostics {"n_occupied_bins",
        "bins_per_neuron"}.

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
    return _plane(codes, labels, "binning_adaptive", params, {"bins_per_neuron": used})


@dataclass(frozen=True)
class FixedBinning(Estimator):
    """Fixed binning (Shwartz-Ziv & Tishby 2017) in the estimator protocol: :func:`fixed_binning_mi` of the
    layer's deterministic representation ``layer.deterministic()`` (m, d) and ``layer.labels``; the noise std
    ``layer.beta`` is not used.

    Attributes (see :func:`fixed_binning_mi`; resolved at construction, so ``params()`` shows the grid used):
        n_bins: bins on [low, high] (default 30 when ``bin_width`` is None).
        bin_width: cell side of the unbounded grid with origin 0, or None.
        low, high: the range (default [-1, 1] with ``n_bins``; optional with ``bin_width``).
        convention: "equal" (default) or "szt" (:meth:`szt`: Shwartz-Ziv & Tishby's digitize on 30 edges).

    ``name``: "binning_range" (equal bins), "binning_szt" or "binning_width".

    Raises:
        ValueError / TypeError: as :func:`fixed_binning_mi`, for the hyperparameters at construction and for
            the layer at the call (values outside the range; replicas that differ without ``layer.s``).
    """

    n_bins: int | None = None
    bin_width: float | None = None
    low: float | None = None
    high: float | None = None
    convention: str = "equal"

    def __post_init__(self) -> None:
        grid = _grid(self.n_bins, self.bin_width, self.low, self.high, self.convention)
        for key in ("n_bins", "low", "high"):
            object.__setattr__(self, key, grid.get(key))

    @classmethod
    def szt(cls, low: float = -1.0, high: float = 1.0) -> FixedBinning:
        """Shwartz-Ziv & Tishby's binning: ``np.linspace(low, high, 30)`` edges (29 bins), ``np.digitize``."""
        return cls(n_bins=SZT_N_EDGES - 1, low=low, high=high, convention="szt")

    @property
    def name(self) -> str:
        if self.bin_width is not None:
            return "binning_width"
        return "binning_szt" if self.convention == "szt" else "binning_range"

    def __call__(self, layer: LayerData, *, generator=None) -> MIEstimate:
        return fixed_binning_mi(layer.deterministic(), layer.labels, n_bins=self.n_bins, bin_width=self.bin_width,
                                low=self.low, high=self.high, convention=self.convention)


@dataclass(frozen=True)
class AdaptiveBinning(Estimator):
    """Entropy-based adaptive binning (Chelombiev, Houghton & O'Donnell 2019) in the estimator protocol:
    :func:`adaptive_binning_mi` of ``layer.deterministic()`` (m, d) and ``layer.labels``, ``n_bins``
    equal-mass bins per neuron. ``name``: "binning_adaptive".

    Raises:
        ValueError / TypeError: n_bins not an integer >= 1 (at construction); bad labels at the call.
    """

    n_bins: int = N_BINS
    name = "binning_adaptive"

    def __post_init__(self) -> None:
        checks.positive_int(self.n_bins, "n_bins")

    def __call__(self, layer: LayerData, *, generator=None) -> MIEstimate:
        return adaptive_binning_mi(layer.deterministic(), layer.labels, n_bins=self.n_bins)
