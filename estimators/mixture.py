"""Log-density of an isotropic Gaussian mixture at points drawn around its own centres, exact to a stated
tolerance.

The SP estimator (docs/theory.md, sections 4-5 and 10) evaluates

    ln g(q) = LSE_k( ln w_k - ||q - c_k||^2 / (2 beta^2) ) - (d/2) ln(2 pi beta^2)

at q = s_i + z, z ~ N(0, beta^2 I), for centres s_i. A dense log-sum-exp costs (#queries x #centres) exp()
calls. :class:`GaussianMixture` is the one entry point; it chooses between

* **merging** centres: exact duplicates always (no error); near-duplicates (saturated tanh layers, float32
  round-off) by snapping to a grid, only where that removes >= 5% of the components, with the largest
  displacement ``delta`` chosen so that the change in ln g stays within the merge tolerance;
* **truncation** to the components within a radius of each query's own (merged) centre, found by a
  neighbour search (scipy cKDTree, bounded by the radius) per owner, with a radius per centre set from the
  largest offset among its queries, and evaluated per owner group; the dropped mass is bounded per query;
* a **dense** chunked float64 log-sum-exp over all (exactly merged) components, one exp() per pair shared
  by all weight columns.

Error bounds, per query and weight column: the true ln g lies in ``[value - below, value + above]``.

* merge: moving a centre s to c' with ||s - c'|| <= delta changes its term's exponent by at most
  (2 ||q - c'|| delta + delta^2) / (2 beta^2), and an included component has ||q - c'|| <= ||q - c_own|| +
  r; the log of a sum moves by at most the largest such change (``eps``, both directions);
* truncation: with radius r around the own component, a dropped original centre s satisfies
  ||q - s|| >= r - ||q - c_own|| - 2 delta =: r_q, so the dropped mass is at most
  W_out (2 pi beta^2)^(-d/2) exp(-r_q^2 / (2 beta^2)), W_out the column's weight outside the neighbour
  list; relative to the computed included mass A' this raises ln g by at most log1p(E_max e^eps / A')
  (``above`` only). The radius r = rho + 2 delta + sqrt(rho^2 + 2 beta^2 (ln(1 / (w_own tol_t)) + eps)),
  rho the largest ||q - c_own|| of the centre's queries and w_own its smallest positive column weight,
  makes that at most tol_t = tol / 10, since A' >= w_own exp(-||q - c_own||^2 / (2 beta^2));
* round-off of ||q||^2 + ||c||^2 - 2 q.c on the dense path (after centring the data): at most
  2 gamma (||q||^2 + max ||c||^2) / (2 beta^2), gamma = (d + 2) u / (1 - (d + 2) u), u = 2^-53; on the
  neighbour lists, whose squared distances are expanded around the owner's component, at most
  2 gamma (||q - c_own||^2 + far^2) / (2 beta^2), far the farthest listed component from the owner.

Memory: each pass holds at most about ``memory_mb`` MiB of float64 intermediates, whatever n (the
neighbour lists of one block of queries included).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy.spatial import cKDTree

from estimators import checks

_U64 = 2.0**-53
# working blocks of at most this many bytes (within memory_mb): temporaries that fit in the allocator's
# reusable heap and the caches; 256 MiB blocks were 2x slower on the list path (fresh pages every block)
_BLOCK_BYTES = 8 * 2**20


@dataclass(frozen=True)
class LogDensity:
    """ln g at the queries, per weight column: ``values`` (q, S) float64, nats; the true value lies in
    ``[values - below, values + above]`` (both (q, S), >= 0)."""

    values: torch.Tensor
    above: torch.Tensor
    below: torch.Tensor


def unique_rows(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows of a 2-D array (bitwise equality, -0.0 counted as 0.0) and the row of each input row.

    Sorts the rows as opaque byte strings (numpy's unique on a void view), several times faster than
    np.unique(axis=0)'s lexicographic sort; the order of the distinct rows is arbitrary."""
    x = np.ascontiguousarray(x + 0 if x.dtype.kind == "f" else x)  # + 0: -0.0 -> 0.0
    keys = x.view(np.dtype((np.void, x.dtype.itemsize * x.shape[1]))).ravel()
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    return x[first], inverse.reshape(-1)


