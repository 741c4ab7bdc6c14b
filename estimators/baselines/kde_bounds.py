"""Pairwise-distance bounds on the entropy of a Gaussian mixture, and the KDE information plane built on them.

Kolchinsky & Tracey, "Estimating mixture entropy with pairwise distances", Entropy 19(7):361, 2017: for a
mixture g = sum_i w_i p_i with components p_i = N(mu_i, s^2 I_d) and any pairwise distance D,

    H_D = H(X|C) - sum_i w_i ln sum_j w_j exp(-D(p_i || p_j)),      H(X|C) = (d/2) ln(2 pi e s^2)

is an upper bound on h(g) with D = KL (KL = ||mu_i - mu_j||^2 / (2 s^2)) and a lower bound
with D = the Bhattacharyya distance (the Chernoff alpha = 1/2 case, optimal for components
of equal covariance: BD = ||mu_i - mu_j||^2 / (8 s^2)). Both lie in [H(X|C), H(X|C) + H(w)].

Saxe et al. (ICLR 2018, "On the information bottleneck theory of deep learning") used these bounds for the
information plane of a layer T = t(X) + N(0, s^2 I) with X uniform over the m inputs. Their code writes the
lower bound as "the KL estimate at variance 4 s^2 plus (d/2) ln(1/4)": that is the same number as H_BD above
(the (d/2) ln 4 terms cancel), not a different bound. Note also that Saxe et al. parameterised the noise
by its *variance* (1e-1 in their runs); everything here takes the noise **standard deviation** s.

All values are in nats. Squared distances are computed by direct differences (scipy cdist 'sqeuclidean'),
in row chunks, in float64: the expansion ||a||^2 - 2 a.b + ||b||^2 cancels catastrophically at small s.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.spatial.distance import cdist

from estimators import checks
from estimators.estimate import Estimate

_CHUNK_ELEMENTS = 2**21  # float64 entries of one (chunk, m) block of squared distances: 16 MiB

_DIVISOR = {"kl": 2.0, "bhattacharyya": 8.0}  # D_ij = ||mu_i - mu_j||^2 / (divisor * s^2)


def gaussian_entropy(d: int, noise_std: float) -> float:
    """h(N(0, s^2 I_d)) = (d/2) ln(2 pi e s^2) in nats (the H(X|C) term of Kolchinsky & Tracey)."""
    return 0.5 * d * math.log(2.0 * math.pi * math.e * noise_std**2)


def _pairwise_terms(c: np.ndarray, w: np.ndarray, noise_std: float) -> tuple[float, float]:
    """sum_i w_i ln sum_j w_j exp(-D_ij) for D = Bhattacharyya and D = KL (``_DIVISOR``), in that order;
    chunked, float64, squared distances by direct differences (computed once for both: exp(-KL) = exp(-BD)^4).

    No max-shift is needed: a row i with w_i > 0 has its own term exp(-D_ii) = exp(0) = 1 in its sum, so the
    sum is at least w_i and cannot underflow (far terms underflowing to 0 change it by less than one ulp);
    weightless rows are skipped (0 * ln(...) = 0)."""
    m = c.shape[0]
    rows = max(1, _CHUNK_ELEMENTS // m)
    total = [0.0, 0.0]
    for a in range(0, m, rows):
        wa = w[a : a + rows]
        keep = wa > 0
        if not keep.any():
            continue
        e = cdist(c[a : a + rows][keep], c, "sqeuclidean")
        e *= -1.0 / (_DIVISOR["bhattacharyya"] * noise_std**2)
        np.exp(e, out=e)  # exp(-BD_ij)
        total[0] += float(np.dot(wa[keep], np.log(e @ w)))
        np.square(e, out=e)
        np.square(e, out=e)  # exp(-KL_ij) = exp(-BD_ij)^4, as KL = ||.||^2 / (2 s^2) = 4 BD
        total[1] += float(np.dot(wa[keep], np.log(e @ w)))
    return total[0], total[1]


def _entropy_pair(c: np.ndarray, w: np.ndarray, noise_std: float) -> tuple[float, float]:
    """(lower, upper) = (H_BD, H_KL) for centres c (n, d) float64 and normalised weights w (n,)."""
    h0 = gaussian_entropy(c.shape[1], noise_std)
    bd, kl = _pairwise_terms(c, w, noise_std)
    return h0 - bd, h0 - kl


def mixture_entropy_bounds(centres: Any, noise_std: float, weights: Any = None) -> tuple[Estimate, Estimate]:
    """Lower and upper bounds on the entropy of g = sum_i w_i N(mu_i, s^2 I) (Kolchinsky & Tracey 2017).

    Args:
        centres: Tensor or array (n, d), float: the component means mu_i.
        noise_std: s > 0, the components' standard deviation (not the variance).
        weights: optional (n,) non-negative weights with a positive sum (normalised here); default 1/n each.

    Returns:
        (lower, upper): Estimates in nats, lower = H_BD (Bhattacharyya distance), upper = H_KL (KL
        divergence). Both are deterministic bounds on h(g) for the given centres: no sampling error, so
        neither carries an interval (``bound`` says so). lower <= upper always.

    Raises:
        ValueError / TypeError: centres not (n, d), empty, NaN/inf; noise_std <= 0 or not finite; weights of
        the wrong length, negative, or summing to 0.
    """
    s = checks.positive(noise_std, "noise_std")
    c = checks.samples(centres, "centres", rank=2).cpu().numpy()
    n = c.shape[0]
    w = np.full(n, 1.0 / n) if weights is None else checks.weights(weights, "weights", length=n).cpu().numpy()
    lo, hi = _entropy_pair(c, w, s)
    params = {"noise_std": s, "weighted": weights is not None}
    common = dict(n=n, params=params, diagnostics={"h_component": gaussian_entropy(c.shape[1], s)})
    lower = Estimate.point(
        lo,
        estimator="kde_lower_bhattacharyya",
        bound="no interval: Kolchinsky-Tracey lower bound on the mixture entropy (Bhattacharyya distance)",
        **common,
    )
    upper = Estimate.point(
        hi,
        estimator="kde_upper_kl",
        bound="no interval: Kolchinsky-Tracey upper bound on the mixture entropy (KL divergence)",
        **common,
    )
    return lower, upper


def kde_mutual_information(t: Any, labels: Any, noise_std: float, *, mode: str = "saxe") -> dict[str, Estimate]:
    """KDE-bound information plane of T = t(X) + N(0, s^2 I), X uniform over the m rows of ``t``.

    Saxe et al. (ICLR 2018) with the Kolchinsky & Tracey (2017) bounds:

    * I(X;T) = h(T) - h(T|X) and h(T|X) = (d/2) ln(2 pi e s^2) exactly (each input gives one Gaussian), so
      ``I_XT_upper`` = H_KL(T) - h(T|X) and ``I_XT_lower`` = H_BD(T) - h(T|X) are true bounds on the I(X;T)
      of the mixture, in both modes.
    * I(T;Y) = h(T) - sum_y p(y) h(T|Y=y), p(y) = n_y / m, T|Y=y the equal-weight mixture of class y's rows.
      A difference of two bounds is a bound only when the terms are of opposite kinds:

      - ``mode="bracket"``: ``I_TY_upper`` = H_KL(T) - sum_y p(y) H_BD(T|y) and ``I_TY_lower`` = H_BD(T) -
        sum_y p(y) H_KL(T|y): a guaranteed bracket (the lower one can be negative; it is not clipped).
      - ``mode="saxe"`` (default; what Saxe et al.'s code computes): ``I_TY_upper`` = H_KL(T) - sum_y p(y)
        H_KL(T|y) and ``I_TY_lower`` = H_BD(T) - sum_y p(y) H_BD(T|y). These are *estimates*, not bounds:
        either can fall on the wrong side of the true value.

    Args:
        t: Tensor or array (m, d), float: the deterministic representations t(x_i), one row per input.
        labels: (m,) integer class labels with at least two classes, or None to compute I(X;T) only.
        noise_std: s > 0, the noise standard deviation (Saxe et al. quote a variance: pass its square root).
        mode: "saxe" or "bracket" (affects only the I(T;Y) pair).

    Returns:
        dict with Estimates in nats: "I_XT_upper", "I_XT_lower" and, with labels, "I_TY_upper",
        "I_TY_lower". None carries an interval; ``params`` holds noise_std and mode, ``diagnostics`` the
        entropy terms.

    Raises:
        ValueError / TypeError: t not (m, d) or non-finite; labels of the wrong shape/length, non-integer or
        a single class; noise_std <= 0; mode unknown.
    """
    s = checks.positive(noise_std, "noise_std")
    return _kde_mi(checks.samples(t, "t", rank=2).cpu().numpy(), labels, s, mode, {})


def _kde_mi(c: np.ndarray, labels: Any, s: float, mode: str, extra: dict[str, Any]) -> dict[str, Estimate]:
    """:func:`kde_mutual_information` on validated float64 representations ``c`` (m, d) and std ``s``."""
    if mode not in ("saxe", "bracket"):
        raise ValueError(f"mode: got {mode!r}, expected 'saxe' or 'bracket'")
    m, d = c.shape
    y = None if labels is None else checks.labels(labels, "labels", length=m).numpy()
    h_cond = gaussian_entropy(d, s)
    h_lo, h_hi = _entropy_pair(c, np.full(m, 1.0 / m), s)
    params = {"noise_std": s, "mode": mode, **extra}
    diag: dict[str, Any] = {"h_T_lower": h_lo, "h_T_upper": h_hi, "h_T_given_X": h_cond}

    def est(value: float, name: str, bound: str) -> Estimate:
        return Estimate.point(value, estimator=name, n=m, params=dict(params), diagnostics=dict(diag), bound=bound)

    out = {
        "I_XT_upper": est(h_hi - h_cond, "kde_kl_upper", "no interval: KL upper bound on I(X;T) (exact h(T|X))"),
        "I_XT_lower": est(h_lo - h_cond, "kde_bd_lower", "no interval: BD lower bound on I(X;T) (exact h(T|X))"),
    }
    if y is None:
        return out
    classes, counts = np.unique(y, return_counts=True)
    cls_lo = cls_hi = 0.0
    for cl, n_y in zip(classes, counts):
        lo, hi = _entropy_pair(c[y == cl], np.full(n_y, 1.0 / n_y), s)
        cls_lo += n_y / m * lo
        cls_hi += n_y / m * hi
    diag.update(h_T_given_Y_lower=cls_lo, h_T_given_Y_upper=cls_hi, n_classes=int(len(classes)))
    if mode == "bracket":
        up, lo = h_hi - cls_lo, h_lo - cls_hi
        kind = "bound"
    else:
        up, lo = h_hi - cls_hi, h_lo - cls_lo
        kind = "estimate, not a bound (Saxe et al.: same-kind terms)"
    out["I_TY_upper"] = est(up, f"kde_{mode}_upper", f"no interval: KL-based I(T;Y) {kind}")
    out["I_TY_lower"] = est(lo, f"kde_{mode}_lower", f"no interval: BD-based I(T;Y) {kind}")
    return out


def adaptive_noise_kde_mi(t: Any, labels: Any, rel_noise: float = 0.1, *, mode: str = "saxe") -> dict[str, Estimate]:
    """Adaptive-noise KDE information plane (Chelombiev, Houghton & O'Donnell, ICLR 2019).

    The noise is scaled to the layer's current activity instead of being fixed, so that the estimate does
    not merely follow the overall scale of the activations (unbounded ReLU layers grow during training):

        s = rel_noise * (max(t) - min(t)),   max and min over **all** entries of ``t`` (every input, every unit)

    The statistic (the global range of the layer's activations) is our choice of "spread"; other choices
    (per-unit ranges, a standard deviation) are equally defensible and give different numbers. Then
    :func:`kde_mutual_information` is applied with that s. The estimate is invariant to rescaling ``t``.

    Args:
        t: Tensor or array (m, d), float, representations of the m inputs (X uniform over them).
        labels: (m,) integer labels (>= 2 classes) or None.
        rel_noise: > 0, the noise std as a fraction of the activation range.
        mode: "saxe" or "bracket", as in :func:`kde_mutual_information`.

    Returns:
        The dict of :func:`kde_mutual_information` (nats); each Estimate's ``params`` adds rel_noise, the
        chosen noise_std and the rule.

    Raises:
        ValueError: as :func:`kde_mutual_information`; rel_noise <= 0; ``t`` constant (zero range).
    """
    r = checks.positive(rel_noise, "rel_noise")
    c = checks.samples(t, "t", rank=2).cpu().numpy()
    spread = float(c.max() - c.min())
    if not spread > 0.0:
        raise ValueError("t: got constant activations (max - min = 0), expected a positive range to scale the noise")
    extra = {"rel_noise": r, "activation_range": spread, "noise_rule": "rel_noise * (max - min over all of t)"}
    return _kde_mi(c, labels, r * spread, mode, extra)
