"""The Estimate: a value in nats with its error accounting.

Every estimator in this package returns an :class:`Estimate`. Its confidence interval is built from two
parts that are kept apart so that arithmetic on estimates stays honest:

* a random part, ``std_error`` (normal approximation, two-sided at ``level``), and
* deterministic one-sided allowances ``margin_low`` and ``margin_high`` (bounds on a bias or an
  approximation error: truncation of a mixture, a merge of centres, an unconverged sample size). The
  interval is ``[value - z * std_error - margin_low, value + z * std_error + margin_high]``; an estimate
  whose skewness is known gets skew-corrected quantiles -z - c, z - c in place of -z, z (the same width;
  :func:`studentized_quantiles`).

``var_bound`` is a rigorous bound on the Monte Carlo variance (docs/theory.md, section 5, Gaussian Poincare
inequality); :meth:`Estimate.rigorous_interval` turns it into a Chebyshev interval that needs no normal
approximation.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from scipy.stats import norm
from scipy.stats import t as student_t

NATS_PER_BIT = math.log(2.0)


def z_value(level: float, dof: float | None = None) -> float:
    """Two-sided quantile for a confidence ``level`` in (0, 1): standard normal, or Student's t with
    ``dof`` degrees of freedom when the standard error is estimated from few values."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"level: got {level!r}, expected a probability in (0, 1)")
    if dof is not None:
        if not dof > 0:
            raise ValueError(f"dof: got {dof!r}, expected > 0")
        return float(student_t.ppf(0.5 + level / 2.0, dof))
    return float(norm.ppf(0.5 + level / 2.0))