@dataclass(frozen=True)
class _Components:
    """A set of (merged) components: means (k, d) centred, their squared norms, the component of each
    original centre, each centre's offset from its component, log column weights (k, S) and, per
    component, -ln of its smallest positive weight (for the truncation radius)."""

    comp: torch.Tensor
    comp_sq: torch.Tensor
    member_of: torch.Tensor
    own_offset: torch.Tensor
    log_w: torch.Tensor
    log_inv_w: torch.Tensor

    @classmethod
    def build(cls, x: np.ndarray, comp: np.ndarray, member_of: np.ndarray, w: np.ndarray, device) -> _Components:
        cw = np.zeros((comp.shape[0], w.shape[1]))
        np.add.at(cw, member_of, w)
        smallest = np.where(cw > 0, cw, np.inf).min(axis=1)
        smallest = np.where(np.isfinite(smallest), smallest, float(w[w > 0].min()))  # a weightless component
        t = lambda a: torch.as_tensor(a, device=device)
        with np.errstate(divide="ignore"):
            log_w = np.log(cw)  # -inf where a column has no weight
        return cls(t(comp), t((comp**2).sum(1)), t(member_of), t(x - comp[member_of]), t(log_w), t(-np.log(smallest)))


class GaussianMixture:
    """The mixtures g_S(t) = sum_k w_{k,S} N(t; s_k, beta^2 I), one per weight column S.

    Args:
        centres: Tensor (n, d), float; the component means (the SP centres s_1..s_n).
        beta: noise standard deviation (> 0), the components' common std.
        weights: None (one column, equal weights), Tensor (n,) or (n, S) of weights >= 0; each column is
            normalised to sum 1. Columns let one pass evaluate several sub-mixtures (nested subsamples,
            class-conditional laws) at the same queries.
        tol: per-query bound, in nats, on the error of ln g from merging and truncation.
        method: "auto", "dense", "truncated" or "blocked".
        memory_mb: budget for the intermediates of one pass, in MiB.
        device: where to evaluate (default: the centres' device). The neighbour search runs on the CPU.

    Raises:
        ValueError: centres not (n, d) or not finite, beta <= 0, weights of the wrong shape or with a
            column of zero sum, tol <= 0, an unknown method.
    """

    def __init__(
        self,
        centres: torch.Tensor,
        beta: float,
        weights: torch.Tensor | None = None,
        *,
        tol: float = 1e-3,
        method: str = "auto",
        memory_mb: float = 256.0,
        device: torch.device | str | None = None,
    ) -> None:
        c = checks.samples(centres, "centres", rank=2)
        self.beta = checks.positive(beta, "beta")
        self.tol = checks.positive(tol, "tol")
        if method not in ("auto", "dense", "truncated", "blocked"):
            raise ValueError(f"method: got {method!r}, expected 'auto', 'dense', 'truncated' or 'blocked'")
        self.device = torch.device(device) if device is not None else c.device
        self.budget = int(checks.positive(memory_mb, "memory_mb") * 2**20)
        self.block = min(self.budget, _BLOCK_BYTES)
        n, d = c.shape
        self.n, self.d = n, d
        w = self._weight_columns(weights, n)
        x = c.cpu().numpy()
        x = x - x.mean(axis=0)  # centring keeps ||q||^2 + ||c||^2 - 2 q.c accurate on the dense path

        # error budget: truncation a tenth of tol, merging most of the rest
        self.tol_trunc = 0.1 * self.tol
        self.tol_merge = 0.8 * self.tol
        self.log_inv_w = math.log(1.0 / float(w[w > 0].min()))  # the dropped mass is relative to w_own

        exact, exact_of = unique_rows(x)
        # the dense path uses exactly merged duplicates only (a near-merge is bounded only near a query)
        self.exact = _Components.build(x, exact, exact_of, w, self.device)
        self.merged, self.delta, self.tree, self.near = self.exact, 0.0, None, None
        self.method = method
        if method == "auto":
            # neighbours of a typical query (offset ~ beta sqrt(d)) around <= 64 probe components, by brute
            # force (a tree search in high d visits nearly everything); dense when they are a quarter of
            # all, or in d > 16 unless the components are isolated (there a tree search costs about a scan)
            r = self.radius_for(self.beta * math.sqrt(d), self.log_inv_w)
            probe = exact[np.random.default_rng(0).choice(len(exact), size=min(len(exact), 64), replace=False)]
            near = sum(int((((exact - p) ** 2).sum(1) <= r * r).sum()) for p in probe) / len(probe)
            if 4 * near > len(exact) or len(exact) <= 256 or (d > 16 and near > 2):
                self.method = "dense"
            self.near = near
        if self.method != "dense":
            comp, member_of, self.delta = self._snap(exact, exact_of)
            if self.delta:
                self.merged = _Components.build(x, comp, member_of, w, self.device)
            self.tree = cKDTree(comp)
            if self.near is None:
                self.near = float(self.tree.query_ball_point(
                    comp[: min(len(comp), 64)], self.radius_for(self.beta * math.sqrt(d), self.log_inv_w),
                    return_length=True).mean())
        self.centres = torch.as_tensor(x, device=self.device)
        self.centres_sq = (self.centres**2).sum(1)
        self.log_norm = -0.5 * d * math.log(2.0 * math.pi * self.beta**2)
        self.last_path = None

    # ----------------------------------------------------------------------------------------------
    @staticmethod
    def _weight_columns(weights, n: int) -> np.ndarray:
        if weights is None:
            return np.full((n, 1), 1.0 / n)
        w = checks.as_tensor(weights, "weights").cpu().numpy()
        if w.ndim == 1:
            w = w[:, None]
        if w.ndim != 2 or w.shape[0] != n:
            raise ValueError(f"weights: got shape {w.shape}, expected ({n},) or ({n}, S)")
        if not np.isfinite(w).all() or (w < 0).any():
            raise ValueError("weights: got negative or non-finite entries, expected weights >= 0")
        total = w.sum(axis=0)
        if (total <= 0).any():
            raise ValueError(f"weights: column(s) {np.flatnonzero(total <= 0).tolist()} sum to 0, expected > 0")
        return w / total

    def _snap(self, comp: np.ndarray, member_of: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """Merge near-duplicates by snapping to a grid, when that removes at least 5% of the components.

        delta (the largest displacement of a centre) makes (2 reach delta + delta^2) / (2 beta^2) at most
        tol_merge for queries within reach = 2 radius(rho = beta (sqrt(d) + 4)) of a component.
        """
        reach = 2.0 * self.radius_for(self.beta * (math.sqrt(self.d) + 4.0), self.log_inv_w)
        delta = 0.99 * self.tol_merge * self.beta**2 / reach
        cell = delta / math.sqrt(self.d)  # two points of one cell are within delta of each other
        lo = comp.min(axis=0)
        if not np.all((comp.max(axis=0) - lo) / cell < 2**62):
            return comp, member_of, 0.0
        _, cell_of = unique_rows(np.floor((comp - lo) / cell).astype(np.int64))
        counts = np.bincount(cell_of)
        if counts.shape[0] > 0.95 * comp.shape[0]:
            return comp, member_of, 0.0
        merged = np.zeros((counts.shape[0], self.d))
        np.add.at(merged, cell_of, comp)
        merged /= counts[:, None]  # the mean of a cell's points lies within delta of each of them
        return merged, cell_of[member_of], delta

    def radius_for(self, rho, log_inv_w, delta: float = 0.0):
        """Truncation radius for queries within rho of a component whose smallest weight is 1/e^log_inv_w."""
        eps = (2.0 * 2.0 * rho * delta + delta**2) / (2.0 * self.beta**2) if delta else 0.0
        tail = 2.0 * self.beta**2 * (log_inv_w + math.log(1.0 / self.tol_trunc) + eps)
        return rho + 2.0 * delta + (rho**2 + tail) ** 0.5

    def _pick(self, k: torch.Tensor) -> tuple[str, float]:
        """The cheapest path (and, for "blocked", its cell side) for queries owned by merged components k.

        Estimated work, in dense pair evaluations: dense Q K; truncated 8 Q (neighbours + 2) for the
        owners' nearest-neighbour lists (up to 128, evaluated per owner group), plus 20 Q (neighbours) for
        ball queries, Python lists and gathers when owners have more than 128 within their radius; blocked
        2 Q (candidates per cell), each cell gathering its candidates and their weights, plus 20000 per
        cell for the Python and small-op overhead, for cell sides of 1, 1/2 and 1/4 times the typical
        truncation radius, candidates counted on a probe of up to 64 cells. (Factors measured on SZT layers; a wrong pick costs time, never accuracy.)"""
        q = k.numel()
        knn = 8.0 * q * (min(self.near, 128.0) + 2.0) + (20.0 * q * self.near if self.near > 128 else 0.0)
        costs = {("dense", 0.0): float(q * self.exact.comp.shape[0]), ("truncated", 0.0): knn}
        own = self.merged.comp[torch.unique(k)]
        rho = float(self.beta * (math.sqrt(self.d) + 2.0))
        radius = self.radius_for(self.beta * math.sqrt(self.d), self.log_inv_w, self.delta)
        for side in (radius, radius / 2, radius / 4):
            cells = torch.as_tensor(unique_rows(np.floor(own.cpu().numpy() / side))[0])
            probe = cells[torch.randperm(cells.shape[0], generator=torch.Generator().manual_seed(0))[:64]]
            r_c = self.candidate_radius(rho, side)
            cand = self.tree.query_ball_point(((probe + 0.5) * side).cpu().numpy(), r_c, return_length=True)
            costs[("blocked", side)] = 2.0 * q * float(np.mean(cand)) + 20000.0 * cells.shape[0]
        return min(costs, key=costs.get)

    def candidate_radius(self, rho: float, side: float) -> float:
        """Radius around a cell's centre holding every component within the truncation radius of any
        component of the cell, for offsets up to rho: that radius plus half the cell's diagonal."""
        return self.radius_for(rho, self.log_inv_w, self.delta) + 0.5 * side * math.sqrt(self.d)

    # ----------------------------------------------------------------------------------------------
    def log_density(self, owner: torch.Tensor, offsets: torch.Tensor) -> LogDensity:
        """ln g_S at q = centres[owner] + offsets for every weight column S.

        Args:
            owner: Tensor (q,), int64; the centre each query was drawn around.
            offsets: Tensor (q, d), float; q - centres[owner] (typically N(0, beta^2 I) draws).

        Returns:
            LogDensity with values, above, below of shape (q, S), float64, nats. Bounds are at most ``tol``
            where the owner's component has weight in the column.

        Raises:
            ValueError: mismatched shapes, or owners out of range.
        """
        owner = torch.as_tensor(owner, device=self.device).to(torch.int64)
        z = checks.as_tensor(offsets, "offsets").to(self.device)
        if owner.dim() != 1 or z.dim() != 2 or z.shape != (owner.shape[0], self.d):
            raise ValueError(f"offsets: got shape {tuple(z.shape)}, expected ({owner.shape[0]}, {self.d})")
        if owner.numel() and (int(owner.min()) < 0 or int(owner.max()) >= self.n):
            raise ValueError(f"owner: got indices outside [0, {self.n})")
        path, side = self.method, 0.5 * self.radius_for(self.beta * math.sqrt(self.d), self.log_inv_w, self.delta)
        if path == "auto":
            path, picked = self._pick(self.merged.member_of[owner])
            side = picked or side
        self.last_path = path
        if path == "dense":
            c = self.exact
            k, zc = c.member_of[owner], z + c.own_offset[owner]
            vals = self._dense(c.comp[k] + zc, c.comp, c.comp_sq, c.log_w)
            above = torch.zeros_like(vals)
            eps = torch.zeros(owner.shape[0], 1, dtype=torch.float64, device=self.device)
        else:
            c = self.merged
            k, zc = c.member_of[owner], z + c.own_offset[owner]  # offset from the owner's (merged) component
            if path == "blocked":
                vals, above, eps = self._blocked(k, zc, side)
            else:
                vals, above, eps = self._truncated(k, zc)
        gamma = (self.d + 2) * _U64 / (1 - (self.d + 2) * _U64)
        q_sq = ((c.comp[k] + zc) ** 2).sum(1, keepdim=True)
        roundoff = 2.0 * gamma * (q_sq + self.centres_sq.max()) / (2.0 * self.beta**2)
        above = above + eps + roundoff
        below = (eps + roundoff).expand_as(vals).clone()
        return LogDensity(vals + self.log_norm, above, below)

    def _rows(self, row_bytes: int) -> int:
        """Rows per working block: a block of ``self.block`` bytes, but at least 64 rows where the budget
        allows (fewer, larger blocks cost less Python overhead than they lose in cache)."""
        return max(1, min(self.budget // row_bytes, max(64, self.block // row_bytes)))

    def _dense(self, q: torch.Tensor, c: torch.Tensor, c_sq: torch.Tensor, log_w: torch.Tensor) -> torch.Tensor:
        """Chunked float64 log-sum-exp of (b, d) centred queries over components c (k, d) -> (b, S).

        One exp() per (query, component) serves every weight column: sum_k w_kS exp(e_k - max_k e_k) is a
        matrix product. The maximum is over all components, so a column whose components all lie far below
        it loses relative precision; a column holding the query's own centre keeps that term at
        exp(-||z||^2 / (2 beta^2)) or more, far above float64's underflow for any plausible draw.
        """
        w = torch.exp(log_w)
        out = torch.empty(q.shape[0], log_w.shape[1], dtype=torch.float64, device=self.device)
        rows = self._rows(8 * 2 * log_w.shape[0])
        for a in range(0, q.shape[0], rows):
            out[a : a + rows] = self._lse_block(q[a : a + rows], c, c_sq, w)
        return out

    def _lse_block(self, q: torch.Tensor, c: torch.Tensor, c_sq: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """ln sum_k w_kS exp(-||q - c_k||^2 / (2 beta^2)) for (b, d) queries, (k, d) components -> (b, S).

        Written as -||q||^2 / (2 beta^2) + LSE_k(q.c_k / beta^2 - ||c_k||^2 / (2 beta^2)): one matrix product,
        one max, one exp per pair (shared by all columns), one matrix product with the weights."""
        inv = 1.0 / self.beta**2
        e = torch.addmm(c_sq[None, :], q, c.T, beta=-0.5 * inv, alpha=inv)
        top = e.max(dim=1, keepdim=True).values
        total = torch.exp_(e.sub_(top)) @ w
        return torch.log(total) + top - 0.5 * inv * (q**2).sum(1, keepdim=True)

    def _owner_radius(self, owners: torch.Tensor, rho: torch.Tensor) -> torch.Tensor:
        """Truncation radius per owner component for offsets up to rho (see the module docstring)."""
        eps = (2.0 * 2.0 * rho * self.delta + self.delta**2) / (2.0 * self.beta**2) if self.delta else 0.0
        tail = 2.0 * self.beta**2 * (self.merged.log_inv_w[owners] + math.log(1.0 / self.tol_trunc) + eps)
        return rho + 2.0 * self.delta + (rho**2 + tail).sqrt()

    def _lse_lists(self, k, zc, znorm, j, qi, reach):
        """Log-sum-exp of queries over explicit neighbour lists, with the bounds: (values, above, eps).

        k, zc, znorm: the queries' owner components, offsets and offset norms (b,); j, qi: for each
        (query, neighbour) pair the neighbour's component and the query's position; reach: per query, every
        component closer than this to its owner is in its list."""
        s, b = self.merged.log_w.shape[1], k.numel()
        diff = zc[qi] - (self.merged.comp[j] - self.merged.comp[k][qi])
        e = -(diff**2).sum(1) / (2.0 * self.beta**2)  # one exp per pair serves every column
        top = torch.full((b,), -math.inf, dtype=torch.float64, device=self.device)
        top.scatter_reduce_(0, qi, e, reduce="amax")
        wj = torch.exp(self.merged.log_w[j])
        total = torch.zeros(b, s, dtype=torch.float64, device=self.device).index_add_(0, qi, torch.exp(e - top[qi])[:, None] * wj)
        w_in = torch.zeros_like(total).index_add_(0, qi, wj)
        far = torch.zeros(b, dtype=torch.float64, device=self.device)
        far.scatter_reduce_(0, qi, (self.merged.comp[j] - self.merged.comp[k][qi]).norm(dim=1), reduce="amax")
        lse = top[:, None] + torch.log(total)  # -inf where the column has no included component
        return self._list_bounds(lse, w_in, far, znorm, reach)

    def _list_bounds(self, lse, w_in, far, znorm, reach, roundoff=0.0):
        """(values, above, eps) of queries whose lists hold every component within ``reach`` of the owner:
        lse (b, S), the included weight w_in (b, S), the farthest included component from the owner
        far (b,), offset norms znorm (b,), reach (b,); ``roundoff`` (b,) bounds each exponent's error."""
        w_out = (1.0 - w_in).clamp_min(0.0)
        # included components lie within far of the owner, so within znorm + far of the query
        ep = (2.0 * (znorm + far) * self.delta + self.delta**2) / (2.0 * self.beta**2) + roundoff
        r_q = (reach - znorm - 2.0 * self.delta).clamp_min(0.0)
        ratio = torch.exp(torch.log(w_out) - (r_q**2 / (2.0 * self.beta**2) - ep)[:, None] - lse)
        return lse, torch.where(w_out > 0, torch.log1p(ratio), torch.zeros_like(ratio)), ep[:, None]

    def _lse_grouped(self, own, lists, reach, g, zc, znorm):
        """Log-sum-exp over fixed-length neighbour lists shared by each owner's queries, with the bounds.

        own (o,): owner components; lists (o, L): their neighbours (index n_components where fewer were
        found); reach (o,): every component closer than this to the owner is listed; g (b,): each query's
        owner in 0..o-1; zc, znorm: the queries' offsets from their owner (b, d) and norms (b,).

        Queries are grouped by owner and padded to the group's size (owners bucketed by powers of two), so
        that -||zc - rel||^2 = 2 zc.rel - ||zc||^2 - ||rel||^2 is one batched matrix product per block, rel
        the neighbours' offsets from the owner; no per-pair gather of coordinates. The expansion's
        round-off, at most 2 gamma (||zc||^2 + ||rel||^2) / (2 beta^2) per exponent, joins the merge bound.
        Returns (values, above, eps) in the order of the queries."""
        n_comp, s, dev = self.merged.comp.shape[0], self.merged.log_w.shape[1], self.device
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
        gamma = (self.d + 2) * _U64 / (1 - (self.d + 2) * _U64)
        inv2 = 1.0 / (2.0 * self.beta**2)
        vals = torch.empty(b, s, dtype=torch.float64, device=dev)
        above, eps = torch.empty_like(vals), torch.empty(b, 1, dtype=torch.float64, device=dev)
        a = int((counts[by_key] == 0).sum())  # owners without queries sort first (key 0, count 0): skip
        while a < n_own:
            cap = 1 << int(key[by_key[a]])  # the bucket's padded group size
            end = a + int((key[by_key[a:]] == key[by_key[a]]).sum())  # the bucket's end
            width = int(n_found[by_key[end - 1]]) or 1  # its longest list (sorted by length)
            e_ = min(end, a + self._rows(8 * (cap * (2 * width + self.d + 2 * s) + width * (self.d + s))))
            o = by_key[a:e_]
            n_o, width = o.numel(), int(n_found[o].max()) or 1
            fo = found[o, :width]
            lst = torch.where(fo, lists[o, :width], own[o][:, None])
            rel = self.merged.comp[lst] - self.merged.comp[own[o]][:, None, :]  # (n_o, L, d)
            rel_sq = (rel**2).sum(2)
            far = torch.where(fo, rel_sq, 0.0).amax(1).sqrt()
            w = torch.where(fo[:, :, None], torch.exp(self.merged.log_w[lst]), 0.0)  # (n_o, L, S)
            w_in = w.sum(1)
            qs = order[q_first[a] : q_first[a] + int(counts[o].sum())]
            local = torch.repeat_interleave(torch.arange(n_o, device=dev), counts[o])
            pos = torch.arange(qs.numel(), device=dev) - (torch.cumsum(counts[o], 0) - counts[o])[local]
            z_pad = torch.zeros(n_o, cap, self.d, dtype=torch.float64, device=dev)
            z_pad[local, pos] = zc[qs]
            zsq = torch.zeros(n_o, cap, dtype=torch.float64, device=dev)
            zsq[local, pos] = znorm[qs] ** 2
            # -||zc - rel||^2 / (2 beta^2), -inf where no neighbour was found
            e = torch.baddbmm(rel_sq[:, None, :] + zsq[:, :, None], z_pad, rel.transpose(1, 2), beta=-inv2,
                              alpha=2.0 * inv2).masked_fill_(~fo[:, None, :], -math.inf)
            top = e.amax(2, keepdim=True)
            total = torch.bmm(torch.exp_(e.sub_(top)), w)  # (n_o, cap, S): one exp per pair for every column
            lse = (top + torch.log(total))[local, pos]
            rnd = 2.0 * gamma * (znorm[qs] ** 2 + far[local] ** 2) * inv2
            vals[qs], above[qs], eps[qs] = self._list_bounds(lse, w_in[local], far[local], znorm[qs],
                                                             reach[o][local], rnd)
            a = e_
        return vals, above, eps

    def _truncated(self, k: torch.Tensor, zc: torch.Tensor):
        """Truncation to each owner's neighbours within its radius (module docstring).

        Each owner's nearest component (itself), then its 16, then its 128 nearest come first (cKDTree
        queries bounded by the largest radius, no Python lists), evaluated per owner group
        (:meth:`_lse_grouped`): an owner is done once the next nearest lies beyond its radius. The others
        get full ball queries, fetched in chunks whose neighbour lists fit the memory budget. Returns
        values (q, S), truncation bounds (q, S) and merge bounds (q, 1)."""
        n_q, s, dev = zc.shape[0], self.merged.log_w.shape[1], self.device
        vals = torch.empty(n_q, s, dtype=torch.float64, device=dev)
        above, eps = torch.empty_like(vals), torch.empty(n_q, 1, dtype=torch.float64, device=dev)
        znorm = zc.norm(dim=1)
        owners, row = torch.unique(k, return_inverse=True)
        rho = torch.zeros(owners.numel(), dtype=torch.float64, device=dev).scatter_reduce_(0, row, znorm, reduce="amax")
        radius = self._owner_radius(owners, rho)
        n_comp = self.merged.comp.shape[0]
        pts = self.merged.comp[owners].cpu().numpy()
        per_pair = 8 * (self.d + 2 * s + 8)
        rest = torch.arange(owners.numel(), device=dev)
        for kk in (1, 16, 128):  # an isolated owner needs only itself, a clustered one more
            kk = min(kk, n_comp)
            # the kk + 1 nearest within the largest radius (a bounded search prunes most of the tree)
            ub = float(radius[rest].max())
            dist, idx = self.tree.query(pts[rest.cpu().numpy()], k=min(kk + 1, n_comp), distance_upper_bound=ub,
                                        workers=-1)
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
            vals[sel], above[sel], eps[sel] = self._lse_grouped(
                owners[done], idx[complete, :kk], reach[complete], where[row[sel]], zc[sel], znorm[sel])
            rest = rest[~complete]
            if not rest.numel() or kk == n_comp:
                break
        # the others: ball queries, in chunks of owners sized by their neighbour counts
        if rest.numel():
            counts = self.tree.query_ball_point(pts[rest.cpu().numpy()], radius[rest].cpu().numpy(), workers=-1,
                                                return_length=True)
            by_owner = torch.argsort(row, stable=True)
            per_owner = torch.bincount(row, minlength=owners.numel())
            first = torch.cumsum(per_owner, 0) - per_owner
            load = torch.as_tensor(counts, device=dev) * per_owner[rest]
            a = 0
            while a < rest.numel():
                b = a + 1 + int(torch.searchsorted(torch.cumsum(load[a + 1 :], 0), self._rows(per_pair)))
                chunk = rest[a:b]
                lists = self.tree.query_ball_point(pts[chunk.cpu().numpy()], radius[chunk].cpu().numpy(), workers=-1,
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
                vals[q], above[q], eps[q] = self._lse_lists(k[q], zc[q], znorm[q], j, qi, radius[row[q]])
                a = b
        return vals, above, eps

    def _blocked(self, k: torch.Tensor, zc: torch.Tensor, side: float):
        """Dense log-sum-exp per grid cell of owner components over the components near the cell.

        Owners are grouped into cubic cells of side a; a cell's candidates are all components within
        R_c = (largest radius its queries need) + (half the cell's diagonal) of the cell centre cc, and a
        dropped (original) centre is at least R_c - ||q - cc|| - delta from a query q. Distances are
        expanded relative to cc, where norms are of order R_c, so round-off stays ~1e-13 nats.
        Returns values (q, S), truncation bounds (q, S) and merge bounds (q, 1)."""
        n_q, s, dev = zc.shape[0], self.merged.log_w.shape[1], self.device
        vals = torch.empty(n_q, s, dtype=torch.float64, device=dev)
        above = torch.empty_like(vals)
        eps = torch.empty(n_q, 1, dtype=torch.float64, device=dev)
        w_all = torch.exp(self.merged.log_w)
        znorm = zc.norm(dim=1)
        own = self.merged.comp[k]
        cells, block = torch.unique(torch.floor(own / side).to(torch.int64), dim=0, return_inverse=True)
        half_diag = 0.5 * side * math.sqrt(self.d)
        order = torch.argsort(block, stable=True)
        bounds = torch.cumsum(torch.bincount(block, minlength=cells.shape[0]), 0).tolist()
        a = 0
        for b, end in enumerate(bounds):
            idx = order[a:end]
            a = end
            cc = (cells[b].to(torch.float64) + 0.5) * side
            rho = float(znorm[idx].max())
            radius = self.radius_for(rho, float(self.merged.log_inv_w[k[idx]].max()), self.delta)
            r_c = radius + half_diag
            found = self.tree.query_ball_point(cc.cpu().numpy(), r_c, return_sorted=False)
            cand = torch.from_numpy(np.fromiter(found, dtype=np.int64, count=len(found))).to(dev)
            c = self.merged.comp[cand] - cc
            c_sq = (c**2).sum(1)
            w_c = w_all[cand]
            w_out = (1.0 - w_c.sum(0)).clamp_min(0.0)  # (S,)
            rows = self._rows(8 * 2 * max(1, cand.numel()))
            for lo in range(0, idx.numel(), rows):
                sub = idx[lo : lo + rows]
                q = own[sub] - cc + zc[sub]
                lse = self._lse_block(q, c, c_sq, w_c)
                q_sq = (q**2).sum(1, keepdim=True)
                qn = q_sq.sqrt()
                ep = (2.0 * (qn + r_c) * self.delta + self.delta**2) / (2.0 * self.beta**2)
                r_q = (r_c - qn - self.delta).clamp_min(0.0)
                ratio = torch.exp(torch.log(w_out)[None, :] - r_q**2 / (2.0 * self.beta**2) + ep - lse)
                vals[sub] = lse
                above[sub] = torch.where(w_out[None, :] > 0, torch.log1p(ratio), torch.zeros_like(ratio))
                eps[sub] = ep
        return vals, above, eps

    def describe(self) -> dict:
        """What the engine chose: method ("auto" picks a path per call; ``path`` is the last one), component
        counts after merging, merge displacement."""
        return {
            "method": self.method,
            "n_centres": self.n,
            "n_components": int(self.merged.comp.shape[0]),
            "n_exact_components": int(self.exact.comp.shape[0]),
            "path": self.last_path,
            "merge_delta": self.delta,
        }
