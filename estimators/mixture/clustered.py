"""The clustered path: queries grouped by grid cell, every group summed over the components within its
queries' truncation distance, as dense blocks over contiguous chunks of the grid-sorted components.

Where representations cluster at the noise scale, every query meets hundreds to tens of thousands of
components within a few beta, and the work is that many kernel evaluations; this path spends it in large
matrix products and float32 exponentials, with every error bounded (docs/theory.md, section 10).

**Truncation around the query.** A component farther than r_q from the query q, with
r_q^2 = ||z||^2 + 2 beta^2 (ln(1 / w_own) + ln(1 / tol_t)) and z = q - c_own, contributes at most
W_out exp(-r_q^2 / (2 beta^2)) in total, at most tol_t times the own component's term
w_own exp(-||z||^2 / (2 beta^2)), so ln g drops by at most log1p(tol_t). Queries are grouped by the grid
cell of their projection (:class:`estimators.mixture.grid.PrincipalGrid`); a group includes every
component whose projection is within r = max r_q of the group's box of projected queries, hence every
component within r of each of its queries. The reported bound is computed per query from the weight left
out and the included mass actually summed.

**Blocks.** Each group's components are ranges of the grid-sorted order, cut into chunks of at most
CHUNK components that stay within neighbouring grid rows (:func:`estimators.mixture.grid.chunks`); a chunk
is summed for every query of every group that needs any part of it (a superset, which is exact). For each
chunk one matrix product gives e - s_q, the exponent relative to the own term's s_q = -||z||^2 / (2 beta^2):
in float32, centred on the chunk's mean, where the chunk is narrow enough for that product's bound
(:func:`_local_queries`), else in float64 from the augmented queries [q, 1, -||q||^2 / (2 beta^2) - s_q] and
the chunk's [c / beta^2, -||c||^2 / (2 beta^2), 1], the chunk's side scaled by log2(e) so that the product
gives base-2 exponents (exp2 is several times cheaper than exp, for the same 1-ulp accuracy). Its
exponential and the product with the chunk's weights are taken in float32 where their round-off fits the
budget (tol less the truncation's share: this path merges nothing), in float64 otherwise.

**Round-off** (per query, both directions, in natural units; Higham 2002, section 3.1): the float64
product and the augmented entries (with the log2(e) scaling) are off by at most
3 gamma_{d+4} ((||q|| + max ||c||)^2 / beta^2 + |s_q|), the centred
float32 product by the bound :func:`_local_queries` reports (the larger of the two is kept); in float32,
e - s_q (at most ||z||^2 / (2 beta^2) <= LIMIT) is rounded (relative 2^-24) after raising values below
-FLOOR to -FLOOR (each term rises by at most exp(-FLOOR) times its weight, an excess bounded separately),
and a chunk's sum of at most CHUNK weighted exponentials (exp2, 1 ulp each) is off by at most
gamma_{CHUNK+4}(2^-24) relative. Queries farther than sqrt(2 LIMIT) beta from their own centre go through
the dense path.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from estimators.mixture import dense
from estimators.mixture.grid import CHUNK, PrincipalGrid, plan, side_for
from estimators.mixture.roundoff import LOG2E, U32, U64, gamma
from estimators.mixture.threads import run_parts

LIMIT = 60.0  # largest ||z||^2 / (2 beta^2) handled here: e - s_q <= LIMIT, no float32 overflow
FLOOR = 80.0  # float32 exponents are raised to -FLOOR (exp(-80) = 1.8e-35 stays a normal float32)
PARTS = 2  # chunks are summed in this many parts, one per thread where cores allow (threads.run_parts)
THREADED_PAIRS = 2**18  # parts run in threads where chunks average this many (query, component) pairs
LOCAL_MIN = 64  # narrower chunks keep the float64 product (the centred float32 one costs more set-up)


class Layout:
    """The exactly merged components in grid order, with what the blocks need: coordinates (k, d) and
    augmented coordinates (d + 2, k) float64 (scaled by log2(e): products give base-2 exponents), weights
    (S, k) in float32 and float64, prefix sums of the weights (k + 1, S)."""

    def __init__(self, mix) -> None:
        c = mix.exact
        k, d = c.comp.shape
        self.grid = PrincipalGrid(c.comp.cpu(), side_for(d, mix.beta, mix.log_inv_w, mix.tol_trunc))
        perm = torch.as_tensor(self.grid.perm, device=mix.device)
        cs = c.comp[perm]
        inv2 = 1.0 / (2.0 * mix.beta**2)
        self.comp = cs
        self.caug = torch.cat([cs.T / mix.beta**2, -(c.comp_sq[perm] * inv2)[None, :],
                               torch.ones(1, k, dtype=torch.float64, device=mix.device)]) * LOG2E
        w = torch.exp(c.log_w[perm])
        self.w64 = w.T.contiguous()
        self.w32 = self.w64.to(torch.float32)
        self.wcum = torch.cat([torch.zeros(1, w.shape[1], dtype=torch.float64, device=mix.device), w.cumsum(0)])
        self.c_max = float(c.comp_sq.max().sqrt())


def evaluate(mix, owner: torch.Tensor, z: torch.Tensor):
    """ln sum_k w_kS exp(-||q - c_k||^2 / (2 beta^2)) at q = centres[owner] + z, with its bounds.

    Returns values, above, below, each (q, S) float64 (values without the Gaussian normalisation)."""
    dev, beta, d = mix.device, mix.beta, mix.d
    inv2 = 1.0 / (2.0 * beta**2)
    lay = mix.layout()
    grid = lay.grid
    c = mix.exact
    k = c.member_of[owner]
    q = c.comp.index_select(0, k) + z  # exact merging: no offsets (index_select: 3x faster than c.comp[k])
    shift = -(z**2).sum(1) * inv2  # the own term's exponent
    n_q, s = q.shape[0], c.log_w.shape[1]
    near = (-shift <= LIMIT).nonzero().reshape(-1)
    vals = torch.empty(n_q, s, dtype=torch.float64, device=dev)
    above = torch.empty_like(vals)
    below = torch.empty_like(vals)
    if near.numel() < n_q:  # far draws: dense, exact up to its round-off
        far = (-shift > LIMIT).nonzero().reshape(-1)
        vals[far] = dense.evaluate(mix, q[far])
        above[far] = below[far] = mix.dense_roundoff((q[far] ** 2).sum(1))
    if not near.numel():
        return vals, above, below
    q, shift, k = q.index_select(0, near), shift[near], k[near]
    reach = (-2.0 * beta**2 * (shift - c.log_inv_w[k] - math.log(1.0 / mix.tol_trunc))).sqrt()

    # groups of queries by grid cell, and the chunks each needs
    p = plan(grid, grid.project(q).cpu().numpy(), reach.cpu().numpy())
    order, size = p.order, p.size

    # weight each query includes (whole chunks), per column
    w_chunk = lay.wcum[torch.as_tensor(p.c_end, device=dev)] - lay.wcum[torch.as_tensor(p.c_start, device=dev)]
    w_in = torch.zeros(size.size, s, dtype=torch.float64, device=dev).index_add_(
        0, torch.as_tensor(p.group, device=dev), w_chunk[torch.as_tensor(p.chunk, device=dev)])
    w_in = w_in.repeat_interleave(torch.as_tensor(size, device=dev), 0)

    # sums of w exp(e - s_q) per query (in group order)
    order_t = torch.as_tensor(order, device=dev)
    q_o, shift_o = q.index_select(0, order_t), shift[order_t]
    qaug = torch.cat([q_o, torch.ones(q_o.shape[0], 1, dtype=torch.float64, device=dev),
                      (-(q_o**2).sum(1) * inv2 - shift_o)[:, None]], 1)
    budget = mix.tol - mix.tol_trunc  # round-off: no merging on this path, so its share goes here too
    single = 2.0 * gamma(CHUNK + 4, U32) + FLOOR * U32 <= budget  # float32 exp and sums
    local_budget = budget - 2.0 * gamma(CHUNK + 4, U32)  # float32 products where within this
    # exponent error per query: the float64 product's, plus float32 rounding where it ran in float32
    e_err = 3.0 * gamma(d + 4) * ((q_o.norm(dim=1) + lay.c_max) ** 2 / beta**2 - shift_o)
    e_err += FLOOR * U32 if single else 0.0
    rows = torch.as_tensor(p.rows, device=dev)
    used = np.flatnonzero(np.diff(p.row_start) > 0)
    centre, radius = _chunk_balls(lay, p.c_start[used], p.c_end[used])
    # chunks wide enough to gain from float32 products, and narrow enough in space for their bound
    try_local = single & (p.c_end[used] - p.c_start[used] >= LOCAL_MIN) & (
        gamma(d + 6, U32) * radius**2 * inv2 <= local_budget)

    def part(chunks: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """Sums over the chunks used[chunks] (float32 products centred on the chunk where wide enough and
        within the bound) and the largest exponent error of those products, per query."""
        sums = torch.zeros(q_o.shape[0], s, dtype=torch.float64, device=dev)
        err = torch.zeros_like(e_err)
        for i in chunks:
            j = used[i]
            idx = rows[p.row_start[j] : p.row_start[j + 1]]
            lo, hi = int(p.c_start[j]), int(p.c_end[j])
            step = mix.rows(12 * (hi - lo))
            cb = _local_components(lay.comp[lo:hi], centre[i], beta) if try_local[i] else None
            for b in range(0, idx.numel(), step):
                ii = idx[b : b + step]
                if try_local[i]:
                    bound, qa = _local_queries(centre[i], float(radius[i]), q_o.index_select(0, ii), shift_o[ii], beta)
                    ok = bound <= local_budget
                    if not bool(ok.all()):  # these rows keep the float64 product
                        _block(lay, lo, hi, ii[~ok], qaug.index_select(0, ii[~ok]), sums, single)
                        ii, bound, qa = ii[ok], bound[ok], qa[ok]
                    if ii.numel():
                        err[ii] = torch.maximum(err[ii], bound)
                        _block(lay, lo, hi, ii, qa, sums, single, cb)
                else:
                    _block(lay, lo, hi, ii, qaug.index_select(0, ii), sums, single)
        return sums, err

    # PARTS parts of about equal work, each with its own sums (the same sums whatever the thread count), in
    # threads where chunks are large enough for their operations to outweigh the Python between them
    work = np.cumsum(np.diff(p.row_start)[used] * (p.c_end - p.c_start)[used])
    cut = np.searchsorted(work, work[-1] * np.arange(1, PARTS) / PARTS) if used.size else []
    wide = used.size and work[-1] >= THREADED_PAIRS * used.size
    results = run_parts(part, np.split(np.arange(used.size), cut), threads=None if wide else 1)
    sums = sum(r[0] for r in results)
    e_err = torch.stack([e_err] + [r[1] for r in results]).amax(0)

    # bounds
    lse = torch.log(sums) + shift_o[:, None]
    eta = gamma(CHUNK + 4, U32 if single else U64) + gamma(p.c_start.size + PARTS)
    excess = w_in * math.exp(-FLOOR) / sums if single else torch.zeros_like(sums)  # raised float32 terms
    low = 1.0 - eta - excess
    down = e_err[:, None] - torch.log(low.clamp_min(0.0))  # inf where nothing certain is left
    w_out = (1.0 - w_in).clamp_min(0.0)
    r_drop = torch.as_tensor(np.repeat(p.reach, size), device=dev)
    ratio = torch.exp(torch.log(w_out) - (r_drop**2 * inv2)[:, None] - (lse - down))
    up = e_err[:, None] + math.log1p(eta) + torch.where(w_out > 0, torch.log1p(ratio), torch.zeros_like(ratio))
    pos = near[order_t]
    vals[pos], above[pos], below[pos] = lse, up, down
    return vals, above, below


def _chunk_balls(lay: Layout, start: np.ndarray, end: np.ndarray) -> tuple[torch.Tensor, np.ndarray]:
    """Mean (n, d) and largest distance from it (n,) of the components of each chunk start:end."""
    lengths = end - start
    pos = np.repeat(start - np.cumsum(lengths) + lengths, lengths) + np.arange(lengths.sum())
    chunk = torch.as_tensor(np.repeat(np.arange(start.size), lengths), device=lay.comp.device)
    c = lay.comp[torch.as_tensor(pos, device=lay.comp.device)]
    n = torch.as_tensor(lengths, device=c.device, dtype=c.dtype)[:, None]
    centre = torch.zeros(start.size, c.shape[1], dtype=c.dtype, device=c.device).index_add_(0, chunk, c) / n
    dist = (c - centre[chunk]).norm(dim=1)
    radius = torch.zeros(start.size, dtype=c.dtype, device=c.device).scatter_reduce_(0, chunk, dist, reduce="amax")
    return centre, radius.cpu().numpy()


def _local_queries(m: torch.Tensor, rho: float, q: torch.Tensor, shift: torch.Tensor, beta: float):
    """The queries' side of the float32 product centred on a chunk's mean m (no component farther than rho
    from it): with a = q - m and b = c - m, the exponent e - s_q is
    [a, 1, -||a||^2 / (2 beta^2) - s_q] . [b / beta^2, -||b||^2 / (2 beta^2), 1] (the components' side is
    scaled by log2(e) in float64 before rounding, for base-2 exponents). Rounding the entries to float32 and
    summing d + 2 products is off by at most gamma_{d+6}(2^-24) (||a|| rho / beta^2 + rho^2 / (2 beta^2) +
    | ||a||^2 / (2 beta^2) + s_q |) in natural units (Higham 2002, section 3.1). Returns (that bound (b,)
    float64, the augmented queries (b, d + 2) float32)."""
    a = q - m
    na = a.norm(dim=1)
    inv2 = 1.0 / (2.0 * beta**2)
    bound = gamma(q.shape[1] + 6, U32) * (na * rho / beta**2 + rho**2 * inv2 + (na**2 * inv2 + shift).abs())
    qa = torch.cat([a, torch.ones_like(na)[:, None], (-(na**2) * inv2 - shift)[:, None]], 1).to(torch.float32)
    return bound, qa


def _local_components(c: torch.Tensor, m: torch.Tensor, beta: float) -> torch.Tensor:
    """The components' side (w, d + 2) float32 of the product centred on m (:func:`_local_queries`) for a
    chunk's components c (w, d): [b / beta^2, -||b||^2 / (2 beta^2), 1] log2(e) with b = c - m, scaled in
    float64 and rounded once."""
    rel = c - m
    inv2 = 1.0 / (2.0 * beta**2)
    cb = torch.cat([rel / beta**2, -(rel**2).sum(1, keepdim=True) * inv2, torch.ones_like(rel[:, :1])], 1)
    return (cb * LOG2E).to(torch.float32)


def _block(lay: Layout, lo: int, hi: int, ii: torch.Tensor, qa: torch.Tensor, sums: torch.Tensor, single: bool,
           cb: torch.Tensor | None = None) -> None:
    """Add sum_k w_k exp(e_k - s_q) over the components lo:hi to ``sums`` (q, S) float64 at the rows ii (b,):
    from the float64 augmented queries qa (b, d + 2) over ``lay.caug``, or (cb given) from the float32 ones
    of :func:`_local_queries` over the chunk's centred components cb (:func:`_local_components`). The products
    give base-2 exponents (e_k - s_q) log2(e), taken by exp2 (:mod:`estimators.mixture.roundoff`);
    exponentials and the weighted sum in float32 where ``single``."""
    e = qa @ cb.T if cb is not None else qa @ lay.caug[:, lo:hi]
    if single:
        part = lay.w32[:, lo:hi] @ e.to(torch.float32).clamp_(min=-FLOOR * LOG2E).exp2_().T
    else:
        part = lay.w64[:, lo:hi] @ e.exp2_().T
    sums.index_add_(0, ii, part.T.to(torch.float64))
