"""The entry point :class:`GaussianMixture`: components, error budget, path choice, bounds, threads."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from scipy.spatial import cKDTree

from estimators import checks
from estimators.mixture import clustered, dense, lists
from estimators.mixture.components import Components, snap, unique_rows, weight_columns
from estimators.mixture.roundoff import gamma
from estimators.mixture.threads import engine_threads

# working blocks of at most this many bytes (within memory_mb): temporaries that fit in the allocator's
# reusable heap and the caches; 256 MiB blocks were 2x slower on the list path (fresh pages every block)
_BLOCK_BYTES = 8 * 2**20
METHODS = ("auto", "dense", "truncated", "clustered")
# seconds per unit of each path's work, fitted to this project's machine (benchmarks/README.md, "Path
# choice"); a wrong pick costs time, never accuracy
_S_DENSE_PAIR = 3.0e-9  # dense: float64 product, max, exp and weights per (query, component)
_S_LIST_PAIR = 10.0e-9  # truncated: a (query, listed neighbour) pair of the grouped lists
_S_LIST_OWNER = 5.0e-6  # truncated: an isolated owner's nearest-neighbour tree query (k = 2)
_S_LIST_OWNER_D = 3.0e-6  # ... per dimension and 16 neighbours, for an owner with more (k = 16, 128 tiers)
_PROBE_SAMPLE = 65536  # neighbour counts behind the choice: among this many components, scaled
_S_BLOCK_PAIR = 2.0e-9  # clustered: float32 exp and weights per (query, candidate)
_S_BLOCK_OWNER = 3.0e-5  # clustered: grid rows and chunks per owner where components are sparse


@dataclass(frozen=True)
class LogDensity:
    """ln g at the queries, per weight column: ``values`` (q, S) float64, nats; the true value lies in
    ``[values - below, values + above]`` (both (q, S), >= 0)."""

    values: torch.Tensor
    above: torch.Tensor
    below: torch.Tensor


class GaussianMixture:
    """The mixtures g_S(t) = sum_k w_{k,S} N(t; s_k, beta^2 I), one per weight column S, evaluated at points
    drawn around their own centres with a bound on every value (docs/theory.md, section 10).

    Paths (:mod:`estimators.mixture.dense`, :mod:`~estimators.mixture.lists`,
    :mod:`~estimators.mixture.clustered`): a dense float64 log-sum-exp over all components; neighbour lists
    per owner component within a truncation radius (components spread out, few neighbours each); blocks of
    grid-grouped queries over the components within their truncation distance (components clustered at the
    noise scale). ``method="auto"`` picks per call the one of least estimated cost. Every call runs with
    one torch intra-op thread whatever the caller's setting, and large blocks in two parts side by side on
    Python threads where the process may use two cores (:mod:`estimators.mixture.threads`).

    Args:
        centres: Tensor (n, d), float; the component means (the SP centres s_1..s_n).
        beta: noise standard deviation (> 0), the components' common std.
        weights: None (one column, equal weights), Tensor (n,) or (n, S) of weights >= 0; each column is
            normalised to sum 1. Columns let one pass evaluate several sub-mixtures (nested subsamples,
            class-conditional laws) at the same queries.
        tol: per-query bound, in nats, on the error of ln g (truncation, merging, round-off), where the
            query's own centre has weight in the column.
        method: "auto", "dense", "truncated" or "clustered".
        memory_mb: budget for the intermediates of one pass, in MiB.
        device: where to evaluate (default: the centres' device). Neighbour searches run on the CPU.

    Raises:
        ValueError: centres not (n, d) or not finite, beta <= 0, weights of the wrong shape or with a
            column of zero sum, tol <= 0, an unknown method.

    Examples:
        >>> import torch
        >>> mix = GaussianMixture(torch.zeros(4, 2), beta=1.0)  # four identical centres: N(0, I)
        >>> ld = mix.log_density(torch.tensor([0]), torch.zeros(1, 2))
        >>> round(float(ld.values[0, 0]), 6)  # ln N(0; 0, I) = -ln(2 pi)
        -1.837877
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
        with engine_threads():
            c = checks.samples(centres, "centres", rank=2)
            self.beta = checks.positive(beta, "beta")
            self.tol = checks.positive(tol, "tol")
            if method not in METHODS:
                raise ValueError(f"method: got {method!r}, expected one of {', '.join(map(repr, METHODS))}")
            self.device = torch.device(device) if device is not None else c.device
            self.budget = int(checks.positive(memory_mb, "memory_mb") * 2**20)
            self.block = min(self.budget, _BLOCK_BYTES)
            self._build(c, weights, method)

    def _build(self, c: torch.Tensor, weights, method: str) -> None:
        n, d = c.shape
        self.n, self.d = n, d
        self._w = weight_columns(weights, n)
        x = c.cpu().numpy()
        self._x = x = x - x.mean(axis=0)  # centring keeps ||q||^2 + ||c||^2 - 2 q.c accurate

        # error budget: truncation a tenth of tol, merging 0.8, round-off (computed per query) the rest; the
        # clustered path, which never merges, spends tol - tol_trunc on its float32 round-off
        self.tol_trunc = 0.1 * self.tol
        self.tol_merge = 0.8 * self.tol
        self.log_inv_w = math.log(1.0 / float(self._w[self._w > 0].min()))  # dropped mass is relative to w_own

        exact, self._exact_of = unique_rows(x)
        # dense and clustered use exactly merged duplicates only (a near-merge is bounded only near a query)
        self.exact = Components.build(x, exact, self._exact_of, self._w, self.device)
        self._merged = self._tree = self._layout = None
        self.delta = 0.0
        self.method = method
        # neighbours of a typical query (offset ~ beta sqrt(d)) around <= 64 probe components: within the
        # owner's truncation radius (lists) and within the query's truncation distance (blocks)
        comp = self.exact.comp.cpu()
        pick = torch.randperm(comp.shape[0], generator=torch.Generator().manual_seed(0))
        probe = comp[pick[:64]]
        sample = comp[pick[:_PROBE_SAMPLE]]  # counts among at most this many, scaled to all
        r_list = self.radius_for(self.beta * math.sqrt(d), self.log_inv_w)
        r_block = math.sqrt(self.beta**2 * (d + 2.0 * (self.log_inv_w + math.log(1.0 / self.tol_trunc))))
        counts = torch.zeros(2, dtype=torch.float64)
        step = max(1, self.block // (8 * probe.shape[0]))
        for a in range(0, sample.shape[0], step):
            dist2 = torch.cdist(probe, sample[a : a + step]).square_()
            counts += torch.stack([(dist2 <= r_list**2).sum(), (dist2 <= r_block**2).sum()]).double()
        scale = comp.shape[0] / sample.shape[0] / probe.shape[0]
        self.near, self.near_block = (max(1.0, float(v) * scale) for v in counts)  # a probe counts itself
        self.log_norm = -0.5 * d * math.log(2.0 * math.pi * self.beta**2)
        self.last_path = None

    # --- structures built on first use ---------------------------------------------------------------
    @property
    def merged(self) -> Components:
        """Components after near-duplicate merging (the truncated path's), built on first use."""
        if self._merged is None:
            comp, member_of, self.delta = snap(self.exact.comp.cpu().numpy(), self._exact_of, self._snap_delta())
            self._merged = Components.build(self._x, comp, member_of, self._w, self.device) if self.delta else self.exact
        return self._merged

    @property
    def tree(self) -> cKDTree:
        """k-d tree of the merged components (the truncated path's neighbour search)."""
        if self._tree is None:
            self._tree = cKDTree(self.merged.comp.cpu().numpy())
        return self._tree

    def layout(self) -> clustered.Layout:
        """The clustered path's grid and grid-ordered components, built on first use."""
        if self._layout is None:
            self._layout = clustered.Layout(self)
        return self._layout

    def _snap_delta(self) -> float:
        """Largest merge displacement delta: (2 reach delta + delta^2) / (2 beta^2) <= tol_merge for queries
        within reach = 2 radius(rho = beta (sqrt(d) + 4)) of a component."""
        reach = 2.0 * self.radius_for(self.beta * (math.sqrt(self.d) + 4.0), self.log_inv_w)
        return 0.99 * self.tol_merge * self.beta**2 / reach

    def radius_for(self, rho: float, log_inv_w: float) -> float:
        """Truncation radius for queries within rho of an (unmerged) component whose smallest weight is
        1/e^log_inv_w (the merged components' radius, with the merge displacement: lists.owner_radius)."""
        tail = 2.0 * self.beta**2 * (log_inv_w + math.log(1.0 / self.tol_trunc))
        return rho + (rho**2 + tail) ** 0.5

    def rows(self, row_bytes: int) -> int:
        """Rows per working block: a block of ``self.block`` bytes, but at least 64 rows where the budget
        allows (fewer, larger blocks cost less Python overhead than they lose in cache)."""
        return max(1, min(self.budget // row_bytes, max(64, self.block // row_bytes)))

    def dense_roundoff(self, q_sq: torch.Tensor) -> torch.Tensor:
        """(q, 1) bound on the exponent error of the expansion ||q||^2 + ||c||^2 - 2 q.c of centred queries
        with squared norms at most q_sq (q,): 2 gamma_{d+4} (||q||^2 + max ||c||^2) / (2 beta^2) (d + 2 terms,
        and the log2(e) scaling of the base-2 exponents)."""
        return 2.0 * gamma(self.d + 4) * (q_sq[:, None] + self.exact.comp_sq.max()) / (2.0 * self.beta**2)

    def _pick(self, n_queries: int, n_owners: int) -> str:
        """The path of least estimated time for n_queries queries around n_owners centres, from the
        typical neighbour counts (constants above): truncated lists pay per owner for the tree queries and
        per listed neighbour; clustered blocks pay per candidate (about 1.5 times the components within the
        truncation distance in d <= 3, 3 times on a projection) and, where components are sparse (small
        groups, short chunks), per owner."""
        near, block = self.near, max(self.near_block, 1.0)
        per_owner = _S_LIST_OWNER + (_S_LIST_OWNER_D * self.d * min(near, 16.0) / 16.0 if near > 2 else 0.0)
        costs = {
            "dense": _S_DENSE_PAIR * n_queries * self.exact.comp.shape[0],
            "truncated": _S_LIST_PAIR * n_queries * (min(near, 128.0) + 2.0) + per_owner * n_owners
            + (2.0 * _S_LIST_PAIR * n_queries * near if near > 128 else 0.0),
            "clustered": _S_BLOCK_PAIR * block * (1.5 if self.d <= 3 else 3.0) * n_queries
            + _S_BLOCK_OWNER * n_owners / (1.0 + block / 32.0),
        }
        if self.d > 16 and near > 2:  # a tree search in high d visits nearly everything
            costs["truncated"] = math.inf
        return min(costs, key=costs.get)

    # ----------------------------------------------------------------------------------------------
    def log_density(self, owner: torch.Tensor, offsets: torch.Tensor) -> LogDensity:
        """ln g_S at q = centres[owner] + offsets for every weight column S.

        Args:
            owner: Tensor (q,), int64; the centre each query was drawn around.
            offsets: Tensor (q, d), float; q - centres[owner] (typically N(0, beta^2 I) draws).

        Returns:
            LogDensity with values, above, below of shape (q, S), float64, nats. Bounds are at most ``tol``
            where the owner's component has weight in the column (queries with offsets of a few beta).

        Raises:
            ValueError: mismatched shapes, or owners out of range.
        """
        with engine_threads():
            owner = torch.as_tensor(owner, device=self.device).to(torch.int64)
            z = checks.as_tensor(offsets, "offsets").to(self.device)
            if owner.dim() != 1 or z.dim() != 2 or z.shape != (owner.shape[0], self.d):
                raise ValueError(f"offsets: got shape {tuple(z.shape)}, expected ({owner.shape[0]}, {self.d})")
            if owner.numel() and (int(owner.min()) < 0 or int(owner.max()) >= self.n):
                raise ValueError(f"owner: got indices outside [0, {self.n})")
            return self._log_density(owner, z)

    def _log_density(self, owner: torch.Tensor, z: torch.Tensor) -> LogDensity:
        path = self.method
        if path == "auto":
            path = self._pick(owner.numel(), int(torch.unique(owner).numel()))
        self.last_path = path
        if path == "clustered":
            vals, above, below = clustered.evaluate(self, owner, z)
            return LogDensity(vals + self.log_norm, above, below)
        if path == "dense":
            q = self.exact.comp.index_select(0, self.exact.member_of[owner]) + z  # exact merging: no offsets
            vals = dense.evaluate(self, q)
            above = torch.zeros_like(vals)
            eps = torch.zeros(owner.shape[0], 1, dtype=torch.float64, device=self.device)
            q_sq = (q**2).sum(1)
        else:
            c = self.merged
            k = c.member_of[owner]
            zc = z if c.own_offset is None else z + c.own_offset[owner]  # offset from the owner's component
            vals, above, eps = lists.evaluate(self, k, zc)
            q_sq = (c.comp_sq[k].sqrt() + zc.norm(dim=1)) ** 2  # ||q|| <= ||c_k|| + ||zc||
        roundoff = self.dense_roundoff(q_sq)
        above = above + eps + roundoff
        below = (eps + roundoff).expand_as(vals).clone()
        return LogDensity(vals + self.log_norm, above, below)

    def describe(self) -> dict:
        """What the engine chose: method ("auto" picks a path per call; ``path`` is the last one), component
        counts (exact duplicates merged; near-duplicates too where the truncated path ran), merge
        displacement, and the typical neighbour counts behind the choice."""
        return {
            "method": self.method,
            "n_centres": self.n,
            "n_components": int((self._merged or self.exact).comp.shape[0]),
            "n_exact_components": int(self.exact.comp.shape[0]),
            "path": self.last_path,
            "merge_delta": self.delta,
            "neighbours": self.near,
        }