def studentized_quantiles(q: float, skewness: float) -> tuple[float, float]:
    """(lower, upper) quantiles of the studentized estimate (value - truth) / std_error at the two-sided
    level whose symmetric quantile is ``q``, for an estimate of skewness ``skewness`` (its third cumulant
    over the 1.5th power of its variance): (-q - c, q - c), c = skewness (2 q^2 + 1) / 6, at most q / 2 in
    size (0 skewness: exactly (-q, q)).

    The one-term Edgeworth expansion of a studentized mean, P(T <= x) = Phi(x) + (skewness / 6)(2 x^2 + 1)
    phi(x) + O(1/n), inverted (the Cornish-Fisher quantiles; Hall, The Bootstrap and Edgeworth Expansion,
    Springer 1992, chapters 2 and 3): the estimate and its standard error move together when the units
    are skewed, so a left-skewed estimate (skewness < 0) gets an interval reaching further below it than
    above, of the same width. The cap keeps the estimate inside its interval where the expansion is not to
    be trusted (a few units, one outlier). Raises ValueError for a non-finite skewness or q <= 0.
    """
    if not math.isfinite(skewness):
        raise ValueError(f"skewness: got {skewness!r}, expected a finite number")
    if not q > 0.0:
        raise ValueError(f"q: got {q!r}, expected a quantile > 0")
    c = min(max(skewness * (2.0 * q * q + 1.0) / 6.0, -0.5 * q), 0.5 * q)
    return -q - c, q - c


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its error accounting.

    Attributes:
        value: the estimate, in ``unit`` ("nat" unless converted with :meth:`to_bits`).
        std_error: standard error of ``value`` (random error only), or None when the estimator gives none.
        ci_low, ci_high: the confidence interval at ``level``, or None when the estimator gives none
            (a baseline without an interval says so; nothing is invented).
        level: the interval's nominal coverage.
        unit: "nat" or "bit".
        estimator: name of the method that produced the value.
        n: number of samples (centres) used; n_mc: Monte Carlo draws per centre, where relevant.
        margin_low, margin_high: deterministic one-sided allowances included in the interval.
        var_bound: rigorous bound on the Monte Carlo variance of ``value`` given its samples, or None.
        bound: words saying what the interval accounts for.
        params: the estimator's hyperparameters (beta, bin size, k, ...).
        diagnostics: anything else worth keeping (nested-subsample values, convergence flag, timings).
    """

    value: float
    std_error: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    level: float = 0.95
    unit: str = "nat"
    estimator: str = ""
    n: int | None = None
    n_mc: int | None = None
    margin_low: float = 0.0
    margin_high: float = 0.0
    var_bound: float | None = None
    bound: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    diagnostics: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_normal(
        cls,
        value: float,
        std_error: float,
        *,
        level: float = 0.95,
        margin_low: float = 0.0,
        margin_high: float = 0.0,
        dof: float | None = None,
        skewness: float | None = None,
        **kwargs: Any,
    ) -> "Estimate":
        """Build an Estimate whose interval is value -/+ q * std_error, widened by the margins; q is the
        normal quantile at ``level``, or Student's t with ``dof`` degrees of freedom (recorded in
        diagnostics["dof"]) when the standard error rests on few values. With ``skewness`` (of the
        estimate, recorded in diagnostics["skewness"]) the random part is [value - u * std_error,
        value - l * std_error] with (l, u) = :func:`studentized_quantiles` (q, skewness) instead."""
        if not (std_error >= 0.0) or not math.isfinite(std_error):
            raise ValueError(f"std_error: got {std_error!r}, expected a finite number >= 0")
        if margin_low < 0.0 or margin_high < 0.0:
            raise ValueError(f"margins: got ({margin_low!r}, {margin_high!r}), expected numbers >= 0")
        z = z_value(level, dof)
        lower, upper = studentized_quantiles(z, 0.0 if skewness is None else float(skewness))
        recorded = {k: v for k, v in (("dof", dof), ("skewness", skewness)) if v is not None}
        if recorded:
            kwargs["diagnostics"] = {**kwargs.get("diagnostics", {}), **recorded}
        return cls(
            value=float(value),
            std_error=float(std_error),
            ci_low=float(value - upper * std_error - margin_low),
            ci_high=float(value - lower * std_error + margin_high),
            level=level,
            margin_low=float(margin_low),
            margin_high=float(margin_high),
            **kwargs,
        )

    @classmethod
    def point(cls, value: float, **kwargs: Any) -> "Estimate":
        """An estimate without an interval (a baseline that gives none): interval fields stay None."""
        return cls(value=float(value), **kwargs)

    def __str__(self) -> str:
        """"3.121 [3.098, 3.144] nat (95%)": the value with its interval, or the value alone."""
        if not self.has_interval:
            return f"{self.value:.4g} {self.unit}"
        return f"{self.value:.4g} [{self.ci_low:.4g}, {self.ci_high:.4g}] {self.unit} ({self.level:.0%})"

    @property
    def has_interval(self) -> bool:
        return self.ci_low is not None and self.ci_high is not None

    @property
    def half_width(self) -> float | None:
        """Half the interval's width, or None without an interval."""
        if not self.has_interval:
            return None
        return 0.5 * (self.ci_high - self.ci_low)

    def contains(self, truth: float) -> bool:
        """Whether ``truth`` lies in the confidence interval (raises without one)."""
        if not self.has_interval:
            raise ValueError(f"estimate from {self.estimator!r} has no interval")
        return self.ci_low <= truth <= self.ci_high

    def rigorous_interval(self, level: float | None = None) -> tuple[float, float]:
        """Chebyshev interval from the rigorous Monte Carlo variance bound, widened by the margins.

        Covers the quantity the Monte Carlo estimates (the SP entropy of the given centres) with
        probability at least ``level`` without any normal approximation.

        Raises:
            ValueError: when the estimate carries no variance bound.
        """
        level = self.level if level is None else level
        if self.var_bound is None:
            raise ValueError(f"estimate from {self.estimator!r} carries no var_bound")
        t = math.sqrt(self.var_bound / (1.0 - level))
        return (self.value - t - self.margin_low, self.value + t + self.margin_high)

    def scaled(self, factor: float, unit: str) -> "Estimate":
        """The same estimate multiplied by ``factor`` > 0 (a change of unit)."""
        if not factor > 0.0:
            raise ValueError(f"factor: got {factor!r}, expected a number > 0")

        def s(x: float | None) -> float | None:
            return None if x is None else x * factor

        return dataclasses.replace(
            self,
            value=self.value * factor,
            std_error=s(self.std_error),
            ci_low=s(self.ci_low),
            ci_high=s(self.ci_high),
            margin_low=self.margin_low * factor,
            margin_high=self.margin_high * factor,
            var_bound=None if self.var_bound is None else self.var_bound * factor**2,
            unit=unit,
        )

    def to_bits(self) -> "Estimate":
        """This estimate in bits (1 bit = ln 2 nats). Raises ValueError if it is already in bits."""
        if self.unit != "nat":
            raise ValueError(f"unit: got {self.unit!r}, expected 'nat' to convert to bits")
        return self.scaled(1.0 / NATS_PER_BIT, "bit")

    def _combine(self, other: "Estimate", sign: float) -> "Estimate":
        if not isinstance(other, Estimate):
            return NotImplemented
        if other.unit != self.unit:
            raise ValueError(f"other: unit {other.unit!r} differs from {self.unit!r}")
        if other.level != self.level:
            raise ValueError(f"other: level {other.level!r} differs from {self.level!r}")
        value = self.value + sign * other.value
        name = f"({self.estimator} {'+' if sign > 0 else '-'} {other.estimator})"
        if self.std_error is None or other.std_error is None:
            return Estimate.point(value, unit=self.unit, level=self.level, estimator=name)
        se = math.hypot(self.std_error, other.std_error)
        lo, hi = (other.margin_low, other.margin_high) if sign > 0 else (other.margin_high, other.margin_low)
        vb = None
        if self.var_bound is not None and other.var_bound is not None:
            # (sqrt a + sqrt b)^2 bounds Var(A +- B) whatever the dependence between A and B.
            vb = (math.sqrt(self.var_bound) + math.sqrt(other.var_bound)) ** 2
        return Estimate.from_normal(
            value,
            se,
            level=self.level,
            margin_low=self.margin_low + lo,
            margin_high=self.margin_high + hi,
            unit=self.unit,
            estimator=name,
            var_bound=vb,
            bound="sum of independent errors; " + self.bound,
        )

    def __add__(self, other: "Estimate") -> "Estimate":
        """Sum of two estimates whose random errors are independent (standard errors add in quadrature)."""
        return self._combine(other, 1.0)

    def __sub__(self, other: "Estimate") -> "Estimate":
        """Difference of two estimates whose random errors are independent (e.g. I = h - h from
        separate samples); the lower margin of one becomes the upper margin of the difference."""
        return self._combine(other, -1.0)
