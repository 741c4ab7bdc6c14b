"""The repeated-sampling study of the SP estimator's intervals on ground-truth cases.

:func:`sp_estimates` is SP's estimate of each quantity a :class:`~estimators.ground_truth.cases.Case` knows
(one rule for the validation study and the estimator comparison); :func:`run_case` repeats a case with
independent seeds and reports bias, RMSE, the mean interval width and the fraction of 95% intervals that
contain the truth, widened by the truth's own error bound (docs/theory.md, sections 4-6).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from estimators import checks
from estimators.estimate import Estimate
from estimators.ground_truth.cases import Case
from estimators.ground_truth.smoothed import noise_entropy
from estimators.protocol import Estimator, LayerData
from estimators.sp import sp_entropy
from estimators.sp_mi import SP


def sp_estimates(case: Case, layer: LayerData, generator: torch.Generator | int | None = None, *,
                 estimator: Callable[..., Estimator] = SP,
                 entropy: Callable[..., Estimate] = sp_entropy) -> dict[str, Estimate]:
    """SP's estimate (nats) of each quantity in ``case.truth``, from the sample ``layer``.

    * "h", and every quantity of a case of kind "draws" (X = S, i.i.d. draws: the sample-propagation
      setting of X uniform on finitely many inputs does not hold): h(T) by ``entropy`` (:func:`sp_entropy`)
      of the draws ``layer.samples[:, 0]``, with ``population`` and ``weights`` from the case; I(X;T) =
      h(T) - h(Z), h(Z) in closed form.
    * otherwise: ``estimator(**case.sp)`` (:class:`estimators.SP` with the case's settings) on the layer.

    ``estimator`` and ``entropy`` are replaceable (a broken estimator must fail the study).
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
