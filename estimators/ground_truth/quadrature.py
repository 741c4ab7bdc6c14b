"""Entropy of an isotropic Gaussian mixture g = sum_k w_k N(mu_k, s_k^2 I_d) by adaptive quadrature.

    h(g) = -int g ln g                                   (nats)

* **1-D** (:func:`mixture_entropy_quad_1d`): scipy.integrate.quad (QUADPACK QAGS, 21-point Gauss-Kronrod)
  on sub-intervals whose ends are breakpoints at mu_k + s_k * {0, +-1.5, +-3, +-5, +-8}, thinned so that
  no two are closer than s_min / 2. Every component therefore has its centre within s_min / 2 of a
  breakpoint and is resolved whatever the spacing (beta = 1e-3 with centres 2 apart: each narrow bump gets
  its own intervals); an interval longer than a few s holds only tails. ln g is a max-shifted log-sum-exp
  (never the log of a sum of tiny exps), over the components within 15 s_max of t when there are more than
  64 (the rest is bounded, see :func:`mixture_entropy_quad_1d`).
* **2-D** (:func:`mixture_entropy_quad_2d`): for fixed y the integrand in x is a 1-D mixture of mass
  M(y) with weights w_k N(y; mu_k2, s_k^2), so -int g ln g dx = M h_1D - M ln M reuses the 1-D routine;
  scipy.integrate.quad_vec integrates [that, its error bound] over y with breakpoints. Cost grows with k
  times the cost of the 1-D routine: meant for a handful of components (a cross-check of the
  Gauss-Hermite decomposition, see hermite.py); both of its levels use breakpoints at mu + s * {0, +-3} only.

Error bound (``abs_error``) = sum of QUADPACK's error estimates (an estimate, not a proof, but reliable for
these smooth integrands once every bump is bracketed by breakpoints) + the analytic tail bound below + a
rounding allowance of 1e-12 (1 + sum |sub-integral|) (QUADPACK's estimate does not see the relative
rounding of ~1e-14 in g ln g).

**Tail bound.** Integrate over the box B = prod_i [min_k(mu_ki - L s_k), max_k(mu_ki + L s_k)]. Outside B,
||t - mu_k|| >= L s_k for every k, so g(t) <= max_k (2 pi s_k^2)^(-d/2) e^(-L^2/2) < 1 (L is raised until
this holds) and -g ln g >= 0. Since g >= w_k phi_k for each k, -ln g <= c_k + ||t - mu_k||^2 / (2 s_k^2)
with c_k = -ln w_k + (d/2) ln(2 pi s_k^2), hence -g ln g <= sum_k w_k phi_k(t) (c_k + ||u||^2 / 2) with
u = (t - mu_k)/s_k. The complement of B lies in the union over coordinates i of {|u_i| > L}; with
Q(L) = P(N(0,1) > L) and E[u_1^2 1{|u_1| > L}] = 2 (Q(L) + L phi(L)) this gives

    0 <= -int_{outside B} g ln g <= sum_k w_k d (2 Q(L) |c_k| + d Q(L) + L phi(L)).

With L = 12, Q(L) ~ 2e-33: the bound is far below double precision but is still reported.
"""

from __future__ import annotations

import bisect
import math
import warnings

import numpy as np
from scipy import integrate

_OFFSETS = np.array([-8.0, -5.0, -3.0, -1.5, 0.0, 1.5, 3.0, 5.0, 8.0])
_COARSE = np.array([-3.0, 0.0, 3.0])  # for the nested 2-D rule, whose cost is the square
_EPSABS = 1e-13
_EPSREL = 1e-12
_LIMIT = 200
# Components lighter than this (relative to the heaviest) get no breakpoints; their possible contribution
# is bounded and added to the error (see _unresolved_allowance).
_BREAK_WEIGHT = 1e-30
# Double-precision rounding allowance, relative to sum |sub-integral|: ln g is a log-sum-exp of terms up to
# ~50 in size, so g and g ln g carry a relative rounding error of order 50 eps ~ 1e-14; QUADPACK's estimate
# does not see it. 1e-12 leaves a wide margin.
ROUNDING = 1e-12
# The log-sum-exp at t uses the components within _WINDOW * s_max of t (bound in mixture_entropy_quad_1d).
_WINDOW = 15.0


