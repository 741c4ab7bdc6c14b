"""The ground-truth suite: laws whose h(S + Z) or I(X;T) is known, the repeated-sampling study of the SP
estimator's intervals on them, and the comparison with generic estimators run on noisy samples.

Each :class:`Case` draws fresh samples for one repetition and estimates with the SP estimator; the truth is
computed once by :mod:`estimators.ground_truth` (closed forms, adaptive quadrature, converged deterministic
rules), independently of the estimator. :func:`run_case` repeats a case and reports bias, RMSE, the mean
interval width and the fraction of 95% intervals containing the truth (docs/theory.md, sections 4-6).

The network case pushes the inputs through a :class:`noisynet.NoisyTwin` (sample propagation itself is
tested, not only the mixture entropy), which is why this module lives in ``noisynet`` and not in
``estimators``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import torch
from torch import nn

from estimators import Estimate, sp_entropy, sp_mutual_information
from estimators.ground_truth import (
    Truth,
    discrete_smoothed_entropy,
    gaussian_mixture_smoothed_entropy,
    gaussian_smoothed_entropy,
    merged_limit,
    mi_one_channel,
    mi_one_channel_labels,
    spiral_points,
    two_layer_tanh_mi,
)
from noisynet.twin import NoisyTwin


@dataclass(frozen=True)
class Estimators:
    """The estimator functions a case calls (replaceable, to show that the suite catches a broken one)."""

    entropy: Callable[..., Estimate] = sp_entropy
    mutual_information: Callable = sp_mutual_information


@dataclass(frozen=True)
class Case:
    """One law with a known answer.

    Attributes:
        name: short description (the suite's table row).
        quantity: "h", "I_XT" or "I_TY" (nats).
        truth_fn: computes the Truth (once; cached).
        run: (torch.Generator, Estimators) -> Estimate: draws a fresh sample and estimates.
        exact_centres: the centres are the law itself (no sampling error), so the rigorous Poincare interval
            applies to the truth.
        note: what the case exercises.
    """

    name: str
    quantity: str
    truth_fn: Callable[[], Truth]
    run: Callable[[torch.Generator, Estimators], Estimate]
    exact_centres: bool = False
    note: str = ""
    cost: float = field(default=1.0, compare=False)

    @cached_property
    def truth(self) -> Truth:
        return self.truth_fn()


@dataclass(frozen=True)
class CaseResult:
    """Repeated-sampling summary of a case (nats): mean estimate, bias, RMSE, mean interval width,
    coverage of the CLT-based 95% interval and (exact-centre cases) of the rigorous one, the fraction of
    repetitions whose nested diagnostic said converged, and the seconds per repetition."""

    case: str
    quantity: str
    truth: float
    truth_error: float
    reps: int
    mean: float
    bias: float
    rmse: float
    width: float
    coverage: float
    rigorous_coverage: float | None
    converged: float | None
    seconds: float


def run_case(case: Case, reps: int, *, seed: int = 0, estimators: Estimators = Estimators(),
             progress: Callable[[], None] | None = None) -> CaseResult:
    """Repeat ``case`` ``reps`` times with independent seeds (seed, seed + 1, ...) and summarise.

    An interval covers when it contains the truth widened by the truth's own quadrature error bound."""
    if reps < 2:
        raise ValueError(f"reps: got {reps}, expected at least 2")
    truth = case.truth
    vals, widths, cover, rig, conv = [], [], 0, 0, []
    t0 = time.perf_counter()
    for r in range(reps):
        est = case.run(torch.Generator().manual_seed(seed + r), estimators)
        vals.append(est.value)
        widths.append(est.ci_high - est.ci_low)
        cover += est.ci_low - truth.abs_error <= truth.value <= est.ci_high + truth.abs_error
        if case.exact_centres:
            lo, hi = est.rigorous_interval()
            rig += lo - truth.abs_error <= truth.value <= hi + truth.abs_error
        c = est.diagnostics.get("converged")
        if c is not None:
            conv.append(bool(c))
        if progress:
            progress()
    v = np.asarray(vals)
    return CaseResult(
        case=case.name, quantity=case.quantity, truth=truth.value, truth_error=truth.abs_error, reps=reps,
        mean=float(v.mean()), bias=float(v.mean() - truth.value),
        rmse=float(np.sqrt(((v - truth.value) ** 2).mean())), width=float(np.mean(widths)),
        coverage=cover / reps, rigorous_coverage=(rig / reps) if case.exact_centres else None,
        converged=float(np.mean(conv)) if conv else None, seconds=(time.perf_counter() - t0) / reps,
    )


# ------------------------------------------------------------------------------------------------------
# the cases


def _replicate(points: np.ndarray, r: int) -> torch.Tensor:
    """(m, d) deterministic images -> (m, R, d) identical replicas (a layer that is a function of X)."""
    t = torch.as_tensor(points, dtype=torch.float64)
    return t[:, None, :].expand(-1, r, -1).clone()


def _gaussian_case(d: int, s: float, beta: float, n: int) -> Case:
    def run(g, est):
        x = s * torch.randn(n, d, generator=g, dtype=torch.float64)
        return est.entropy(x, beta, n_mc=4, generator=g)

    return Case(f"h: Gaussian S, d={d}, s={s:g}, beta={beta:g}, n={n}", "h",
                lambda: gaussian_smoothed_entropy(d, s, beta), run,
                note="i.i.d. samples; sampling error and plug-in bias")


def _constellation_case(points: np.ndarray, beta: float, label: str, weights=None) -> Case:
    pts = np.asarray(points, dtype=float)
    w = None if weights is None else np.asarray(weights, dtype=float)

    def run(g, est):
        return est.entropy(torch.as_tensor(pts), beta, population=True, n_mc=16, generator=g,
                           weights=None if w is None else torch.as_tensor(w))

    return Case(f"h: {label}, beta={beta:g} (exact atoms)", "h",
                lambda: discrete_smoothed_entropy(pts, beta, w), run, exact_centres=True,
                note="the law is the centres: Monte Carlo error only")


def _sampled_constellation_case(points: np.ndarray, beta: float, n: int, label: str) -> Case:
    pts = torch.as_tensor(np.asarray(points, dtype=float))

    def run(g, est):
        idx = torch.randint(0, pts.shape[0], (n,), generator=g)
        return est.entropy(pts[idx], beta, n_mc=4, generator=g)

    return Case(f"h: {label}, beta={beta:g}, n={n} draws", "h",
                lambda: discrete_smoothed_entropy(pts.numpy(), beta), run,
                note="i.i.d. draws of a discrete law: repeated atoms")


def _mixture_case(means: np.ndarray, std: float, beta: float, n: int) -> Case:
    mu = torch.as_tensor(means, dtype=torch.float64)
    k, d = mu.shape

    def run(g, est):
        comp = torch.randint(0, k, (n,), generator=g)
        x = mu[comp] + std * torch.randn(n, d, generator=g, dtype=torch.float64)
        return est.entropy(x, beta, n_mc=4, generator=g)

    return Case(f"h: {k}-component Gaussian mixture in {d}-D, std={std:g}, beta={beta:g}, n={n}", "h",
                lambda: gaussian_mixture_smoothed_entropy(means, np.full(k, std), np.full(k, 1.0 / k), beta), run,
                note="continuous multimodal law, i.i.d. samples")


def _separated_truth(points: np.ndarray, beta: float) -> Truth:
    """ln m for m points whose pairwise distances D_ij are all >> beta, in any dimension. The overlap
    correction is at most sum over pairs of the Bhattacharyya coefficient exp(-D_ij^2 / (8 beta^2))
    (the entropy defect of a mixture of equal-weight components: Kolchinsky & Tracey 2017, eq. 10)."""
    from scipy.spatial.distance import pdist

    m = len(points)
    err = float(np.exp(-pdist(points) ** 2 / (8 * beta**2)).sum()) * 2.0 / m
    return Truth(math.log(m), err, "ln m, separated points; overlap bounded by the Bhattacharyya coefficients")


def _channel_case(points: np.ndarray, beta: float, label: str, labels=None, truth=None) -> Case:
    """X uniform on the points, T = x + Z: deterministic images, so the conditional term is closed-form."""
    pts = np.asarray(points, dtype=float)
    y = None if labels is None else torch.as_tensor(labels)
    quantity = "I_XT" if labels is None else "I_TY"

    def run(g, est):
        info = est.mutual_information(_replicate(pts, 4), beta, y, n_query=4, n_mc=8, generator=g)
        return info.i_xt if labels is None else info.i_ty

    if truth is None:
        truth = (lambda: mi_one_channel(pts, beta)) if labels is None else (lambda: mi_one_channel_labels(pts, labels, beta))
    return Case(f"{quantity}: {label}, m={len(pts)}, beta={beta:g}", quantity, truth, run, exact_centres=True,
                note="one noisy channel; Monte Carlo error only")


def _gaussian_channel_case(m: int, d: int, sigma: float, beta: float, replicas: int, spacing: float) -> Case:
    """X uniform on m points on a line (spacing in units of beta), S | X = x ~ N(x, sigma^2 I): the
    conditional law is continuous, so the conditional terms are sampled too. h(T | X) is closed-form and
    h(T) is a Gaussian-mixture entropy (quadrature)."""
    centres = np.zeros((m, d))
    centres[:, 0] = spacing * beta * np.arange(m)

    def truth():
        s_t = math.sqrt(sigma**2 + beta**2)
        h_t = gaussian_mixture_smoothed_entropy(centres, np.full(m, sigma), np.full(m, 1.0 / m), beta)
        return Truth(h_t.value - 0.5 * d * math.log(2 * math.pi * math.e * s_t**2), h_t.abs_error, h_t.method)

    c = torch.as_tensor(centres)

    def run(g, est):
        s = c[:, None, :] + sigma * torch.randn(m, replicas, d, generator=g, dtype=torch.float64)
        return est.mutual_information(s, beta, n_mc=2, generator=g).i_xt

    return Case(f"I_XT: Gaussian channel, m={m}, d={d}, sigma={sigma / beta:g} beta, spacing {spacing:g} beta, R={replicas}",
                "I_XT", truth, run, note="continuous conditional laws: replicas sampled, plug-in biases")


def two_layer_net(w1: float, b1: float, w2: float, b2: float) -> nn.Sequential:
    """The 1-D two-layer tanh network x -> tanh(w1 x + b1) -> tanh(w2 t1 + b2) (float64), for its twin."""
    net = nn.Sequential(nn.Linear(1, 1), nn.Tanh(), nn.Linear(1, 1), nn.Tanh(), nn.Linear(1, 2)).double()
    with torch.no_grad():
        net[0].weight.fill_(w1), net[0].bias.fill_(b1), net[2].weight.fill_(w2), net[2].bias.fill_(b2)
    return net


def _network_case(xs: np.ndarray, w1, b1, w2, b2, beta: float, replicas: int, labels=None) -> Case:
    """Layer 2 of a two-layer noisy tanh network: the samples come from NoisyTwin.propagate."""
    twin = NoisyTwin(two_layer_net(w1, b1, w2, b2), beta)
    x = torch.as_tensor(xs, dtype=torch.float64)[:, None]
    y = None if labels is None else torch.as_tensor(labels)
    quantity = "I_XT" if labels is None else "I_TY"

    def truth():
        t = two_layer_tanh_mi(xs, w1, b1, w2, b2, beta, beta, labels=labels)
        return t.i_xt if labels is None else t.i_ty

    def run(g, est):
        s2 = twin.propagate(x, replicas, generator=int(torch.randint(0, 2**31, (1,), generator=g)))["T2"]
        info = est.mutual_information(s2, beta, y, n_mc=2, generator=g)
        return info.i_xt if labels is None else info.i_ty

    return Case(f"{quantity}: two-layer tanh twin, layer 2, m={len(xs)}, beta={beta:g}, R={replicas}", quantity,
                truth, run, note="sample propagation through a NoisyTwin")


def suite(size: str = "full") -> list[Case]:
    """The cases. ``size`` "full" (the report) or "quick" (a handful, for the test suite)."""
    if size not in ("full", "quick"):
        raise ValueError(f"size: got {size!r}, expected 'full' or 'quick'")
    rng = np.random.default_rng(0)
    line16 = np.linspace(-1, 1, 16)[:, None]
    spiral64, spiral_labels = spiral_points(64, turns=1.5)
    xs6 = np.linspace(-1.5, 1.5, 6)
    net_labels = np.array([0, 1, 1, 0, 1, 0])  # classes that overlap in T2
    quick = [
        _gaussian_case(3, 1.0, 0.5, 1000),
        _constellation_case(line16, 0.05, "16 points on [-1, 1]"),
        _channel_case(np.array([[0.0], [0.1], [0.25], [0.3], [0.7]]), 0.1, "1-D crossover constellation"),
        _network_case(xs6, 2.0, 0.0, 3.0, 0.5, 0.1, 64),
    ]
    if size == "quick":
        return quick
    full = quick + [
        _gaussian_case(1, 1.0, 0.5, 1000),
        _gaussian_case(2, 1.0, 0.1, 2000),
        _gaussian_case(5, 0.3, 0.3, 2000),
        _gaussian_case(10, 1.0, 0.5, 1000),
        _constellation_case(rng.uniform(-1, 1, (256, 1)), 1e-3, "256 random points on [-1, 1]"),
        _constellation_case(np.arange(8.0)[:, None] * 0.1, 0.1, "8 points, unequal weights",
                            weights=np.arange(1.0, 9.0)),
        _constellation_case(line16, 1.0, "16 points on [-1, 1]"),
        _constellation_case(spiral64, 0.05, "64-point spiral (2-D)"),
        _sampled_constellation_case(line16, 0.05, 400, "16 points on [-1, 1]"),
        _mixture_case(np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]), 0.2, 0.1, 2000),
        _channel_case(sep := rng.uniform(-1, 1, (64, 3)), 0.01, "well separated, 3-D",
                      truth=lambda: _separated_truth(sep, 0.01)),
        _channel_case(np.zeros((32, 2)), 0.1, "coincident"),
        _channel_case(np.repeat(np.arange(3.0), [10, 5, 1])[:, None].repeat(2, 1), 0.01, "3 merged groups (10, 5, 1)"),
        _channel_case(spiral64, 0.05, "64-point spiral (2-D)"),
        _channel_case(spiral64, 0.05, "64-point spiral (2-D)", labels=spiral_labels),
        _gaussian_channel_case(16, 1, 1.0 * 0.1, 0.1, 32, 2.0),
        _gaussian_channel_case(16, 2, 2.0 * 0.1, 0.1, 32, 2.0),
        _network_case(xs6, 2.0, 0.0, 3.0, 0.5, 0.1, 64, labels=net_labels),
        _network_case(np.linspace(-2, 2, 12), 3.0, 0.0, 5.0, 0.0, 0.05, 128),
    ]
    return full


def merged_groups_truth(sizes) -> float:
    """I(X;T) for inputs merged into separated groups of the given sizes: the entropy of the sizes."""
    return merged_limit(sizes)
