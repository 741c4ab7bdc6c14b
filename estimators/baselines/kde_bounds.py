"""Pairwise-distance bounds on the entropy of a Gaussian mixture, and the KDE information plane built on them.

Kolchinsky & Tracey, "Estimating mixture entropy with pairwise distances", Entropy 19(7):361, 2017: for a
mixture g = sum_i w_i p_i with components p_i = N(mu_i, beta^2 I_d) and any pairwise distance D,

    h_D = h(X|C) - sum_i w_i ln sum_j w_j exp(-D(p_i || p_j)),      h(X|C) = (d/2) ln(2 pi e beta^2)

is an upper bound on h(g) with D = KL (KL = ||mu_i - mu_j||^2 / (2 beta^2)) and a lower bound
with D = the Bhattacharyya distance (the Chernoff alpha = 1/2 case, optimal for components
of equal covariance: BD = ||mu_i - mu_j||^2 / (8 beta^2)). Both lie in [h(X|C), h(X|C) + H(w)] (H(w) the
discrete entropy of the weights). Kolchinsky & Tracey write these differential entropies with a capital H.

Saxe et al. (ICLR 2018, "On the information bottleneck theory of deep learning") used these bounds for the
information plane of a layer T = t(X) + N(0, beta^2 I) with X uniform over the m inputs. Their code writes the
lower bound as "the KL estimate at variance 4 beta^2 plus (d/2) ln(1/4)": that is the same number as h_BD
above (the (d/2) ln 4 terms cancel), not a different bound. Note also that Saxe et al. parameterised the noise
by its *variance* (1e-1 in their runs); everything here takes the noise **standard deviation** beta.

All values are in nats. Squared distances are computed by direct differences (scipy cdist 'sqeuclidean'),
in row chunks, in float64: the expansion ||a||^2 - 2 a.b + ||b||^2 cancels catastrophically at small beta.
The pooled mixture and the class mixtures share one pass over the distances (one weight column each).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.spatial.distance import cdist

from estimators import checks
from estimators.baselines.discrete import _mi_estimate
from estimators.estimate import Estimate
from estimators.protocol import Estimator, LayerData, MIEstimate
from estimators.stratified import gaussian_noise_entropy

_CHUNK_ELEMENTS = 2**21  # float64 entries of one (chunk, m) block of squared distances: 16 MiB

KINDS = ("bhattacharyya", "kl")  # BD_ij = ||mu_i - mu_j||^2 / (8 beta^2), KL_ij = ||mu_i - mu_j||^2 / (2 beta^2)
BOUNDS = ("upper", "lower")
MODES = ("saxe", "bracket")


def _pairwise_terms(c: np.ndarray, w: np.ndarray, beta: float, kinds: tuple[str, ...]) -> dict[str, np.ndarray]:
    """For each weight column k of ``w`` (n, K) and each distance in ``kinds``: sum_i w_ik ln sum_j w_jk
    exp(-D_ij), a (K,) array per kind. Chunked, float64, squared distances by direct differences, computed
    once for every column and both kinds (exp(-KL) = exp(-BD)^4).

    No max-shift is needed: a row i with w_ik > 0 has its own term w_ik exp(-D_ii) = w_ik in its sum, so the
    sum cannot underflow (far terms underflowing to 0 change it by less than one ulp); rows without weight in
    a column are skipped there (0 * ln(...) = 0)."""
    n = c.shape[0]
    rows = max(1, _CHUNK_ELEMENTS // n)
    total = {kind: np.zeros(w.shape[1]) for kind in kinds}
    for a in range(0, n, rows):
        wa = w[a : a + rows]
        keep = (wa > 0).any(axis=1)
        if not keep.any():
            continue
        wa = wa[keep]
        e = cdist(c[a : a + rows][keep], c, "sqeuclidean")
        e *= -1.0 / (8.0 * beta**2)
        np.exp(e, out=e)  # exp(-BD_ij)
        for kind in (k for k in KINDS if k in kinds):
            if kind == "kl":
                np.square(e, out=e)
                np.square(e, out=e)  # exp(-KL_ij) = exp(-BD_ij)^4, as KL = ||.||^2 / (2 beta^2) = 4 BD
            s = e @ w  # (rows, K); >= wa where wa > 0
            total[kind] += np.where(wa > 0, wa * np.log(np.where(wa > 0, s, 1.0)), 0.0).sum(axis=0)
    return total


def _entropies(c: np.ndarray, w: np.ndarray, beta: float, kinds: tuple[str, ...]) -> dict[str, np.ndarray]:
    """h_D = h(N(0, beta^2 I)) - sum_i w_ik ln sum_j w_jk exp(-D_ij) per column k and kind D (nats); the
    first term is Kolchinsky & Tracey's h(X|C)."""
    h0 = gaussian_noise_entropy(c.shape[1], beta)
    return {kind: h0 - v for kind, v in _pairwise_terms(c, w, beta, kinds).items()}


