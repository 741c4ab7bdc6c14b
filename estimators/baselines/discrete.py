"""Exact finite-sum information measures for discrete (quantized) representations.

Lorenzen, Igel & Nielsen, "Information Bottleneck: Exact Analysis of (Quantized) Neural Networks", ICLR 2022:
when activations take finitely many values (e.g. quantized to 2^b levels) and X is uniform over the m inputs,
the information-plane quantities are finite sums over the empirical law of the m representations, computed
exactly -- no binning, no density estimate. :class:`DiscreteExact` is the estimator-protocol face
(:class:`~estimators.protocol.Estimator`) of :func:`discrete_mutual_information`.

Rows of a tensor (m, d) are symbols: two inputs have the same symbol when their rows are equal entry by
entry. The private helpers (``_row_ids``, ``_entropy``, ``_cmi``) are the plug-in sums shared by the binning
and transfer-entropy baselines. Everything is in nats.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from estimators import checks
from estimators.estimate import Estimate
from estimators.protocol import NO_LABELS, Estimator, LayerData, MIEstimate

EXACT = "exact finite sum (Lorenzen et al. 2022)"
NO_INTERVAL = "no interval: plug-in estimator"


def _mi_estimate(estimator: str, params: dict[str, Any], i_xt: Estimate, i_ty: Estimate | None,
                 reasons: dict[str, str] | None = None, terms: dict[str, Estimate] | None = None) -> MIEstimate:
    """The :class:`MIEstimate` of a baseline: I(T;Y) None (reason "no labels given") when ``i_ty`` is None."""
    reasons = dict(reasons or {})
    if i_ty is None:
        reasons["I_TY"] = NO_LABELS
    return MIEstimate(i_xt, i_ty, estimator, params=params, reasons=reasons, terms=terms or {})


# ------------------------------------------------------------------------------------- plug-in sums


def _rows(x: Any, name: str, *, rank: int = 2) -> np.ndarray:
    """Finite float64 array of the given rank (integer codes are exact up to 2^53); -0.0 is made 0.0."""
    return checks.samples(x, name, rank=rank).cpu().numpy() + 0.0


def _row_ids(rows: np.ndarray) -> np.ndarray:
    """Integer id (0..k-1) of each row of ``rows`` (n, d): equal rows get equal ids."""
    return np.unique(rows, axis=0, return_inverse=True)[1].reshape(-1).astype(np.int64)


def _count_of_own_cell(*ids: np.ndarray) -> np.ndarray:
    """For each sample i, how many samples share its joint symbol (ids[0][i], ids[1][i], ...); float64."""
    joint = np.stack(ids, axis=1)
    _, inverse, counts = np.unique(joint, axis=0, return_inverse=True, return_counts=True)
    return counts[inverse.reshape(-1)].astype(np.float64)


def _entropy(ids: np.ndarray) -> float:
    """H of the empirical law of ``ids`` (n,): -(1/n) sum_i ln(n_i / n) with n_i the count of sample i's
    symbol, i.e. -sum_c p_c ln p_c. Nats; exactly ln n when all symbols are distinct."""
    n = ids.shape[0]
    return math.log(n) - float(np.mean(np.log(_count_of_own_cell(ids))))


def _cmi(x: np.ndarray, z: np.ndarray, y: np.ndarray | None = None) -> float:
    """Conditional mutual information I(X;Z|Y) of the empirical law of the n triples (x_i, y_i, z_i):

        I(X;Z|Y) = sum_{x,y,z} p(x,y,z) ln[ p(x,y,z) p(y) / (p(x,y) p(y,z)) ]
                 = (1/n) sum_i ln[ n_xyz(i) n_y(i) / (n_xy(i) n_yz(i)) ],

    with counts of sample i's own cells. Without ``y`` it is I(X;Z) = (1/n) sum_i ln[n n_xz(i)/(n_x(i) n_z(i))],
    which equals H(X) + H(Z) - H(X,Z). Each term is a ratio of integer counts, so a law that factorises exactly
    gives exactly 0. Nats."""
    if y is None:
        y = np.zeros_like(x)
    ratio = (_count_of_own_cell(x, y, z) * _count_of_own_cell(y)) / (
        _count_of_own_cell(x, y) * _count_of_own_cell(y, z)
    )
    return float(np.mean(np.log(ratio)))


# ------------------------------------------------------------------------------------- public API


def discrete_entropy(codes: Any) -> Estimate:
    """Entropy H(T) of the empirical law of the rows of ``codes``, an exact finite sum (Lorenzen et al. 2022).

    Each row is one symbol (rows compared entry by entry); each of the m rows has probability 1/m, so
    H = -sum_c (n_c/m) ln(n_c/m) over the distinct rows c. This is exact for the m given rows (not an estimate
    of a larger population), hence a zero-width interval.

    Args:
        codes: Tensor or array (m, d), integer or float; e.g. the output of :func:`quantize`.

    Returns:
        Estimate in nats, in [0, ln m], with std_error 0, ci_low = ci_high = value, bound "exact finite sum
        (Lorenzen et al. 2022)", n = m, diagnostics["n_symbols"] = number of distinct rows.

    Raises:
        ValueError: ``codes`` not 2-D, empty, or with NaN/inf entries.
        TypeError: non-numeric ``codes``.
    """
    rows = _rows(codes, "codes")
    ids = _row_ids(rows)
    return Estimate.from_normal(
        _entropy(ids), 0.0, estimator="discrete_exact", params={}, n=rows.shape[0], bound=EXACT,
        diagnostics={"n_symbols": int(ids.max()) + 1},
    )


def discrete_mutual_information(codes: Any, labels: Any = None) -> MIEstimate:
    """Exact I(X;T) and I(T;Y) for a discrete representation T = f(X) (Lorenzen, Igel & Nielsen, ICLR 2022).

    Assumption: X is uniform over the m inputs (one row of ``codes`` per input, each input once) and the
    representation is a deterministic function of the input, T = f(X). Then H(T|X) = 0 and

        I(X;T) = H(T)                          (exact; ln m when all m rows are distinct)
        I(T;Y) = H(T) + H(Y) - H(T,Y)          (exact; computed as sum p(t,y) ln[p(t,y) / (p(t) p(y))])

    with p the empirical law of the m pairs (row, label). Both are exact finite sums for these m inputs, so
    each Estimate has std_error 0 and a zero-width interval.

    Args:
        codes: Tensor or array (m, d), integer or float; rows are the symbols t_i = f(x_i).
        labels: Tensor or array (m,), integer class labels y_i, at least 2 classes; or None (I(X;T) only).

    Returns:
        :class:`MIEstimate` (estimator "discrete_exact", params {}): ``i_xt``, ``i_ty`` Estimates in nats
        with bound "exact finite sum (Lorenzen et al. 2022)", n = m; ``i_ty`` None without labels.

    Raises:
        ValueError: bad ``codes`` (rank, empty, NaN/inf); ``labels`` of the wrong length, non-integer, or with
            a single class.
        TypeError: non-numeric ``codes``, non-integer dtype ``labels``.
    """
    rows = _rows(codes, "codes")
    m = rows.shape[0]
    y = None if labels is None else checks.labels(labels, "labels", length=m).numpy()
    ids = _row_ids(rows)
    diag = {"n_symbols": int(ids.max()) + 1}
    if y is not None:
        diag["n_classes"] = int(np.unique(y).size)
    kw = dict(estimator="discrete_exact", params={}, n=m, bound=EXACT, diagnostics=diag)
    i_ty = None if y is None else Estimate.from_normal(_cmi(ids, y), 0.0, **kw)
    return _mi_estimate("discrete_exact", {}, Estimate.from_normal(_entropy(ids), 0.0, **kw), i_ty)


def _range(low: Any, high: Any) -> tuple[float, float]:
    lo, hi = float(low), float(high)
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"low, high: got ({low!r}, {high!r}), expected finite numbers with low < high")
    return lo, hi


def _outside_message(name: str, k: int, total: int, lo: float, hi: float, x: np.ndarray | torch.Tensor) -> str:
    return (f"{name}: got {k} of {total} values outside [low, high] = [{lo:g}, {hi:g}] (observed min {float(x.min()):g}, "
            f"max {float(x.max()):g}); expected all inside. Nothing is clipped silently")


def quantize(t: Any, bits: int, low: float, high: float, *, clip: bool = False) -> torch.Tensor | tuple[torch.Tensor, int]:
    """Map activations onto 2^bits equally spaced levels in [low, high] (the quantized activations of
    Lorenzen, Igel & Nielsen, ICLR 2022).

    Levels are ``low + k * step``, k = 0 .. 2^bits - 1, step = (high - low) / (2^bits - 1), so ``low`` and
    ``high`` are both levels. Each value goes to the nearest level, k = floor((t - low)/step + 1/2) (a value
    exactly halfway goes up).

    Args:
        t: Tensor or array of any shape, real, finite.
        bits: integer in 1 .. 32.
        low, high: finite numbers, low < high: the quantizer's range (e.g. -1, 1 for tanh).
        clip: False (default): a value outside [low, high] raises. True: such values are clipped to the range
            and their number is returned with the result, so a clip is always reported.

    Returns:
        Tensor of the same shape, float64, each entry one of the 2^bits levels; with ``clip=True``, the pair
        (that tensor, number of values that were clipped).

    Raises:
        ValueError: values outside [low, high] with ``clip=False`` (the message names ``t`` and the count);
            NaN/inf in ``t``; ``bits`` < 1 or > 32; low >= high or not finite.
        TypeError: non-numeric ``t``, non-integer ``bits``.
    """
    x = checks.as_tensor(t, "t")
    bad = ~torch.isfinite(x)
    if bad.any():
        raise ValueError(f"t: got {int(bad.sum())} NaN or infinite entries, expected finite numbers")
    bits = checks.positive_int(bits, "bits")
    if bits > 32:
        raise ValueError(f"bits: got {bits}, expected an integer in 1 .. 32")
    lo, hi = _range(low, high)
    outside = (x < lo) | (x > hi)
    n_clipped = int(outside.sum())
    if n_clipped and not clip:
        raise ValueError(_outside_message("t", n_clipped, x.numel(), lo, hi, x)
                         + "; pass clip=True to clip them and get their count")
    x = x.clamp(lo, hi)
    top = 2**bits - 1
    step = (hi - lo) / top
    k = torch.floor((x - lo) / step + 0.5).clamp(0, top)  # the clamp only absorbs rounding at the ends
    q = lo + k * step
    return (q, n_clipped) if clip else q


@dataclass(frozen=True)
class DiscreteExact(Estimator):
    """Exact I(X;T) = H(T) and I(T;Y) of a discrete (or quantized) deterministic layer (Lorenzen, Igel &
    Nielsen, ICLR 2022), in the estimator protocol: :func:`discrete_mutual_information` of the layer's
    deterministic representation (``layer.deterministic()``, (m, d)), quantized first to 2^bits levels on
    [low, high] (:func:`quantize`, nothing clipped) when ``bits`` is given. The noise std ``layer.beta`` is not
    used: these are the quantities of the noiseless (quantized) network.

    Attributes:
        bits: None (the representation's values are the symbols) or an integer in 1 .. 32.
        low, high: the quantizer's range (finite, low < high), used with ``bits``.

    ``name`` is "discrete_exact", or "quantized_b<bits>" with ``bits``.

    Raises:
        ValueError: bits out of range, low >= high (at construction); at the call, a layer whose replicas
            differ without ``s``, values outside [low, high], labels with one class.
        TypeError: bits not an integer.
    """

    bits: int | None = None
    low: float = -1.0
    high: float = 1.0

    def __post_init__(self) -> None:
        if self.bits is not None:
            bits = checks.positive_int(self.bits, "bits")
            if bits > 32:
                raise ValueError(f"bits: got {bits}, expected an integer in 1 .. 32")
        lo, hi = _range(self.low, self.high)
        object.__setattr__(self, "low", lo)
        object.__setattr__(self, "high", hi)

    @property
    def name(self) -> str:
        return "discrete_exact" if self.bits is None else f"quantized_b{self.bits}"

    def __call__(self, layer: LayerData, *, generator=None) -> MIEstimate:
        s = layer.deterministic()
        codes = s if self.bits is None else quantize(s, self.bits, self.low, self.high)
        r = discrete_mutual_information(codes, layer.labels)
        return MIEstimate(r.i_xt, r.i_ty, self.name, params=self.params(), reasons=r.reasons)
