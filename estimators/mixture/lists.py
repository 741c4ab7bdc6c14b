"""The truncated path: each owner component's neighbour list within its truncation radius (docs/theory.md,
section 10), found with scipy's cKDTree and evaluated per owner group.

Owners are the (merged) components the queries were drawn around. Each owner's nearest component (itself),
then its 16, then its 128 nearest come first (tree queries bounded by the largest radius); an owner is done
once the next nearest lies beyond its radius. The others get full ball queries, in chunks whose lists fit
the memory budget. Lists are evaluated per owner group with one batched product per block
(:func:`lse_grouped`). Every function takes the :class:`estimators.mixture.GaussianMixture` it serves."""

from __future__ import annotations

import itertools
import math

import numpy as np
import torch

from estimators.mixture.roundoff import LOG2E, gamma
from estimators.mixture.threads import run_parts, workers


def owner_radius(mix, owners: torch.Tensor, rho: torch.Tensor) -> torch.Tensor:
    """Truncation radius per owner component for offsets up to rho (see the module docstring)."""
    eps = (2.0 * 2.0 * rho * mix.delta + mix.delta**2) / (2.0 * mix.beta**2) if mix.delta else 0.0
    tail = 2.0 * mix.beta**2 * (mix.merged.log_inv_w[owners] + math.log(1.0 / mix.tol_trunc) + eps)
    return rho + 2.0 * mix.delta + (rho**2 + tail).sqrt()


def lse_lists(mix, k, zc, znorm, j, qi, reach):
    """Log-sum-exp of queries over explicit neighbour lists, with the bounds: (values, above, eps).

    k, zc, znorm: the queries' owner components, offsets and offset norms (b,); j, qi: for each
    (query, neighbour) pair the neighbour's component and the query's position; reach: per query, every
    component closer than this to its owner is in its list."""
    s, b = mix.merged.log_w.shape[1], k.numel()
    diff = zc[qi] - (mix.merged.comp[j] - mix.merged.comp[k][qi])
    e = -(diff**2).sum(1) / (2.0 * mix.beta**2)  # one exp per pair serves every column
    top = torch.full((b,), -math.inf, dtype=torch.float64, device=mix.device)
    top.scatter_reduce_(0, qi, e, reduce="amax")
    wj = torch.exp(mix.merged.log_w[j])
    total = torch.zeros(b, s, dtype=torch.float64, device=mix.device).index_add_(0, qi, torch.exp(e - top[qi])[:, None] * wj)
    w_in = torch.zeros_like(total).index_add_(0, qi, wj)
    far = torch.zeros(b, dtype=torch.float64, device=mix.device)
    far.scatter_reduce_(0, qi, (mix.merged.comp[j] - mix.merged.comp[k][qi]).norm(dim=1), reduce="amax")
    lse = top[:, None] + torch.log(total)  # -inf where the column has no included component
    return list_bounds(mix, lse, w_in, far, znorm, reach)


def list_bounds(mix, lse, w_in, far, znorm, reach, roundoff=0.0):
    """(values, above, eps) of queries whose lists hold every component within ``reach`` of the owner:
    lse (b, S), the included weight w_in (b, S), the farthest included component from the owner
    far (b,), offset norms znorm (b,), reach (b,); ``roundoff`` (b,) bounds each exponent's error."""
    w_out = (1.0 - w_in).clamp_min(0.0)
    # included components lie within far of the owner, so within znorm + far of the query
    ep = (2.0 * (znorm + far) * mix.delta + mix.delta**2) / (2.0 * mix.beta**2) + roundoff
    r_q = (reach - znorm - 2.0 * mix.delta).clamp_min(0.0)
    ratio = torch.exp(torch.log(w_out) - (r_q**2 / (2.0 * mix.beta**2) - ep)[:, None] - lse)
    return lse, torch.where(w_out > 0, torch.log1p(ratio), torch.zeros_like(ratio)), ep[:, None]


