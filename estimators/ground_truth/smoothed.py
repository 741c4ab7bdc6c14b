"""Entropies of Gaussian-smoothed laws h(S + Z), Z ~ N(0, beta^2 I_d), and the one-channel MI built on them.

docs/theory.md, sections 3-4: every term of I(X;T_l) is the entropy of a Gaussian-smoothed law
h(P_S * N(0, beta^2 I)); the SP estimator is the plug-in for exactly these quantities, so these are its
reference values. beta is the noise **standard deviation**; everything is in nats.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from estimators import checks
from estimators.ground_truth.hermite import mixture_entropy_hermite
from estimators.ground_truth.quadrature import mixture_entropy_quad_1d, mixture_entropy_quad_2d
from estimators.ground_truth.truth import (
    Truth,
    beta_value,
    combine,
    merge_duplicates,
    points_array,
    weights_array,
)

_METHODS = ("auto", "quad", "hermite")


def gaussian_entropy(cov: Any) -> Truth:
    """h(N(mu, cov)) = (1/2) ln det(2 pi e cov), closed form (abs_error 0).

    Args:
        cov: array (d, d), float; symmetric positive definite covariance (a scalar is read as (1, 1)).

    Returns:
        Truth (nats).

    Raises:
        ValueError: cov not square, not symmetric, not positive definite, or not finite.
    """
    c = checks.as_tensor(cov, "cov").cpu().numpy()
    c = c.reshape(1, 1) if c.ndim == 0 else c
    if c.ndim != 2 or c.shape[0] != c.shape[1] or c.shape[0] == 0:
        raise ValueError(f"cov: got shape {c.shape}, expected (d, d)")
    if not np.all(np.isfinite(c)):
        raise ValueError("cov: got NaN or infinite entries, expected finite numbers")
    if not np.allclose(c, c.T, rtol=1e-12, atol=0.0):
        raise ValueError("cov: got a non-symmetric matrix, expected a symmetric one")
    try:
        chol = np.linalg.cholesky(c)
    except np.linalg.LinAlgError as err:
        raise ValueError("cov: got a matrix that is not positive definite") from err
    d = c.shape[0]
    value = 0.5 * d * math.log(2 * math.pi * math.e) + float(np.sum(np.log(np.diag(chol))))
    return Truth(value, 0.0, "closed form: (1/2) ln det(2 pi e cov)")


def gaussian_smoothed_entropy(d: int, s: float, beta: float) -> Truth:
    """h(S + Z) for S ~ N(mu, s^2 I_d), Z ~ N(0, beta^2 I_d): (d/2) ln(2 pi e (s^2 + beta^2)), closed form.

    Args:
        d: dimension (int >= 1). s: std of S (float >= 0; 0 means S constant). beta: noise std (float > 0).

    Returns:
        Truth (nats), abs_error 0.

    Raises:
        ValueError: d < 1, s < 0, beta <= 0, or NaN/inf (TypeError for non-numbers).
    """
    d = checks.positive_int(d, "d")
    beta = beta_value(beta)
    s = float(s)
    if not (s >= 0.0 and math.isfinite(s)):
        raise ValueError(f"s: got {s!r}, expected a finite number >= 0")
    return Truth(0.5 * d * math.log(2 * math.pi * math.e * (s * s + beta * beta)), 0.0,
                 "closed form: (d/2) ln(2 pi e (s^2 + beta^2))")


def _mixture_entropy(mu: np.ndarray, s: np.ndarray, w: np.ndarray, method: str, tol: float | None) -> Truth:
    """Dispatch for -int g ln g, g = sum w_k N(mu_k, s_k^2 I_d), d in {1, 2}; w > 0 sums to 1."""
    if method not in _METHODS:
        raise ValueError(f"method: got {method!r}, expected one of {_METHODS}")
    if tol is not None:
        tol = checks.positive(tol, "tol")
    k, d = mu.shape
    if method == "auto" and k == 1:
        return Truth(0.5 * d * math.log(2 * math.pi * math.e * s[0] ** 2), 0.0,
                     "closed form: one Gaussian component")
    if method == "quad" or (method == "auto" and d == 1):
        if d == 1:
            v, e, n = mixture_entropy_quad_1d(mu[:, 0], s, w)
            return Truth(v, e, f"scipy quad on {n} sub-intervals + analytic tail bound")
        v, e = mixture_entropy_quad_2d(mu, s, w)
        return Truth(v, e, "nested scipy quad (quad_vec over y, quad over x) + analytic tail bound")
    if tol is None:
        tol = 1e-10 if d == 1 else 1e-8
    v, e, n = mixture_entropy_hermite(mu, s, w, tol=tol)
    return Truth(v, e, f"component decomposition, tensor Gauss-Hermite order {n} (Cauchy error)")


def discrete_smoothed_entropy(
    points: Any, beta: float, weights: Any = None, *, method: str = "auto", tol: float | None = None
) -> Truth:
    """h(P * N(0, beta^2 I_d)) for S discrete on ``points``: the entropy of the Gaussian mixture
    g(t) = sum_i w_i N(t; p_i, beta^2 I), -int g ln g (docs/theory.md, section 4, the law h_SP estimates).

    Args:
        points: array (k, d), float, d in {1, 2} (a 1-D array (k,) means k scalar points). Exactly equal
            points are merged (their weights summed) first; this is exact.
        beta: noise standard deviation (float > 0).
        weights: None (equal) or array (k,) of weights >= 0 with a positive sum (normalised here).
        method: "auto" (closed form for one distinct point; "quad" in 1-D; "hermite" in 2-D),
            "quad" (1-D: scipy quad with breakpoints; 2-D: nested quad, for a handful of points only),
            "hermite" (decomposition sum_i w_i E[-ln g(p_i + Z)] by tensor Gauss-Hermite; see hermite.py).
        tol: per-component tolerance of the Gauss-Hermite order doubling, in nats (None: 1e-10 in 1-D,
            1e-8 in 2-D, where the tensor rule costs the square; 1e-8 takes a few seconds for 256 points
            a few beta apart).

    Returns:
        Truth (nats). "quad": abs_error is QUADPACK's estimate + an analytic bound on the truncated domain +
        a rounding allowance (quadrature.py). "hermite": the weighted difference of the last two orders +
        bounded truncations (hermite.py); a RuntimeWarning says when the highest order did not reach ``tol``
        (the difference is still in abs_error).

    Raises:
        ValueError: points not (k, d) with d in {1, 2} or not finite; beta <= 0 or NaN; weights of the wrong
            length, negative or summing to 0; unknown method; tol <= 0.
    """
    p = points_array(points, "points")
    beta = beta_value(beta)
    w = weights_array(weights, "weights", length=p.shape[0])
    p, w = merge_duplicates(p, w)
    return _mixture_entropy(p, np.full(len(p), beta), w, method, tol)


def gaussian_mixture_smoothed_entropy(
    means: Any, stds: Any, weights: Any, beta: float, *, method: str = "auto", tol: float | None = None
) -> Truth:
    """h(S + Z) for S a mixture of isotropic Gaussians sum_k w_k N(means_k, stds_k^2 I_d): S + Z is the
    mixture with variances stds_k^2 + beta^2, whose entropy is computed as in
    :func:`discrete_smoothed_entropy` (same methods and error bounds).

    Args:
        means: array (k, d), float, d in {1, 2}. stds: array (k,), float >= 0 (0: a point mass).
        weights: None (equal) or array (k,) >= 0 with a positive sum. beta: noise std (float > 0).
        method, tol: as in :func:`discrete_smoothed_entropy`.

    Returns:
        Truth (nats).

    Raises:
        ValueError: wrong shapes or lengths, negative or non-finite stds, beta <= 0, bad weights.
    """
    mu = points_array(means, "means")
    beta = beta_value(beta)
    sd = checks.samples(stds, "stds", rank=1).cpu().numpy()
    if sd.shape[0] != mu.shape[0]:
        raise ValueError(f"stds: got {sd.shape[0]} values, expected {mu.shape[0]} (one per mean)")
    if np.any(sd < 0):
        raise ValueError("stds: got negative values, expected stds >= 0")
    w = weights_array(weights, "weights", length=mu.shape[0])
    keep = w > 0
    return _mixture_entropy(mu[keep], np.sqrt(sd[keep] ** 2 + beta**2), w[keep], method, tol)


def noise_entropy(d: int, beta: float) -> Truth:
    """h(Z) = (d/2) ln(2 pi e beta^2), Z ~ N(0, beta^2 I_d): the conditional entropy of a first layer."""
    return gaussian_smoothed_entropy(d, 0.0, beta)


def mi_one_channel(points: Any, beta: float, weights: Any = None, *, method: str = "auto",
                   tol: float | None = None) -> Truth:
    """I(X;T) for X on the m points (uniform or weighted) and T = x + Z, Z ~ N(0, beta^2 I_d):
    I = h(T) - (d/2) ln(2 pi e beta^2) (docs/theory.md, section 3, layer 1: h(T|X = x_i) = h(Z)).

    Args:
        points: array (m, d), float, d in {1, 2}. beta: noise std (> 0). weights: None (uniform) or (m,).
        method, tol: as in :func:`discrete_smoothed_entropy`.

    Returns:
        Truth (nats); abs_error is that of h(T). 0 <= I <= H(X).

    Raises:
        ValueError: as :func:`discrete_smoothed_entropy`.
    """
    p = points_array(points, "points")
    h_t = discrete_smoothed_entropy(p, beta, weights, method=method, tol=tol)
    return combine([(1.0, h_t), (-1.0, noise_entropy(p.shape[1], beta))], "h(T) - h(Z); h(T) by " + h_t.method)


def mi_one_channel_labels(points: Any, labels: Any, beta: float, weights: Any = None, *,
                          method: str = "auto", tol: float | None = None) -> Truth:
    """I(T;Y) = h(T) - sum_y p(y) h(T | Y = y) for T = x + Z, X on the points with class ``labels``
    (docs/theory.md, section 3).

    Args:
        points: array (m, d), float, d in {1, 2}. labels: integer array (m,) with >= 2 classes.
        beta: noise std (> 0). weights: None (uniform) or (m,). method, tol: as above.

    Returns:
        Truth (nats); abs_error sums those of the entropies. 0 <= I <= H(Y).

    Raises:
        ValueError: as :func:`discrete_smoothed_entropy`; labels of the wrong length or with one class.
    """
    p = points_array(points, "points")
    y = checks.labels(labels, "labels", length=p.shape[0]).numpy()
    w = weights_array(weights, "weights", length=p.shape[0])
    terms = [(1.0, discrete_smoothed_entropy(p, beta, w, method=method, tol=tol))]
    for c in np.unique(y):
        py = float(w[y == c].sum())
        if py > 0:
            terms.append((-py, discrete_smoothed_entropy(p[y == c], beta, w[y == c], method=method, tol=tol)))
    return combine(terms, "h(T) - sum_y p(y) h(T|Y=y); entropies by " + terms[0][1].method)


def entropy_of_weights(weights: Any) -> float:
    """H(p) = -sum p ln p in nats for weights >= 0 (normalised here): the well-separated limit of I(X;T)
    (= ln m for equal weights) and, with group sizes as weights, the limit when the points merge into groups.

    Raises:
        ValueError: weights not 1-D, negative, non-finite or summing to 0.
    """
    t = checks.samples(weights, "weights", rank=1)
    p = checks.weights(t, "weights", length=t.shape[0]).numpy()
    p = p[p > 0]
    return float(-np.sum(p * np.log(p)))


def separated_limit(m: int) -> float:
    """lim I(X;T) = ln m when m equally likely points are pairwise >> beta apart (nats)."""
    return math.log(checks.positive_int(m, "m"))


def coincident_limit() -> float:
    """I(X;T) = 0 when all points coincide (nats)."""
    return 0.0


def merged_limit(group_sizes: Any) -> float:
    """lim I(X;T) when m equally likely points form groups (coincident within a group, groups >> beta apart):
    the entropy of the group sizes, -sum (n_g/m) ln(n_g/m), in nats."""
    return entropy_of_weights(group_sizes)
