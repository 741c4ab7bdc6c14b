"""The repeated-sampling study of the SP estimator's intervals on ground-truth cases.

:func:`sp_estimates` is SP's estimate of each quantity a :class:`~estimators.ground_truth.cases.Case` knows
(one rule for the validation study and the estimator comparison); :func:`run_case` repeats a case with
independent seeds and reports bias, RMSE, the mean interval width and the fraction of 95% intervals that
contain the truth, widened by the truth's own error bound (docs/theory.md, sections 4-6).

:func:`coverage_study` is the same study for ``sp_mutual_information`` at its default settings on a few
inputs, where the estimate's sampling law is skewed (docs/theory.md, section 6, "Skewed units"): layer 2 of
the two-layer tanh chain, its replicas drawn directly by :func:`two_layer_samples`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from estimators import checks
from estimators.estimate import Estimate
from estimators.ground_truth.cases import Case
from estimators.ground_truth.networks import two_layer_tanh_mi
from estimators.ground_truth.smoothed import noise_entropy
from estimators.protocol import Estimator, LayerData
from estimators.sp import sp_entropy
from estimators.sp_mi import SP, sp_mutual_information


def sp_estimates(case: Case, layer: LayerData, generator: torch.Generator | int | None = None, *,
                 estimator: Callable[..., Estimator] = SP,
                 entropy: Callable[..., Estimate] = sp_entropy) -> dict[str, Estimate]:
    """SP's estimate (nats) of each quantity in ``case.truth``, from the sample ``layer`` (``case.sample``:
    samples (m, R, d) float64).

    * "h", and every quantity of a case of kind "draws" (X = S, i.i.d. draws: the sample-propagation
      setting of X uniform on finitely many inputs does not hold): h(T) by ``entropy`` (:func:`sp_entropy`)
      of the draws ``layer.samples[:, 0]``, with ``population`` and ``weights`` from the case; I(X;T) =
      h(T) - h(Z), h(Z) in closed form.
    * otherwise: ``estimator(**case.sp)`` (:class:`estimators.SP` with the case's settings) on the layer.

    ``estimator`` and ``entropy`` are replaceable (a broken estimator must fail the study).

    Returns:
        {quantity of ``case.truth``: :class:`Estimate`}, nats.

    Raises:
        ValueError / TypeError: a bad ``generator``, or what ``estimator`` / ``entropy`` raise on the sample.
    """
    gen = checks.generator(generator)
    wanted = case.truth
    if "h" not in wanted and case.kind != "draws":
        r = estimator(**case.sp)(layer, generator=gen)
        return {q: r.get(q) for q in wanted}
    h = entropy(layer.samples[:, 0], layer.beta, population=case.exact_centres, weights=case.weights,
                generator=gen, **case.sp)
    out = {"h": h} if "h" in wanted else {}
    if "I_XT" in wanted:
        out["I_XT"] = h - Estimate.from_normal(noise_entropy(layer.dim, layer.beta).value, 0.0)
    return out


@dataclass(frozen=True)
class CaseResult:
    """Repeated-sampling summary of one quantity of a case (nats): mean estimate, bias, RMSE, mean interval
    width, coverage of the CLT-based 95% interval and (exact-centre cases) of the rigorous one, the fraction
    of repetitions whose nested diagnostic said converged, and the seconds per repetition (the whole case)."""

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


def run_case(case: Case, reps: int, *, seed: int = 0, estimator: Callable[..., Estimator] = SP,
             entropy: Callable[..., Estimate] = sp_entropy,
             progress: Callable[[], None] | None = None) -> list[CaseResult]:
    """Repeat ``case`` ``reps`` times with independent seeds (seed, seed + 1, ...): each repetition draws a
    fresh sample (:meth:`Case.sample`) and estimates every quantity of the case by :func:`sp_estimates`.

    An interval covers when it contains the truth widened by the truth's own error bound.

    Returns:
        One :class:`CaseResult` per quantity of ``case.truth``, in its order.

    Raises:
        ValueError: reps < 2.
    """
    if isinstance(reps, bool) or not isinstance(reps, int) or reps < 2:
        raise ValueError(f"reps: got {reps!r}, expected an integer >= 2")
    truth = case.truth
    rec: dict[str, dict[str, list]] = {q: {"value": [], "width": [], "cover": [], "rig": [], "conv": []}
                                       for q in truth}
    t0 = time.perf_counter()
    for r in range(reps):
        gen = torch.Generator().manual_seed(seed + r)
        found = sp_estimates(case, case.sample(gen), gen, estimator=estimator, entropy=entropy)
        for q, t in truth.items():
            est, acc = found[q], rec[q]
            acc["value"].append(est.value)
            acc["width"].append(est.ci_high - est.ci_low)
            acc["cover"].append(est.ci_low - t.abs_error <= t.value <= est.ci_high + t.abs_error)
            if case.exact_centres:
                lo, hi = est.rigorous_interval()
                acc["rig"].append(lo - t.abs_error <= t.value <= hi + t.abs_error)
            c = est.diagnostics.get("converged")
            if c is not None:
                acc["conv"].append(bool(c))
        if progress:
            progress()
    seconds = (time.perf_counter() - t0) / reps
    out = []
    for q, t in truth.items():
        acc = rec[q]
        v = np.asarray(acc["value"])
        out.append(CaseResult(
            case=case.name, quantity=q, truth=t.value, truth_error=t.abs_error, reps=reps, mean=float(v.mean()),
            bias=float(v.mean() - t.value), rmse=float(np.sqrt(((v - t.value) ** 2).mean())),
            width=float(np.mean(acc["width"])), coverage=float(np.mean(acc["cover"])),
            rigorous_coverage=float(np.mean(acc["rig"])) if case.exact_centres else None,
            converged=float(np.mean(acc["conv"])) if acc["conv"] else None, seconds=seconds))
    return out


# ------------------------------------------------------------------------------------------------------
# few inputs at the defaults of sp_mutual_information

Network = tuple[float, float, float, float]  # (w1, b1, w2, b2)

TWO_LAYER_NETWORK: Network = (2.0, 0.0, 3.0, 0.5)
"""The two-layer tanh chain of the validation suite (noisynet.network_cases)."""

RARE_MODE_NETWORK: Network = (1.0, 0.0, 6.0, -1.0)
"""A chain whose conditional laws have a rare, well separated mode (at m = 4, beta = 0.2: the input x = 0.5
has w2 tanh(x) + b2 = 1.77, and T1 crosses tanh's centre with probability 7%): the hard case."""


def few_inputs(m: int) -> torch.Tensor:
    """(m,) float64: the m inputs of the few-input study, linspace(-1.5, 1.5, m).

    Raises:
        ValueError / TypeError: m not an integer >= 1."""
    return torch.linspace(-1.5, 1.5, checks.positive_int(m, "m"), dtype=torch.float64)


def two_layer_samples(m: int, replicas: int, beta: float, generator: torch.Generator | int | None = None,
                      network: Network = TWO_LAYER_NETWORK) -> torch.Tensor:
    """Pre-noise samples of layer 2 of the chain T1 = tanh(w1 x + b1) + beta Z1, S2 = tanh(w2 T1 + b2)
    (Goldfeld et al., ICML 2019), drawn directly (not through a NoisyTwin): ``replicas`` draws of S2 given
    each of the m inputs :func:`few_inputs` (m).

    Args:
        m: inputs (>= 1). replicas: R >= 1. beta: noise std of layer 1 (> 0). generator: torch.Generator,
            int seed or None. network: (w1, b1, w2, b2).

    Returns:
        (m, R, 1) float64 tensor, values in (-1, 1).

    Raises:
        ValueError / TypeError: m or replicas not an integer >= 1, beta not a noise std, network not four
            finite numbers.
    """
    replicas = checks.positive_int(replicas, "replicas")
    beta = checks.beta(beta)
    w1, b1, w2, b2 = _network(network)
    g = checks.generator(generator)
    x = few_inputs(m)[:, None, None]
    t1 = torch.tanh(w1 * x + b1) + beta * torch.randn(len(x), replicas, 1, generator=g, dtype=torch.float64)
    return torch.tanh(w2 * t1 + b2)


def _network(network) -> Network:
    try:
        values = tuple(float(v) for v in network)
    except (TypeError, ValueError) as err:
        raise TypeError(f"network: got {network!r}, expected four numbers (w1, b1, w2, b2)") from err
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise ValueError(f"network: got {network!r}, expected four finite numbers (w1, b1, w2, b2)")
    return values  # type: ignore[return-value]


@dataclass(frozen=True)
class Coverage:
    """Repeated-sampling summary of the 95% intervals of I(X;T2) (nats) from :func:`coverage_study`: the
    case (m, R = ``replicas``, beta, ``network``), the quadrature truth and its error bound, how many of
    ``reps`` intervals contained the truth, how many lay entirely above / below it, the RMSE of the estimate,
    the mean half-width, the ``n_query`` and ``n_mc`` the estimator used, and seconds per repetition."""

    m: int
    replicas: int
    beta: float
    network: Network
    truth: float
    truth_error: float
    reps: int
    covered: int
    above: int
    below: int
    rmse: float
    half_width: float
    n_query: int
    n_mc: int
    seconds: float

    @property
    def coverage(self) -> float:
        """Fraction of the ``reps`` intervals that contained the truth, in [0, 1]."""
        return self.covered / self.reps


def coverage_study(m: int, replicas: int, beta: float, reps: int, *, seed: int = 0,
                   network: Network = TWO_LAYER_NETWORK, progress: Callable[[], None] | None = None,
                   **settings) -> Coverage:
    """Repeat ``sp_mutual_information(samples, beta, generator=g, **settings)`` on ``reps`` independent
    replica sets of :func:`two_layer_samples` (m inputs, R = ``replicas``, both noise stds beta) and count the
    intervals of I(X;T2) that contain the truth widened by its error bound. The truth is quadrature
    (:func:`two_layer_tanh_mi`), independent of the estimator. Repetition r uses one generator seeded
    ``seed + r`` for the samples and then the estimator. ``settings`` empty: the library's defaults.
    ``progress`` is called after each repetition.

    Returns:
        :class:`Coverage` (nats).

    Raises:
        ValueError / TypeError: reps not an integer >= 2, or a bad argument of :func:`two_layer_samples` or
            of ``sp_mutual_information``.
    """
    reps = checks.positive_int(reps, "reps", minimum=2)
    beta = checks.beta(beta)
    network = _network(network)
    truth = two_layer_tanh_mi(few_inputs(m).numpy(), *network, beta, beta).i_xt
    above = below = 0
    errors, widths = [], []
    t0 = time.perf_counter()
    for r in range(reps):
        g = torch.Generator().manual_seed(seed + r)
        info = sp_mutual_information(two_layer_samples(m, replicas, beta, g, network), beta, generator=g,
                                     **settings)
        e = info.i_xt
        above += e.ci_low > truth.value + truth.abs_error
        below += e.ci_high < truth.value - truth.abs_error
        errors.append(e.value - truth.value)
        widths.append(e.half_width)
        if progress:
            progress()
    return Coverage(m, replicas, beta, network, truth.value, truth.abs_error, reps, reps - above - below,
                    above, below, float(np.sqrt(np.mean(np.square(errors)))), float(np.mean(widths)),
                    info.params["n_query"], info.params["n_mc"], (time.perf_counter() - t0) / reps)