def tail_width(s: np.ndarray, d: int, L: float = 12.0) -> float:
    """Smallest L' >= L (in steps of 2) with max_k (2 pi s_k^2)^(-d/2) exp(-L'^2/2) < 1/2, so g < 1 outside the
    box (the condition of the tail bound)."""
    s_min = float(np.min(s))
    while -0.5 * d * math.log(2 * math.pi * s_min**2) - 0.5 * L * L >= math.log(0.5):
        L += 2.0
    return L


def tail_bound(s: np.ndarray, w: np.ndarray, d: int, L: float) -> float:
    """The analytic bound on -int g ln g outside the box of half-width L s_k (module docstring)."""
    q = 0.5 * math.erfc(L / math.sqrt(2.0))
    pdf = math.exp(-0.5 * L * L) / math.sqrt(2 * math.pi)
    c = np.abs(-np.log(w) + 0.5 * d * np.log(2 * math.pi * s**2))
    return float(np.sum(w * d * (2 * q * c + d * q + L * pdf)))


def _unresolved_allowance(s: np.ndarray, w: np.ndarray, d: int, small: np.ndarray) -> float:
    """Bound on the contribution of components without breakpoints: w_k (|ln w_k| + |h(N_k)| + 1) each."""
    if not small.any():
        return 0.0
    ws, ss = w[small], s[small]
    return float(np.sum(ws * (np.abs(np.log(ws)) + np.abs(0.5 * d * np.log(2 * math.pi * math.e * ss**2)) + 1)))


def _breakpoints(mu: np.ndarray, s: np.ndarray, w: np.ndarray, lo: float, hi: float,
                 offsets: np.ndarray = _OFFSETS) -> np.ndarray:
    big = w >= _BREAK_WEIGHT * w.max()
    bp = (mu[big, None] + s[big, None] * offsets[None, :]).ravel()
    bp = np.sort(bp[(bp > lo) & (bp < hi)])
    h = 0.5 * float(np.min(s))
    kept = [lo]
    for x in bp:  # thin: keep a breakpoint only if it is at least s_min / 2 from the last kept one
        if x - kept[-1] >= h:
            kept.append(x)
    if hi - kept[-1] < h and len(kept) > 1:
        kept.pop()
    kept.append(hi)
    return np.asarray(kept)


def _numpy_integrand(mu, logc, inv, mu_list, windowed: bool, reach: float):
    """-g ln g at a scalar t by a numpy log-sum-exp (over the components within ``reach`` if windowed)."""

    def integrand(t: float) -> float:
        if windowed:
            i, j = bisect.bisect_left(mu_list, t - reach), bisect.bisect_right(mu_list, t + reach)
            if j <= i:
                return 0.0
            a = logc[i:j] - (t - mu[i:j]) ** 2 * inv[i:j]
        else:
            a = logc - (t - mu) ** 2 * inv
        m = a.max()
        lg = m + math.log(np.exp(a - m).sum())
        return -math.exp(lg) * lg

    return integrand