def mixture_entropy_bounds(centres: Any, beta: float, weights: Any = None) -> tuple[Estimate, Estimate]:
    """Lower and upper bounds on the entropy of g = sum_i w_i N(mu_i, beta^2 I) (Kolchinsky & Tracey 2017).

    Args:
        centres: Tensor or array (n, d), float: the component means mu_i.
        beta: > 0, the components' standard deviation (not the variance).
        weights: optional (n,) non-negative weights with a positive sum (normalised here); default 1/n each.

    Returns:
        (lower, upper): Estimates in nats, lower = h_BD (Bhattacharyya distance), upper = h_KL (KL
        divergence). Both are deterministic bounds on h(g) for the given centres: no sampling error, so
        neither carries an interval (``bound`` says so). lower <= upper always.

    Raises:
        ValueError / TypeError: centres not (n, d), empty, NaN/inf; beta <= 0 or not finite; weights of
        the wrong length, negative, or summing to 0.
    """
    beta = checks.positive(beta, "beta")
    c = checks.samples(centres, "centres", rank=2).cpu().numpy()
    n = c.shape[0]
    w = np.full(n, 1.0 / n) if weights is None else checks.weights(weights, "weights", length=n).cpu().numpy()
    h = _entropies(c, w[:, None], beta, KINDS)
    params = {"beta": beta, "weighted": weights is not None}
    common = dict(n=n, params=params, diagnostics={"h_component": gaussian_noise_entropy(c.shape[1], beta)})
    lower = Estimate.point(
        float(h["bhattacharyya"][0]),
        estimator="kde_lower_bhattacharyya",
        bound="no interval: Kolchinsky-Tracey lower bound on the mixture entropy (Bhattacharyya distance)",
        **common,
    )
    upper = Estimate.point(
        float(h["kl"][0]),
        estimator="kde_upper_kl",
        bound="no interval: Kolchinsky-Tracey upper bound on the mixture entropy (KL divergence)",
        **common,
    )
    return lower, upper


def kde_mutual_information(t: Any, labels: Any, beta: float, *, bound: str = "upper",
                           mode: str = "saxe") -> MIEstimate:
    """KDE-bound information plane of T = t(X) + N(0, beta^2 I), X uniform over the m rows of ``t``.

    Saxe et al. (ICLR 2018) with the Kolchinsky & Tracey (2017) bounds:

    * I(X;T) = h(T) - h(T|X) and h(T|X) = (d/2) ln(2 pi e beta^2) exactly (each input gives one Gaussian), so
      ``bound="upper"`` gives h_KL(T) - h(T|X) and ``bound="lower"`` h_BD(T) - h(T|X): true bounds on the
      I(X;T) of the mixture, in both modes.
    * I(T;Y) = h(T) - sum_y p(y) h(T|Y=y), p(y) = n_y / m, T|Y=y the equal-weight mixture of class y's rows.
      A difference of two bounds is a bound only when the terms are of opposite kinds:

      - ``mode="bracket"``: upper h_KL(T) - sum_y p(y) h_BD(T|y), lower h_BD(T) - sum_y p(y) h_KL(T|y): a
        guaranteed bracket (the lower one can be negative; it is not clipped).
      - ``mode="saxe"`` (default; what Saxe et al.'s code computes): upper h_KL(T) - sum_y p(y) h_KL(T|y),
        lower h_BD(T) - sum_y p(y) h_BD(T|y). These are *estimates*, not bounds: either can fall on the wrong
        side of the true value (``reasons["I_TY"]`` says so).

    Args:
        t: Tensor or array (m, d), float: the deterministic representations t(x_i), one row per input.
        labels: (m,) integer class labels with at least two classes, or None to compute I(X;T) only.
        beta: > 0, the noise standard deviation (Saxe et al. quote a variance: pass its square root).
        bound: "upper" (KL) or "lower" (Bhattacharyya).
        mode: "saxe" or "bracket" (affects only I(T;Y)).

    Returns:
        :class:`MIEstimate` (estimator "kde_upper" or "kde_lower"), point Estimates in nats (no interval),
        params {"beta", "bound", "mode"}; ``terms`` "h_t", "h_t_given_x" (exact) and, with labels,
        "h_t_given_y": the entropy bounds behind the values (i_xt = h_t - h_t_given_x, i_ty = h_t -
        h_t_given_y).

    Raises:
        ValueError / TypeError: t not (m, d) or non-finite; labels of the wrong shape/length, non-integer or
        a single class; beta <= 0; bound or mode unknown.
    """
    beta = checks.positive(beta, "beta")
    return _kde_mi(checks.samples(t, "t", rank=2).cpu().numpy(), labels, beta, bound, mode, "kde", {})


