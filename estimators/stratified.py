"""Stratified Monte Carlo for the SP estimator (docs/theory.md, section 5): every centre gets exactly n_MC noise
draws, so that the average of -ln g over all draws is unbiased for h(P_n * N) given the centres."""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch

from estimators.mixture.threads import engine_threads


def draw_blocks(
    n: int,
    n_mc: int,
    d: int,
    beta: float,
    generator: torch.Generator,
    *,
    memory_mb: float,
    device=None,
    align: int = 1,
) -> Iterator[tuple[slice, torch.Tensor]]:
    """Noise draws for centres 0..n-1 in blocks of centres.

    Yields (rows, z): ``rows`` a slice of centre indices, ``z`` Tensor (rows, n_mc, d) float64 of
    N(0, beta^2 I) draws, taken from ``generator`` block after block: reproducible for a given seed, n,
    n_mc, d and memory_mb. Each block holds at most about ``memory_mb`` / 8 MiB of draws, and a multiple
    of ``align`` centres (so that blocks can hold whole strata, e.g. all R replicas of an input).
    """
    rows = max(1, int(memory_mb * 2**20 / 8) // (8 * n_mc * d))
    rows = max(align, rows - rows % align)
    for a in range(0, n, rows):
        b = min(n, a + rows)
        with engine_threads():
            z = torch.randn((b - a, n_mc, d), generator=generator, dtype=torch.float64).mul_(beta)
        yield slice(a, b), z.to(device) if device is not None else z


def per_centre(neg_log_g: torch.Tensor, n_mc: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-centre mean and unbiased per-draw variance of (b * n_mc, S) values ordered centre-major."""
    with engine_threads():
        v = neg_log_g.reshape(-1, n_mc, neg_log_g.shape[-1])
        return v.mean(1), v.var(1, unbiased=True)


def gaussian_noise_entropy(d: int, beta: float) -> float:
    """h(Z) for Z ~ N(0, beta^2 I_d): (d/2) ln(2 pi e beta^2), nats."""
    return 0.5 * d * math.log(2.0 * math.pi * math.e * beta**2)


@engine_threads()
def poincare_var_bound(centres: torch.Tensor, weights: torch.Tensor, beta: float, n_mc: int) -> float:
    """Rigorous bound on the Monte Carlo variance of the stratified SP estimate given the centres.

    docs/theory.md, section 5 (Gaussian Poincare inequality for z -> ln g(s_i + z), whose gradient norm is at
    most (||z|| + D_i) / beta^2 with D_i = max_k ||s_i - s_k||):
    Var <= sum_i w_i^2 (sqrt(d) + D_i / beta)^2 / n_mc, using D_i <= ||s_i - c|| + max_k ||s_k - c|| for
    the weighted mean c (triangle inequality), over the centres with positive weight.

    Args: centres (n, d) float64; weights (n,) summing to 1; beta > 0; n_mc >= 1. Returns nats^2.
    """
    keep = weights > 0
    c, w = centres[keep], weights[keep]
    mid = (w[:, None] * c).sum(0)
    r = (c - mid).norm(dim=1)
    dmax = r + r.max()
    d = centres.shape[1]
    return float((w**2 * (math.sqrt(d) + dmax / beta) ** 2).sum()) / n_mc
