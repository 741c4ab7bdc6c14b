"""Exact (to a stated tolerance) I(X;T) for small noisy tanh networks: the single noisy neuron and a
two-layer noisy net in 1-D (Goldfeld et al., ICML 2019, the single-neuron example and its two-layer
extension; docs/theory.md, sections 2, 3 and 8). No sampling anywhere: these are the references that the
sample-propagation estimator is tested against.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import norm

from estimators import checks
from estimators.ground_truth.smoothed import (
    discrete_smoothed_entropy,
    mi_one_channel,
    mi_one_channel_labels,
    noise_entropy,
)
from estimators.ground_truth.truth import Truth, beta_value, combine, points_array

SINGLE_NEURON_INPUTS = np.array([-3.0, -1.0, 1.0, 3.0])
SINGLE_NEURON_LABELS = np.array([0, 0, 0, 1])  # Y = 1{X = 3}
SINGLE_NEURON_INPUTS.setflags(write=False)
SINGLE_NEURON_LABELS.setflags(write=False)


def _finite(x: Any, name: str) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name}: got {x!r}, expected a finite number") from err
    if not math.isfinite(v):
        raise ValueError(f"{name}: got {x!r}, expected a finite number")
    return v


@dataclass(frozen=True)
class SingleNeuronMI:
    """I(X;T) and I(T;Y) of the single noisy neuron, one entry per weight (nats).

    Attributes:
        w: ndarray, the weights (shape of the input ``w``; 0-d for a scalar).
        i_xt, i_xt_error: ndarrays of that shape, I(X;T) and its error bound.
        i_ty, i_ty_error: ndarrays of that shape, I(T;Y) and its error bound.
    """

    w: np.ndarray
    i_xt: np.ndarray
    i_xt_error: np.ndarray
    i_ty: np.ndarray
    i_ty_error: np.ndarray


def single_neuron_mi(w: Any, beta: float, *, shift: float = 2.0) -> SingleNeuronMI:
    """The single noisy neuron T = tanh(w (X - shift)) + Z, Z ~ N(0, beta^2), X uniform on {-3, -1, 1, 3},
    Y = 1{X = 3} (docs/theory.md, section 8; Goldfeld et al. ICML 2019: bias b = -2w, so shift = 2).

    I(X;T) = h(T) - h(Z) by :func:`mi_one_channel` on the points tanh(w (x - shift)); I(T;Y) by
    :func:`mi_one_channel_labels`. As w grows I(X;T) rises towards ln 4 (images separate) then falls
    towards h_b(1/4) = 0.5623 nats (the images of -3, -1, 1 merge at -1).

    Args:
        w: float or array of any shape, the weight(s). beta: noise std (float > 0). shift: float.

    Returns:
        SingleNeuronMI with arrays of the shape of ``w`` (nats).

    Raises:
        ValueError: beta <= 0 or NaN, non-finite w or shift.
    """
    beta = beta_value(beta)
    shift = _finite(shift, "shift")
    ws = np.asarray(checks.as_tensor(w, "w").numpy(), dtype=np.float64)
    if not np.all(np.isfinite(ws)):
        raise ValueError("w: got NaN or infinite values, expected finite numbers")
    out = np.zeros((4,) + ws.shape)
    for idx in np.ndindex(ws.shape):
        pts = np.tanh(ws[idx] * (SINGLE_NEURON_INPUTS - shift))
        ixt = mi_one_channel(pts, beta)
        ity = mi_one_channel_labels(pts, SINGLE_NEURON_LABELS.copy(), beta)
        out[(slice(None),) + idx] = (ixt.value, ixt.abs_error, ity.value, ity.abs_error)
    return SingleNeuronMI(ws, out[0], out[1], out[2], out[3])


@dataclass(frozen=True)
class TwoLayerMI:
    """Information terms of the two-layer noisy net (nats).

    Attributes:
        i_xt: Truth, I(X;T2) = h(T2) - (1/m) sum_i h(T2 | X = x_i).
        h_t2: Truth, h(T2).
        h_t2_given_x: tuple of m Truths, h(T2 | X = x_i) in the order of ``x_points``.
        i_ty: Truth, I(T2;Y), or None without labels.
        nodes: number of t1 nodes per input of the (finest) trapezoid rule at which all terms converged.
    """

    i_xt: Truth
    h_t2: Truth
    h_t2_given_x: tuple[Truth, ...]
    i_ty: Truth | None
    nodes: int


_T1_HALF_WIDTH = 10.0  # t1 grid covers a_i +- 10 beta1; the Gaussian mass outside is 2 Q(10) ~ 1.5e-23
_MAX_NODES = 1 << 15  # per input


def _t2_mixtures(a1: np.ndarray, beta1: float, w2: float, b2: float, step: float):
    """Per input, the trapezoid discretisation (step ``step``) of t1 ~ N(a1_i, beta1^2) on a1_i +- 10 beta1,
    pushed through tanh(w2 t1 + b2): centres (m, n) and normalised weights (n,) of S2 | X = x_i."""
    half = int(math.ceil(_T1_HALF_WIDTH * beta1 / step))
    if 2 * half + 1 > _MAX_NODES:
        raise ValueError(f"tol: converging needs more than {_MAX_NODES} t1 nodes per input (beta1 = {beta1}, "
                         f"w2 = {w2}); use a larger tol or beta2, or a smaller beta1 * |w2|")
    u = step * np.arange(-half, half + 1)
    v = np.exp(-0.5 * (u / beta1) ** 2)
    v /= v.sum()
    return np.tanh(w2 * (a1[:, None] + u[None, :]) + b2), v


def _terms(centres, v, beta2, groups):
    """h(T2) and the entropy of each group of inputs (list of index arrays), as Truths."""
    m = centres.shape[0]
    h_all = discrete_smoothed_entropy(centres.ravel(), beta2, np.tile(v, m) / m)
    h_groups = [discrete_smoothed_entropy(centres[g].ravel(), beta2, np.tile(v, len(g)) / len(g)) for g in groups]
    return h_all, h_groups


def two_layer_tanh_mi(
    x_points: Any,
    w1: float,
    b1: float,
    w2: float,
    b2: float,
    beta1: float,
    beta2: float,
    labels: Any = None,
    *,
    tol: float = 1e-9,
) -> TwoLayerMI:
    """I(X;T2) for the two-layer noisy net T1 = tanh(w1 x + b1) + Z1, S2 = tanh(w2 T1 + b2), T2 = S2 + Z2,
    Z1 ~ N(0, beta1^2), Z2 ~ N(0, beta2^2), X uniform on the m ``x_points`` (docs/theory.md, sections 2-3; the
    quantity sample propagation estimates for a second layer, Goldfeld et al. ICML 2019).

    Method: p(t2 | x_i) = int phi_beta1(t1 - a_i) phi_beta2(t2 - tanh(w2 t1 + b2)) dt1, a_i = tanh(w1 x_i + b1).
    The t1 integral uses the trapezoidal rule with step h on a_i +- 10 beta1, which makes T2 | x_i a
    Gaussian mixture (centres at the nodes' images tanh(w2 t1_j + b2), std beta2, weights prop. to
    phi_beta1); its entropy, and that of the pooled and class mixtures, is computed by 1-D quad with
    breakpoints (:func:`discrete_smoothed_entropy`). h starts at min(beta1/2, beta2/|w2|) and halves
    until every entropy changes by at most ``tol``. The trapezoidal rule is used rather than Gauss-Hermite:
    on an analytic integrand with Gaussian decay it converges geometrically in 1/h (Trefethen & Weideman,
    SIAM Review 56, 2014), and its node count grows linearly in beta1 |w2| / beta2, whereas the central
    spacing of Gauss-Hermite nodes only shrinks like n^-1/2 (wide S2 | x_i would need ~1e4 nodes).

    Error bound per entropy: |change between the last two steps| (a Cauchy estimate of the t1-rule error,
    reliable but not rigorous) + the quad bound of the final step + a bound for the Gaussian mass beyond
    10 beta1 (eps = 2 Q(10): 2 eps (|ln eps| + |h(Z2)| + 10)). The MI's bound sums those of its terms.

    Args:
        x_points: array (m,) or (m, 1), float, m >= 1 distinct-or-not inputs (each weighted 1/m).
        w1, b1, w2, b2: floats, the weights and biases. beta1, beta2: noise stds (floats > 0).
        labels: None or integer array (m,) with >= 2 classes, for I(T2;Y).
        tol: convergence tolerance in nats.

    Returns:
        TwoLayerMI (nats).

    Raises:
        ValueError: bad shapes, non-finite parameters, beta1 or beta2 <= 0, labels with one class, or a
            t1 rule that would need more than 32768 nodes per input (beta2 far below beta1 |w2|).
    """
    x = points_array(x_points, "x_points", dims=(1,))[:, 0]
    w1, b1, w2, b2 = (_finite(v, n) for v, n in ((w1, "w1"), (b1, "b1"), (w2, "w2"), (b2, "b2")))
    beta1, beta2 = beta_value(beta1, "beta1"), beta_value(beta2, "beta2")
    m = x.shape[0]
    groups = [np.array([i]) for i in range(m)]
    classes: list[tuple[float, np.ndarray]] = []
    if labels is not None:
        y = checks.labels(labels, "labels", length=m).numpy()
        classes = [(float(np.mean(y == c)), np.flatnonzero(y == c)) for c in np.unique(y)]
    groups += [g for _, g in classes]
    a1 = np.tanh(w1 * x + b1)
    # Gaussian mass outside the t1 grid, renormalised away: it changes each entropy by at most
    # 2 eps (|ln eps| + |h(Z2)| + 10).
    eps = 2 * float(norm.sf(_T1_HALF_WIDTH))
    extra = 2 * eps * (abs(math.log(eps)) + abs(noise_entropy(1, beta2).value) + 10)

    # First step: the Gaussian resolved (beta1 / 2) and neighbouring images of t1 nodes at most beta2
    # apart (|d tanh| <= |w2| dt1); then halved until converged.
    step = min(beta1 / 2, beta2 / abs(w2)) if w2 != 0 else beta1 / 2
    prev = None
    while True:
        centres, v = _t2_mixtures(a1, beta1, w2, b2, step)
        h_all, h_groups = _terms(centres, v, beta2, groups)
        vals = np.array([h_all.value] + [h.value for h in h_groups])
        if prev is not None:
            change = np.abs(vals - prev)
            if change.max() <= tol:
                break
        prev, step = vals, step / 2

    how = f"t1 by trapezoid ({v.size} nodes per input), t2 by quad"

    def truth(h: Truth, c: float) -> Truth:
        return Truth(h.value, h.abs_error + c + extra, f"{how}: {h.method}")

    h_t2 = truth(h_all, change[0])
    cond = tuple(truth(h, c) for h, c in zip(h_groups[:m], change[1 : m + 1]))
    i_xt = combine([(1.0, h_t2)] + [(-1.0 / m, h) for h in cond], "h(T2) - mean_i h(T2|X=x_i); " + how)
    i_ty = None
    if classes:
        by_class = [truth(h, c) for h, c in zip(h_groups[m:], change[m + 1 :])]
        i_ty = combine([(1.0, h_t2)] + [(-p, h) for (p, _), h in zip(classes, by_class)],
                       "h(T2) - sum_y p(y) h(T2|Y=y); " + how)
    return TwoLayerMI(i_xt, h_t2, cond, i_ty, int(v.size))
