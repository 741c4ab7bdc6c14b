"""The dense path: a chunked float64 log-sum-exp of every query over every (exactly merged) component."""

from __future__ import annotations

import math

import torch

from estimators.mixture.roundoff import LOG2E


def lse_block(q: torch.Tensor, c: torch.Tensor, c_sq: torch.Tensor, w: torch.Tensor, beta: float) -> torch.Tensor:
    """ln sum_k w_kS exp(-||q - c_k||^2 / (2 beta^2)) for (b, d) queries, (k, d) components -> (b, S).

    Written as -||q||^2 / (2 beta^2) + LSE_k(q.c_k / beta^2 - ||c_k||^2 / (2 beta^2)): one matrix product,
    one max, one exp per pair (shared by all columns; exp2 of base-2 exponents, estimators.mixture.roundoff),
    one matrix product with the weights. The maximum is
    over all components, so a column whose components all lie far below it loses relative precision; a
    column holding the query's own centre keeps that term at exp(-||z||^2 / (2 beta^2)) or more, far above
    float64's underflow for any plausible draw."""
    inv = 1.0 / beta**2
    e = torch.addmm(c_sq[None, :], q, c.T, beta=-0.5 * inv * LOG2E, alpha=inv * LOG2E)  # base 2
    top = e.max(dim=1, keepdim=True).values
    total = torch.exp2_(e.sub_(top)) @ w
    return (torch.log2(total) + top) * math.log(2.0) - 0.5 * inv * (q**2).sum(1, keepdim=True)


def evaluate(mix, q: torch.Tensor) -> torch.Tensor:
    """ln sum_k w_kS exp(-||q - c_k||^2 / (2 beta^2)) over all exactly merged components of ``mix`` for
    (q, d) centred queries, in row blocks of the mixture's working size -> (q, S) float64."""
    c = mix.exact
    w = torch.exp(c.log_w)
    out = torch.empty(q.shape[0], w.shape[1], dtype=torch.float64, device=q.device)
    rows = mix.rows(8 * 2 * w.shape[0])
    for a in range(0, q.shape[0], rows):
        out[a : a + rows] = lse_block(q[a : a + rows], c.comp, c.comp_sq, w, mix.beta)
    return out