def mixture_entropy_quad_1d(
    mu: np.ndarray, s: np.ndarray, w: np.ndarray, offsets: np.ndarray = _OFFSETS
) -> tuple[float, float, int]:
    """-int g ln g for the 1-D mixture sum_k w_k N(mu_k, s_k^2).

    At each t the log-sum-exp runs over the components with |t - mu_k| <= 15 s_max (found by bisection in
    the sorted centres). The others add at most D = e^-112.5 / (sqrt(2 pi) s_min) to g, which changes
    -g ln g by at most D (|ln D| + 1000) wherever ln g > -1000 (and by f(D) where g underflows); that times
    the length of the domain is added to the error (it is below 1e-40 for s_min >= 1e-6).

    Args:
        mu: (k,) float64 means; s: (k,) float64 stds > 0; w: (k,) float64 weights > 0 summing to 1.
        offsets: breakpoints per component, in units of s_k (0 and +-3 at least).

    Returns:
        (value, abs_error, number of sub-intervals), in nats.
    """
    mu, s, w = (np.asarray(a, dtype=np.float64).ravel() for a in (mu, s, w))
    if mu.size == 0:
        raise ValueError("mu: got no components, expected at least one")
    order = np.argsort(mu, kind="stable")
    mu, s, w = mu[order], s[order], w[order]
    L = tail_width(s, 1)
    lo, hi = float(np.min(mu - L * s)), float(np.max(mu + L * s))
    bps = _breakpoints(mu, s, w, lo, hi, offsets)
    logc = np.log(w) - 0.5 * np.log(2 * math.pi * s**2)
    inv = 0.5 / s**2
    reach = _WINDOW * float(s.max())

    mu_list = mu.tolist()
    windowed = mu.size > 64  # below that, slicing costs more than it saves

    if mu.size <= 8:  # a few components: plain floats beat numpy's per-call overhead
        terms = list(zip(logc.tolist(), mu_list, inv.tolist()))

        def integrand(t: float) -> float:
            a = [c - (t - m) ** 2 * q for c, m, q in terms]
            top = max(a)
            lg = top + math.log(math.fsum(math.exp(x - top) for x in a))
            return -math.exp(lg) * lg

    else:
        integrand = _numpy_integrand(mu, logc, inv, mu_list, windowed, reach)

    total, err, bad = [], 0.0, 0
    for a, b in zip(bps[:-1], bps[1:]):
        val, e, _info, *msg = integrate.quad(
            integrand, a, b, epsabs=_EPSABS, epsrel=_EPSREL, limit=_LIMIT, full_output=1
        )
        total.append(val)
        err += e
        bad += bool(msg)
    if bad:  # QUADPACK flagged roundoff or the subdivision limit: its error estimate is still included
        warnings.warn(f"quad flagged {bad} sub-interval(s); their error estimates are included", RuntimeWarning)
    small = w < _BREAK_WEIGHT * w.max()
    dropped = math.exp(-0.5 * _WINDOW**2) / (math.sqrt(2 * math.pi) * float(s.min()))
    err += tail_bound(s, w, 1, L) + _unresolved_allowance(s, w, 1, small)
    err += (hi - lo) * dropped * (abs(math.log(dropped)) + 1000.0)
    err += ROUNDING * (1.0 + math.fsum(abs(v) for v in total))
    return math.fsum(total), err, len(bps) - 1


def mixture_entropy_quad_2d(mu: np.ndarray, s: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """-int g ln g for the 2-D isotropic mixture sum_k w_k N(mu_k, s_k^2 I_2) by nested quadrature.

    Args:
        mu: (k, 2) float64 means; s: (k,) stds > 0; w: (k,) weights > 0 summing to 1.

    Returns:
        (value, abs_error) in nats; abs_error = quad_vec's estimate + int of the inner bounds + y-tail bound.
    """
    mu = np.asarray(mu, dtype=np.float64).reshape(-1, 2)
    s, w = np.asarray(s, dtype=np.float64).ravel(), np.asarray(w, dtype=np.float64).ravel()
    L = tail_width(s, 2)
    lo, hi = float(np.min(mu[:, 1] - L * s)), float(np.max(mu[:, 1] + L * s))
    ybp = _breakpoints(mu[:, 1], s, w, lo, hi, _COARSE)
    logw = np.log(w) - 0.5 * np.log(2 * math.pi * s**2)

    def inner(y: float) -> np.ndarray:
        la = logw - (y - mu[:, 1]) ** 2 / (2 * s**2)  # ln of the weights w_k N(y; mu_k2, s_k^2)
        ok = la > -700.0  # lighter components: mass < e^-700 each, below double precision of the result
        if not ok.any():
            return np.zeros(2)
        top = float(la[ok].max())
        lm = top + math.log(float(np.exp(la[ok] - top).sum()))
        mass = math.exp(lm)
        h1, e1, _ = mixture_entropy_quad_1d(mu[ok, 0], s[ok], np.exp(la[ok] - lm), _COARSE)
        return np.array([mass * h1 - mass * lm, mass * e1])

    parts = [
        integrate.quad_vec(inner, a, b, epsabs=1e-12, epsrel=1e-10, limit=_LIMIT)
        for a, b in zip(ybp[:-1], ybp[1:])
    ]
    value = math.fsum(p[0][0] for p in parts)
    err = math.fsum(p[0][1] + p[1] for p in parts)
    # y-tails: the 1-D inner routine covers all x, so only {|u_2| > L} is left out: one coordinate's share.
    # Components dropped at some y carry mass < e^-700 there: their share is below 1e-290 in all.
    err += tail_bound(s, w, 2, L) / 2 + 1e-290
    return value, float(err)