def _kde_mi(c: np.ndarray, labels: Any, beta: float, bound: str, mode: str, prefix: str,
            extra: dict[str, Any]) -> MIEstimate:
    """:func:`kde_mutual_information` on validated float64 representations ``c`` (m, d) and std ``beta``."""
    _check_choice(bound, "bound", BOUNDS)
    _check_choice(mode, "mode", MODES)
    m, d = c.shape
    y = None if labels is None else checks.labels(labels, "labels", length=m).numpy()
    own = "kl" if bound == "upper" else "bhattacharyya"
    other = "bhattacharyya" if own == "kl" else "kl"
    # I(T;Y) takes the class terms of the same kind (saxe) or of the other kind (bracket)
    cls_kind = own if mode == "saxe" else other
    classes = np.unique(y) if y is not None else np.array([])
    w = np.zeros((m, 1 + classes.size))
    w[:, 0] = 1.0 / m
    for k, cl in enumerate(classes):
        idx = y == cl
        w[idx, 1 + k] = 1.0 / idx.sum()
    h = _entropies(c, w, beta, (own,) if y is None else (own, cls_kind))
    name = f"{prefix}_{bound}"
    params = {"beta": beta, "bound": bound, "mode": mode, **extra}
    side = "KL upper" if bound == "upper" else "Bhattacharyya lower"

    def est(value: float, what: str) -> Estimate:
        return Estimate.point(value, estimator=name, n=m, params=dict(params), bound=f"no interval: {what}")

    h_cond = gaussian_noise_entropy(d, beta)
    h_t = est(float(h[own][0]), f"{side} bound on h(T) (Kolchinsky & Tracey 2017)")
    terms = {"h_t": h_t, "h_t_given_x": est(h_cond, "exact h(T|X) = h(N(0, beta^2 I))")}
    i_xt = est(h_t.value - h_cond, f"{side} bound on I(X;T) (exact h(T|X))")
    reasons = {"I_XT": f"{'an upper' if bound == 'upper' else 'a lower'} bound on the I(X;T) of the mixture"}
    i_ty = None
    if y is not None:
        p = w[:, 1:].astype(bool).sum(axis=0) / m
        h_ty = float(np.dot(p, h[cls_kind][1:]))
        terms["h_t_given_y"] = est(h_ty, f"sum_y p(y) {cls_kind} bound on h(T|Y=y)")
        kind = ("a bound (terms of opposite kinds)" if mode == "bracket"
                else "an estimate, not a bound (Saxe et al.: terms of the same kind)")
        i_ty = est(h_t.value - h_ty, f"{side}-based I(T;Y), {kind}")
        reasons["I_TY"] = kind
    return _mi_estimate(name, params, i_xt, i_ty, reasons, terms)