def lse_grouped(mix, own, lists, reach, g, zc, znorm):
    """Log-sum-exp over fixed-length neighbour lists shared by each owner's queries, with the bounds.

    own (o,): owner components; lists (o, L): their neighbours (index n_components where fewer were
    found); reach (o,): every component closer than this to the owner is listed; g (b,): each query's
    owner in 0..o-1; zc, znorm: the queries' offsets from their owner (b, d) and norms (b,).

    Queries are grouped by owner and padded to the group's size (owners bucketed by powers of two), so
    that -||zc - rel||^2 = 2 zc.rel - ||zc||^2 - ||rel||^2 is one batched matrix product per block, rel
    the neighbours' offsets from the owner; no per-pair gather of coordinates. The expansion's
    round-off, at most 2 gamma (||zc||^2 + ||rel||^2) / (2 beta^2) per exponent, joins the merge bound.
    Returns (values, above, eps) in the order of the queries."""
    n_comp, s, dev = mix.merged.comp.shape[0], mix.merged.log_w.shape[1], mix.device
    b, n_own, slots = g.numel(), own.numel(), lists.shape[1]
    found = lists < n_comp
    counts = torch.bincount(g, minlength=n_own)
    key = torch.ceil(torch.log2(counts.clamp_min(1).double())).long()
    n_found = found.sum(1)  # lists are sorted by distance: the found ones come first
    rank = torch.empty_like(key)
    by_key = torch.argsort(key * (slots + 1) + n_found)  # owners by bucket, then list length
    rank[by_key] = torch.arange(n_own, device=dev)
    order = torch.argsort(rank[g], stable=True)  # queries by their owner's rank
    q_first = torch.cumsum(counts[by_key], 0) - counts[by_key]  # first query (in order) of each rank
    gam = gamma(mix.d + 4)  # the expansion's d + 2 terms, and the log2(e) scaling
    inv2 = 1.0 / (2.0 * mix.beta**2)
    vals = torch.empty(b, s, dtype=torch.float64, device=dev)
    above, eps = torch.empty_like(vals), torch.empty(b, 1, dtype=torch.float64, device=dev)
    a = int((counts[by_key] == 0).sum())  # owners without queries sort first (key 0, count 0): skip
    blocks = []  # (first, end) ranks of owner blocks within the memory budget
    while a < n_own:
        cap = 1 << int(key[by_key[a]])  # the bucket's padded group size
        end = a + int((key[by_key[a:]] == key[by_key[a]]).sum())  # the bucket's end
        width = int(n_found[by_key[end - 1]]) or 1  # its longest list (sorted by length)
        e_ = min(end, a + mix.rows(8 * (cap * (2 * width + mix.d + 2 * s) + width * (mix.d + s))))
        blocks.append((a, e_))
        a = e_

    comp = mix.merged.comp

    def run(part: list[tuple[int, int]]) -> None:
        """Evaluate the blocks of ``part``; each writes only its own queries' rows."""
        for a, e_ in part:
            o = by_key[a:e_]
            n_o, width = o.numel(), int(n_found[o].max()) or 1
            cap = int(counts[o].max())  # pad to the largest group of the block, not the bucket's bound
            fo = found[o, :width]
            lst = torch.where(fo, lists[o, :width], own[o][:, None])
            rel = (comp.index_select(0, lst.reshape(-1)).view(n_o, width, mix.d)
                   - comp.index_select(0, own[o])[:, None, :])  # (n_o, L, d); 3x faster than comp[lst]
            rel_sq = (rel**2).sum(2)
            far = torch.where(fo, rel_sq, 0.0).amax(1).sqrt()
            w = torch.where(fo[:, :, None], torch.exp(mix.merged.log_w[lst]), 0.0)  # (n_o, L, S)
            w_in = w.sum(1)
            qs = order[q_first[a] : q_first[a] + int(counts[o].sum())]
            local = torch.repeat_interleave(torch.arange(n_o, device=dev), counts[o])
            zsq_q = znorm[qs] ** 2
            full = qs.numel() == n_o * cap  # every owner of the block has cap queries (n_MC each): no padding
            if full:
                z_pad, zsq = zc.index_select(0, qs).view(n_o, cap, mix.d), zsq_q.view(n_o, cap)
            else:
                pos = torch.arange(qs.numel(), device=dev) - (torch.cumsum(counts[o], 0) - counts[o])[local]
                z_pad = torch.zeros(n_o, cap, mix.d, dtype=torch.float64, device=dev)
                z_pad[local, pos] = zc[qs]
                zsq = torch.zeros(n_o, cap, dtype=torch.float64, device=dev)
                zsq[local, pos] = zsq_q
            # -||zc - rel||^2 / (2 beta^2) in base 2 (times log2(e): exp2 is cheaper than exp), -inf where no
            # neighbour was found
            e = torch.baddbmm(rel_sq[:, None, :] + zsq[:, :, None], z_pad, rel.transpose(1, 2), beta=-inv2 * LOG2E,
                              alpha=2.0 * inv2 * LOG2E).masked_fill_(~fo[:, None, :], -math.inf)
            top = e.amax(2, keepdim=True)
            total = torch.bmm(torch.exp2_(e.sub_(top)), w)  # (n_o, cap, S): one exp2 per pair for every column
            lse = (top + torch.log2(total)) * math.log(2.0)
            lse = lse.view(-1, s) if full else lse[local, pos]
            rnd = 2.0 * gam * (zsq_q + far[local] ** 2) * inv2
            vals[qs], above[qs], eps[qs] = list_bounds(mix, lse, w_in[local], far[local], znorm[qs], reach[o][local],
                                                       rnd)

    # two parts of about equal queries, run side by side where cores allow (the same values either way)
    n_q = np.cumsum([int(counts[by_key[a:e_]].sum()) for a, e_ in blocks])
    cut = int(np.searchsorted(n_q, n_q[-1] / 2)) + 1 if blocks else 0
    run_parts(run, [part for part in (blocks[:cut], blocks[cut:]) if part])
    return vals, above, eps


