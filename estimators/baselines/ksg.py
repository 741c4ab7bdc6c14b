"""k-nearest-neighbour estimators: KSG mutual information, its discrete-label variant, Kozachenko-Leonenko.

* Kraskov, Stoegbauer & Grassberger, "Estimating mutual information", Phys. Rev. E 69, 066138 (2004),
  estimator 1 (their Eq. 8): I(X;Y) = psi(k) + psi(m) - < psi(n_x + 1) + psi(n_y + 1) >.
* Ross, "Mutual information between discrete and continuous data sets", PLoS ONE 9(2): e87357 (2014),
  I(T;Y) = psi(m) - < psi(N_y) > + psi(k) - < psi(m_i) >.
* Kozachenko & Leonenko (1987) entropy, in the form of Kraskov et al. Eq. 20:
  h = psi(m) - psi(k) + ln V_d + (d/m) sum_i ln r_i.

All neighbour searches use scipy.spatial.cKDTree; distances are max-norm (Chebyshev) unless stated. Values
in nats. These estimators treat the rows as i.i.d. draws of a *continuous* law: exact duplicates (a zero
k-th neighbour distance) make them undefined and raise a ValueError rather than being patched silently.
None of them provides an interval. :class:`KSG` and :class:`RossKNN` are their information-plane estimators
in the estimator protocol (:class:`~estimators.protocol.Estimator`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy.spatial import cKDTree
from scipy.special import digamma, gammaln

from estimators import checks
from estimators.baselines.discrete import _mi_estimate
from estimators.estimate import Estimate
from estimators.protocol import Estimator, LayerData, MIEstimate


def _check_k(k: Any, m: int, name: str) -> int:
    k = checks.positive_int(k, "k")
    if k >= m:
        raise ValueError(f"k: got {k}, expected k < {m} (the number of rows of {name})")
    return k


def _kth_distance(tree: cKDTree, pts: np.ndarray, k: int, p: float, name: str) -> np.ndarray:
    """Distance from each row of ``pts`` (members of ``tree``) to its k-th nearest other member."""
    dist, _ = tree.query(pts, k=k + 1, p=p)  # the nearest one is the point itself, at distance 0
    r = dist[:, k]
    zero = int(np.sum(r <= 0.0))
    if zero:
        raise ValueError(
            f"{name}: {zero} rows have a zero distance to their k-th neighbour (duplicate samples), "
            "expected samples of a continuous law: add jitter or deduplicate"
        )
    return r


def _count_within(pts: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """Number of rows of ``pts`` at max-norm distance <= radius_i from row i, excluding row i itself."""
    return cKDTree(pts).query_ball_point(pts, r=radius, p=np.inf, return_length=True) - 1


def ksg_mutual_information(x: Any, y: Any, k: int = 3) -> Estimate:
    """KSG estimator 1 of I(X;Y) for continuous X, Y from m paired samples (Kraskov et al. 2004, Eq. 8).

    eps_i is the max-norm distance from z_i = (x_i, y_i) to its k-th neighbour in the joint space (the
    joint max-norm is the larger of the two marginal max-norms); n_x(i) counts the j != i with
    ||x_j - x_i||_inf < eps_i **strictly** (radius np.nextafter(eps_i, 0)), likewise n_y(i).

    Args:
        x: Tensor or array (m, d_x), float.
        y: Tensor or array (m, d_y), float, row i paired with row i of x.
        k: neighbours, 1 <= k < m (the paper recommends 2-4).

    Returns:
        Estimate (nats), no interval; may be slightly negative for independent variables (not clipped).

    Raises:
        ValueError / TypeError: wrong rank, NaN/inf, mismatched lengths, k out of range, duplicate joint rows.
    """
    xa = checks.samples(x, "x", rank=2).cpu().numpy()
    ya = checks.samples(y, "y", rank=2).cpu().numpy()
    m = xa.shape[0]
    if ya.shape[0] != m:
        raise ValueError(f"y: got {ya.shape[0]} rows, expected {m} (one per row of x)")
    k = _check_k(k, m, "x")
    z = np.hstack([xa, ya])
    eps = _kth_distance(cKDTree(z), z, k, np.inf, "x, y")
    strict = np.nextafter(eps, 0.0)
    nx, ny = _count_within(xa, strict), _count_within(ya, strict)
    value = digamma(k) + digamma(m) - np.mean(digamma(nx + 1) + digamma(ny + 1))
    return Estimate.point(
        value,
        estimator="ksg1",
        n=m,
        params={"k": k, "norm": "max"},
        bound="no interval: KSG estimator 1 (Kraskov et al. 2004), bias and variance not accounted",
    )


def ksg_mi_discrete_labels(t: Any, labels: Any, k: int = 3, *, query: Any = None) -> Estimate:
    """I(T;Y) for continuous T and discrete Y by Ross (2014).

    For each row i of class y_i: d_i = max-norm distance to its k-th nearest neighbour among the other rows
    of the same class; m_i = number of rows of any class at distance <= d_i, excluding i (so the k-th
    neighbour itself is counted, as in the paper; m_i >= k); N_{y_i} = size of that class. Then
    I = psi(m) + psi(k) - <psi(N_y)> - <psi(m_i)>, the averages over the rows.

    ``query`` averages the two terms over a subset of the rows instead (the neighbour searches still use every
    row): an unbiased estimate of the all-row averages when the subset is chosen without looking at the values
    (e.g. one row per input when each input has several draws), at a fraction of the cost; its extra variance
    is not accounted for.

    Args:
        t: Tensor or array (m, d), float.
        labels: (m,) integer labels, at least two classes, every class with more than k rows.
        k: neighbours, >= 1.
        query: None (every row) or a 1-D integer array of distinct row indices in [0, m).

    Returns:
        Estimate (nats), no interval; params {"k", "norm"} and, with ``query``, "query_rows" (their number).

    Raises:
        ValueError / TypeError: bad t or labels (rank, length, NaN, one class); k < 1; a class with <= k rows
        (the error names the class); duplicate rows within a class; ``query`` not 1-D, empty, out of range or
        with repeated indices.
    """
    ta = checks.samples(t, "t", rank=2).cpu().numpy()
    m = ta.shape[0]
    y = checks.labels(labels, "labels", length=m).numpy()
    k = _check_k(k, m, "t")
    if query is None:
        q = np.arange(m)
    else:
        q = np.asarray(query)
        if q.ndim != 1 or q.size == 0 or not np.issubdtype(q.dtype, np.integer):
            raise ValueError(f"query: got shape {q.shape} dtype {q.dtype}, expected a non-empty 1-D integer array")
        if q.min() < 0 or q.max() >= m or np.unique(q).size != q.size:
            raise ValueError(f"query: got indices outside [0, {m}) or repeated, expected distinct row indices")
    radius = np.full(m, np.nan)
    n_class = np.empty(m)
    wanted = np.zeros(m, dtype=bool)
    wanted[q] = True
    for cl in np.unique(y):
        idx = np.flatnonzero(y == cl)
        if idx.size <= k:
            raise ValueError(f"labels: class {cl} has {idx.size} rows, expected more than k = {k}")
        ask = idx[wanted[idx]]
        n_class[idx] = idx.size
        if ask.size:
            pts = ta[idx]
            radius[ask] = _kth_distance(cKDTree(pts), ta[ask], k, np.inf, "t")
    m_i = cKDTree(ta).query_ball_point(ta[q], r=radius[q], p=np.inf, return_length=True) - 1
    value = digamma(m) + digamma(k) - np.mean(digamma(n_class[q])) - np.mean(digamma(m_i))
    params = {"k": k, "norm": "max"}
    if query is not None:
        params["query_rows"] = int(q.size)
    return Estimate.point(
        value,
        estimator="ksg_ross",
        n=m,
        params=params,
        bound="no interval: Ross (2014) nearest-neighbour estimator, bias and variance not accounted",
    )


def ksg_entropy(x: Any, k: int = 3, *, norm: str = "euclidean") -> Estimate:
    """Kozachenko-Leonenko differential entropy of m samples (Kraskov et al. 2004, Eq. 20), in nats.

        h = psi(m) - psi(k) + ln V_d + (d/m) sum_i ln r_i

    with r_i the distance from x_i to its k-th nearest neighbour and V_d the volume of the unit ball of the
    norm: pi^(d/2) / Gamma(d/2 + 1) for "euclidean" (default), 2^d for "max" (the unit cube [-1, 1]^d).

    Args:
        x: Tensor or array (m, d), float.
        k: neighbours, 1 <= k < m.
        norm: "euclidean" or "max".

    Returns:
        Estimate (nats), no interval.

    Raises:
        ValueError / TypeError: wrong rank, NaN/inf, k out of range, unknown norm, duplicate rows.
    """
    if norm not in ("euclidean", "max"):
        raise ValueError(f"norm: got {norm!r}, expected 'euclidean' or 'max'")
    xa = checks.samples(x, "x", rank=2).cpu().numpy()
    m, d = xa.shape
    k = _check_k(k, m, "x")
    p = 2.0 if norm == "euclidean" else np.inf
    r = _kth_distance(cKDTree(xa), xa, k, p, "x")
    log_vd = 0.5 * d * math.log(math.pi) - gammaln(0.5 * d + 1.0) if norm == "euclidean" else d * math.log(2.0)
    value = digamma(m) - digamma(k) + log_vd + d * np.mean(np.log(r))
    return Estimate.point(
        value,
        estimator="kozachenko_leonenko",
        n=m,
        params={"k": k, "norm": norm},
        bound="no interval: Kozachenko-Leonenko estimator, bias and variance not accounted",
    )


@dataclass(frozen=True)
class KSG(Estimator):
    """KSG in the information plane, one noise draw per input: I(X;T) by :func:`ksg_mutual_information` of
    the inputs ``layer.x`` (m, d_x) and T = S + Z for the first replica of each input (Kraskov et al. 2004,
    estimator 1); I(T;Y) by :func:`ksg_mi_discrete_labels` of the same T and ``layer.labels`` (Ross 2014).
    The noise Z ~ N(0, beta^2 I) is drawn from ``generator``. ``name``: "ksg".

    Attributes:
        k: neighbours (>= 1, < m).

    Raises:
        ValueError / TypeError: k not an integer >= 1 (at construction); ``layer.x`` None, k >= m, duplicate
            rows, bad labels (at the call).
    """

    k: int = 3
    name = "ksg"

    def __post_init__(self) -> None:
        checks.positive_int(self.k, "k")

    def __call__(self, layer: LayerData, *, generator=None) -> MIEstimate:
        x = layer.require("x", self.name)
        gen = checks.generator(generator)
        s = layer.samples[:, 0]
        t = s + layer.beta * torch.randn(s.shape, generator=gen, dtype=torch.float64)
        i_xt = ksg_mutual_information(x, t, k=self.k)
        i_ty = None if layer.labels is None else ksg_mi_discrete_labels(t, layer.labels, k=self.k)
        return _mi_estimate(self.name, {**self.params(), "norm": "max", "draws_per_input": 1}, i_xt, i_ty)


@dataclass(frozen=True)
class RossKNN(Estimator):
    """The nearest-neighbour estimator of Ross (2014) with X entering as a label: T = S + Z for all R
    replicas of each input (``layer.samples`` (m, R, d) plus noise drawn from ``generator``); I(X;T) by
    :func:`ksg_mi_discrete_labels` with the input's index as the label (R samples per "class"), I(T;Y) with
    ``layer.labels`` repeated per replica. The per-point terms are averaged over the first draw of each input
    (``query``), the neighbour searches use all m R draws. ``name``: "ksg_ross".

    Attributes:
        k: neighbours (>= 1); the layer needs R > k replicas per input.

    Raises:
        ValueError / TypeError: k not an integer >= 1 (at construction); R <= k (names ``samples``),
            duplicate rows, bad labels (at the call).
    """

    k: int = 3
    name = "ksg_ross"

    def __post_init__(self) -> None:
        checks.positive_int(self.k, "k")

    def __call__(self, layer: LayerData, *, generator=None) -> MIEstimate:
        m, r = layer.m, layer.replicas
        if r <= self.k:
            raise ValueError(f"samples: got R = {r} replicas per input, expected R > k = {self.k} (X enters as a "
                             "label with R samples each)")
        t = layer.noisy(generator).reshape(m * r, layer.dim)
        first = np.arange(m) * r
        i_xt = ksg_mi_discrete_labels(t, torch.arange(m).repeat_interleave(r), k=self.k, query=first)
        i_ty = None if layer.labels is None else ksg_mi_discrete_labels(
            t, layer.labels.repeat_interleave(r), k=self.k, query=first)
        return _mi_estimate(self.name, {**self.params(), "norm": "max", "R": r}, i_xt, i_ty)