def _check_choice(value: Any, name: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ValueError(f"{name}: got {value!r}, expected one of {choices}")
    return value


def adaptive_noise_kde_mi(t: Any, labels: Any, rel_noise: float = 0.1, *, bound: str = "upper",
                          mode: str = "saxe") -> MIEstimate:
    """Adaptive-noise KDE information plane (Chelombiev, Houghton & O'Donnell, ICLR 2019).

    The noise is scaled to the layer's current activity instead of being fixed, so that the estimate does
    not merely follow the overall scale of the activations (unbounded ReLU layers grow during training):

        beta = rel_noise * (max(t) - min(t)),   max and min over **all** entries of ``t`` (every input and unit)

    The statistic (the global range of the layer's activations) is our choice of "spread"; other choices
    (per-unit ranges, a standard deviation) are equally defensible and give different numbers. Then
    :func:`kde_mutual_information` is applied with that beta. The estimate is invariant to rescaling ``t``.

    Args:
        t: Tensor or array (m, d), float, representations of the m inputs (X uniform over them).
        labels: (m,) integer labels (>= 2 classes) or None.
        rel_noise: > 0, the noise std as a fraction of the activation range.
        bound, mode: as in :func:`kde_mutual_information`.

    Returns:
        The :class:`MIEstimate` of :func:`kde_mutual_information` (estimator "kde_adaptive_upper" or
        "kde_adaptive_lower", nats); params add rel_noise, the activation range and the rule, and "beta" is
        the chosen noise std.

    Raises:
        ValueError: as :func:`kde_mutual_information`; rel_noise <= 0; ``t`` constant (zero range).
    """
    r = checks.positive(rel_noise, "rel_noise")
    c = checks.samples(t, "t", rank=2).cpu().numpy()
    spread = float(c.max() - c.min())
    if not spread > 0.0:
        raise ValueError("t: got constant activations (max - min = 0), expected a positive range to scale the noise")
    extra = {"rel_noise": r, "activation_range": spread, "noise_rule": "rel_noise * (max - min over all of t)"}
    return _kde_mi(c, labels, r * spread, bound, mode, "kde_adaptive", extra)


@dataclass(frozen=True)
class KDEBound(Estimator):
    """The KDE upper or lower bound (Kolchinsky & Tracey 2017; Saxe et al. 2018) in the estimator protocol:
    :func:`kde_mutual_information` of ``layer.deterministic()`` (m, d), ``layer.labels`` and the layer's noise
    std ``layer.beta``: the layer read out with Gaussian noise at this layer only.

    Attributes:
        bound: "upper" (KL) or "lower" (Bhattacharyya). mode: "saxe" (default) or "bracket".

    ``name``: "kde_upper" or "kde_lower".

    Raises:
        ValueError: bound or mode unknown (at construction); bad labels, replicas that differ without
            ``layer.s`` (at the call).
    """

    bound: str = "upper"
    mode: str = "saxe"

    def __post_init__(self) -> None:
        _check_choice(self.bound, "bound", BOUNDS)
        _check_choice(self.mode, "mode", MODES)

    @property
    def name(self) -> str:
        return f"kde_{self.bound}"

    def __call__(self, layer: LayerData, *, generator=None) -> MIEstimate:
        return kde_mutual_information(layer.deterministic(), layer.labels, layer.beta, bound=self.bound,
                                      mode=self.mode)


@dataclass(frozen=True)
class AdaptiveNoiseKDE(Estimator):
    """The adaptive-noise KDE (Chelombiev et al. 2019) in the estimator protocol:
    :func:`adaptive_noise_kde_mi` of ``layer.deterministic()`` (m, d) and ``layer.labels``; the noise std is
    ``rel_noise`` x the layer's activation range, not ``layer.beta``.

    Attributes:
        bound: "upper" or "lower". rel_noise: > 0. mode: "saxe" (default) or "bracket".

    ``name``: "kde_adaptive_upper" or "kde_adaptive_lower".

    Raises:
        ValueError: bound or mode unknown, rel_noise <= 0 (at construction); a constant layer (zero range),
            bad labels (at the call).
    """

    bound: str = "upper"
    rel_noise: float = 0.1
    mode: str = "saxe"

    def __post_init__(self) -> None:
        _check_choice(self.bound, "bound", BOUNDS)
        _check_choice(self.mode, "mode", MODES)
        checks.positive(self.rel_noise, "rel_noise")

    @property
    def name(self) -> str:
        return f"kde_adaptive_{self.bound}"

    def __call__(self, layer: LayerData, *, generator=None) -> MIEstimate:
        return adaptive_noise_kde_mi(layer.deterministic(), layer.labels, self.rel_noise, bound=self.bound,
                                     mode=self.mode)
