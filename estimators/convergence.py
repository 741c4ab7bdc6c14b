"""Sampling error of SP estimates and the nested-subsample diagnostic of their plug-in bias.

docs/theory.md, section 6. Per-unit values come as a table of shape (m, U): m strata (the inputs x_i, whose law
is known exactly) and U i.i.d. units in each (replicas of S_l given x_i that own Monte Carlo queries; for
an i.i.d. sample of a single law, m = 1). A unit's value is its Monte Carlo average of -ln g (or a difference
of such averages). To first order the estimate is the mean of these values and its fluctuation is their
mean's fluctuation (the influence function of h(P * N) at s is -E ln p(s + Z) - h; the other centres enter
g only at second order), so the stratified standard error below accounts for the Monte Carlo error and the
sampling error together.

The plug-in bias: E h(P_n * N) <= h(P * N) (docs/theory.md, section 4). It is diagnosed by recomputing the
estimate with the mixtures of the first R/4 and R/2 replicas of every stratum, at the same query units and
the same Monte Carlo draws (common random numbers, so the increments carry little noise). With
D1 = v(R/2) - v(R/4) and D2 = v(R) - v(R/2):

* if the bias decays like c R^-a with a >= 1/2 (the worst-case rate of Goldfeld et al., IEEE Trans. IT 2020,
  for sup over laws), what is left after R is D2 / (2^a - 1) <= (sqrt(2) + 1) |D2|: that allowance is added on
  the side the estimate is moving to;
* if D2 is significant and does not shrink at least like 2^(-1/2) D1 (up to noise), the sample is too small:
  ``converged`` is False and the interval on that side extends to an a-priori bound (for an entropy the
  Gaussian maximum-entropy bound, for I(X;T) the interval [0, ln m]).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

TAIL = math.sqrt(2.0) + 1.0  # sum_{k>=1} 2^(-k/2): bias left after R when it decays like R^(-1/2)


def stratified_se(values: torch.Tensor) -> float:
    """Standard error of the mean of ``values`` (m, R): strata weighted equally, units i.i.d. within.

    Var = (1/m^2) sum_i s_i^2 / R with s_i^2 the unbiased variance within stratum i. Needs R >= 2.
    """
    m, r = values.shape
    if r < 2:
        raise ValueError(f"values: got R = {r} units per stratum, expected at least 2")
    return math.sqrt(float(values.var(dim=1, unbiased=True).sum()) / r) / m


def stratified_dof(values: torch.Tensor) -> float:
    """Welch-Satterthwaite degrees of freedom of :func:`stratified_se` for ``values`` (m, R), R >= 2:
    (sum_i v_i)^2 / sum_i (v_i^2 / (R - 1)) with v_i = s_i^2 / R. Between R - 1 (one stratum carries all
    the variance) and m (R - 1) (equal variances); a few noisy strata get Student's t quantiles that
    account for it (Satterthwaite, Biometrics Bulletin 2(6), 1946).

    Args: values, Tensor (m, R) float, per-unit estimates (nats), m strata of R units each.
    Returns: float degrees of freedom (m (R - 1) when every stratum has zero variance).
    Raises: ValueError when R < 2.
    """
    m, r = values.shape
    if r < 2:
        raise ValueError(f"values: got R = {r} units per stratum, expected at least 2")
    v = values.var(dim=1, unbiased=True) / r
    den = float((v**2).sum()) / (r - 1)
    return float(v.sum()) ** 2 / den if den > 0 else float(m * (r - 1))


def stratified_skewness(values: torch.Tensor) -> float:
    """Skewness of the stratified mean of ``values`` (m, R), R >= 3: kappa_3 / kappa_2^(3/2) with
    kappa_2 = (1/m^2) sum_i s_i^2 / R (the square of :func:`stratified_se`) and kappa_3 = (1/m^3) sum_i
    k3_i / R^2, k3_i = R / ((R - 1)(R - 2)) sum_j (x_ij - mean_i)^3 the unbiased third cumulant of stratum i
    (Fisher's k-statistic). It falls like 1/sqrt(number of units); for the interval see
    :func:`estimators.estimate.studentized_quantiles`.

    Args: values, Tensor (m, R) float, per-unit estimates (nats), m strata of R units each.
    Returns: float, unitless (0.0 when every stratum has zero variance).
    Raises: ValueError when R < 3 (a third cumulant needs three units).
    """
    m, r = values.shape
    if r < 3:
        raise ValueError(f"values: got R = {r} units per stratum, expected at least 3")
    dev = values - values.mean(dim=1, keepdim=True)
    k2 = float(values.var(dim=1, unbiased=True).sum()) / r / m**2
    k3 = float((dev**3).sum()) / ((r - 1) * (r - 2)) / r / m**3
    return k3 / k2**1.5 if k2 > 0 else 0.0


@dataclass(frozen=True)
class Nested:
    """Outcome of the nested-subsample diagnostic (values in the estimate's unit).

    ``values`` are the estimates with R/4, R/2 and R replicas per stratum (``sizes``), the first two
    obtained from the full one by the increments measured at common units; ``drift`` = v(R) - v(R/2)
    with standard error ``drift_se``."""

    values: tuple[float, float, float]
    sizes: tuple[int, int, int]
    drift: float
    drift_se: float
    previous_drift: float
    previous_drift_se: float
    converged: bool | None
    margin_low: float
    margin_high: float
    note: str

    def as_dict(self) -> dict:
        return {
            "nested_values": list(self.values),
            "nested_sizes": list(self.sizes),
            "drift": self.drift,
            "drift_se": self.drift_se,
            "converged": self.converged,
            "note": self.note,
        }


def nested_diagnostic(
    value: float,
    full: torch.Tensor,
    half: torch.Tensor,
    quarter: torch.Tensor,
    *,
    sizes: tuple[int, int, int],
    bounds: tuple[float, float],
    z: float = 1.959963984540054,
    atol: float = 1e-3,
) -> Nested:
    """The nested-subsample diagnostic from per-unit values at common units.

    Args:
        value: the estimate with all R replicas (the mean over all query units).
        full, half, quarter: Tensors (m, U), U >= 2: each query unit's value computed with the mixtures of
            all R, the first R/2 and the first R/4 replicas per stratum (the units belong to all three).
        sizes: (R/4, R/2, R), for the record.
        bounds: a-priori (low, high) bounds on the estimated quantity, used when not converged.
        z: normal quantile for the significance of a drift.
        atol: drifts smaller than this (nats) are negligible whatever their standard error.

    Returns:
        Nested, whose margins are to be added to the estimate's interval.
    """
    d2, d1 = float((full - half).mean()), float((half - quarter).mean())
    se2, se1 = stratified_se(full - half), stratified_se(half - quarter)
    v = (value - d2 - d1, value - d2, value)
    allowance = TAIL * abs(d2)
    significant = abs(d2) > max(z * se2, atol)
    slow = abs(d2) > abs(d1) / math.sqrt(2.0) + z * math.sqrt(se2**2 + se1**2 / 2.0)
    converged = not (significant and slow)
    low, high = bounds
    if converged:
        note = "converged: remaining bias bounded by (sqrt 2 + 1) |drift| assuming an R^-1/2 decay or faster"
    else:
        note = "NOT converged: the estimate still moves with R; the interval extends to the a-priori bound"
        allowance = max(allowance, (high - value) if d2 > 0 else (value - low))
    margin_high = allowance if d2 > 0 else 0.0
    margin_low = allowance if d2 < 0 else 0.0
    return Nested(v, sizes, d2, se2, d1, se1, converged, margin_low, margin_high, note)