def evaluate(mix, k: torch.Tensor, zc: torch.Tensor):
    """Truncation to each owner's neighbours within its radius (module docstring).

    Each owner's nearest component (itself), then its 16, then its 128 nearest come first (cKDTree
    queries bounded by the largest radius, no Python lists), evaluated per owner group
    (:func:`lse_grouped`): an owner is done once the next nearest lies beyond its radius. The others
    get full ball queries, fetched in chunks whose neighbour lists fit the memory budget. Returns
    values (q, S), truncation bounds (q, S) and merge bounds (q, 1)."""
    n_q, s, dev = zc.shape[0], mix.merged.log_w.shape[1], mix.device
    vals = torch.empty(n_q, s, dtype=torch.float64, device=dev)
    above, eps = torch.empty_like(vals), torch.empty(n_q, 1, dtype=torch.float64, device=dev)
    znorm = zc.norm(dim=1)
    owners, row = torch.unique(k, return_inverse=True)
    rho = torch.zeros(owners.numel(), dtype=torch.float64, device=dev).scatter_reduce_(0, row, znorm, reduce="amax")
    radius = owner_radius(mix, owners, rho)
    n_comp = mix.merged.comp.shape[0]
    pts = mix.merged.comp[owners].cpu().numpy()
    per_pair = 8 * (mix.d + 2 * s + 8)
    rest = torch.arange(owners.numel(), device=dev)
    # an isolated owner needs only itself, a clustered one more; tiers below the typical neighbour count
    # (mix.near) would complete few owners, and are skipped
    for kk in [t for t in (1, 16, 128) if t >= mix.near or t == 128]:
        kk = min(kk, n_comp)
        # the kk + 1 nearest within the largest radius (a bounded search prunes most of the tree)
        ub = float(radius[rest].max())
        dist, idx = mix.tree.query(pts[rest.cpu().numpy()], k=min(kk + 1, n_comp), distance_upper_bound=ub,
                                    workers=workers())
        dist = torch.as_tensor(dist.reshape(rest.numel(), -1), device=dev)
        idx = torch.as_tensor(idx.reshape(rest.numel(), -1), device=dev)
        # every component closer than reach to the owner is among its first kk found
        if kk < n_comp:
            reach = torch.where(torch.isfinite(dist[:, kk]), dist[:, kk], torch.full_like(dist[:, kk], ub))
        else:
            reach = torch.full((rest.numel(),), math.inf, dtype=torch.float64, device=dev)
        complete = reach >= radius[rest]
        where = torch.full((owners.numel(),), -1, dtype=torch.int64, device=dev)
        where[rest[complete]] = torch.arange(int(complete.sum()), device=dev)
        sel = (where[row] >= 0).nonzero().reshape(-1)
        # fewer than kk found within the bound: the missing ones have index n_comp
        done = rest[complete]
        vals[sel], above[sel], eps[sel] = lse_grouped(mix,
            owners[done], idx[complete, :kk], reach[complete], where[row[sel]], zc[sel], znorm[sel])
        rest = rest[~complete]
        if not rest.numel() or kk == n_comp:
            break
    # the others: ball queries, in chunks of owners sized by their neighbour counts
    if rest.numel():
        counts = mix.tree.query_ball_point(pts[rest.cpu().numpy()], radius[rest].cpu().numpy(), workers=workers(),
                                            return_length=True)
        by_owner = torch.argsort(row, stable=True)
        per_owner = torch.bincount(row, minlength=owners.numel())
        first = torch.cumsum(per_owner, 0) - per_owner
        load = torch.as_tensor(counts, device=dev) * per_owner[rest]
        a = 0
        while a < rest.numel():
            b = a + 1 + int(torch.searchsorted(torch.cumsum(load[a + 1 :], 0), mix.rows(per_pair)))
            chunk = rest[a:b]
            lists = mix.tree.query_ball_point(pts[chunk.cpu().numpy()], radius[chunk].cpu().numpy(), workers=workers(),
                                               return_sorted=False)
            sizes = torch.as_tensor(np.fromiter(map(len, lists), dtype=np.int64, count=len(lists)), device=dev)
            nbr = torch.as_tensor(np.fromiter(itertools.chain.from_iterable(lists), dtype=np.int64,
                                              count=int(sizes.sum())), device=dev)
            ptr = torch.cumsum(sizes, 0) - sizes
            q = torch.cat([by_owner[first[o] : first[o] + per_owner[o]] for o in chunk.tolist()])
            pos = torch.repeat_interleave(torch.arange(chunk.numel(), device=dev), per_owner[chunk])
            cnt = sizes[pos]
            qi = torch.repeat_interleave(torch.arange(q.numel(), device=dev), cnt)
            within = torch.arange(qi.numel(), device=dev) - (torch.cumsum(cnt, 0) - cnt)[qi]
            j = nbr[ptr[pos][qi] + within]
            vals[q], above[q], eps[q] = lse_lists(mix, k[q], zc[q], znorm[q], j, qi, radius[row[q]])
            a = b
    return vals, above, eps
