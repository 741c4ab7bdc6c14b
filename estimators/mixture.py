"""Log-density of an isotropic Gaussian mixture at points drawn around its own centres, exact to a stated
tolerance.

The SP estimator (REFERENCE.md sections 4-5) evaluates

    ln g(q) = LSE_k( ln w_k - ||q - c_k||^2 / (2 beta^2) ) - (d/2) ln(2 pi beta^2)

at q = s_i + z, z ~ N(0, beta^2 I), for centres s_i. A dense log-sum-exp costs (#queries x #centres) exp()
calls. :class:`GaussianMixture` is the one entry point; it chooses between

* **merging** centres: exact duplicates always (no error); near-duplicates (saturated tanh layers, float32
  round-off) by snapping to a grid, only where that removes >= 5% of the components, with the largest
  displacement ``delta`` chosen so that the change in ln g stays within the merge tolerance;
* **truncation** to the components within ``radius`` of each query's own (merged) centre, found once per
  query-owning centre by a neighbour search (scipy cKDTree); the dropped mass is bounded per query;
* a **dense** chunked float64 log-sum-exp over all (exactly merged) components, one exp() per pair shared
  by all weight columns.

Error bounds, per query and weight column: the true ln g lies in ``[value - below, value + above]``.

* merge: moving a centre s to c' with ||s - c'|| <= delta changes its term's exponent by at most
  (2 ||q - c'|| delta + delta^2) / (2 beta^2), and an included component has ||q - c'|| <= ||q - c_own|| +
  radius; the log of a sum moves by at most the largest such change (``eps``, both directions);
* truncation: a dropped original centre s satisfies ||q - s|| >= radius - ||q - c_own|| - 2 delta =: r_q,
  so the dropped mass is at most W_out (2 pi beta^2)^(-d/2) exp(-r_q^2 / (2 beta^2)), W_out the column's
  weight outside the neighbour list; relative to the computed included mass A' this raises ln g by at most
  log1p(E_max e^eps / A') (``above`` only);
* round-off of ||q||^2 + ||c||^2 - 2 q.c on the dense path (after centring the data): at most
  2 gamma (||q||^2 + max ||c||^2) / (2 beta^2), gamma = (d + 2) u / (1 - (d + 2) u), u = 2^-53.

The radius is set for offsets up to rho = beta (sqrt(d) + 4) (exceeded with probability < e^-8 per draw);
a query whose truncation bound still exceeds a tenth of ``tol`` is recomputed densely over the original
centres, so every returned bound is at most ``tol`` where the query's own centre has weight in the column.

Memory: each pass holds at most about ``memory_mb`` MiB of float64 intermediates, whatever n; the
neighbour lists of the query-owning centres are held in full (8 bytes per neighbour).
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


@dataclass(frozen=True)
class LogDensity:
    """ln g at the queries, per weight column: ``values`` (q, S) float64, nats; the true value lies in
    ``[values - below, values + above]`` (both (q, S), >= 0)."""

    values: torch.Tensor
    above: torch.Tensor
    below: torch.Tensor


class GaussianMixture:
    """The mixtures g_S(t) = sum_k w_{k,S} N(t; s_k, beta^2 I), one per weight column S.

    Args:
        centres: Tensor (n, d), float; the component means (the SP centres s_1..s_n).
        beta: noise standard deviation (> 0), the components' common std.
        weights: None (one column, equal weights), Tensor (n,) or (n, S) of weights >= 0; each column is
            normalised to sum 1. Columns let one pass evaluate several sub-mixtures (nested subsamples,
            class-conditional laws) at the same queries.
        origins: Tensor of centre indices around which queries will be drawn (default: all). Neighbour
            lists are built for these only.
        tol: per-query bound, in nats, on the error of ln g from merging and truncation.
        method: "auto", "dense" or "truncated".
        memory_mb: budget for the intermediates of one pass, in MiB.
        device: where to evaluate (default: the centres' device). The neighbour search runs on the CPU.

    Raises:
        ValueError: centres not (n, d) or not finite, beta <= 0, weights of the wrong shape or with a
            column of zero sum, origins out of range, tol <= 0, an unknown method.
    """

    def __init__(
        self,
        centres: torch.Tensor,
        beta: float,
        weights: torch.Tensor | None = None,
        *,
        origins: torch.Tensor | None = None,
        tol: float = 1e-3,
        method: str = "auto",
        memory_mb: float = 256.0,
        device: torch.device | str | None = None,
    ) -> None:
        c = checks.samples(centres, "centres", rank=2)
        self.beta = checks.positive(beta, "beta")
        self.tol = checks.positive(tol, "tol")
        if method not in ("auto", "dense", "truncated"):
            raise ValueError(f"method: got {method!r}, expected 'auto', 'dense' or 'truncated'")
        self.device = torch.device(device) if device is not None else c.device
        self.budget = int(checks.positive(memory_mb, "memory_mb") * 2**20)
        n, d = c.shape
        self.n, self.d = n, d
        w = self._weight_columns(weights, n)
        origins = np.arange(n) if origins is None else torch.as_tensor(origins).cpu().numpy().astype(np.int64)
        if origins.size and (origins.min() < 0 or origins.max() >= n):
            raise ValueError(f"origins: got indices outside [0, {n})")
        x = c.cpu().numpy()
        x = x - x.mean(axis=0)  # centring keeps ||q||^2 + ||c||^2 - 2 q.c accurate on the dense path

        # error budget: truncation a tenth of tol, merging most of the rest
        self.tol_trunc = 0.1 * self.tol
        self.tol_merge = 0.8 * self.tol
        self.rho = self.beta * (math.sqrt(d) + 4.0)
        w_min = float(w[w > 0].min())  # merging only increases a component's weight
        self.radius = self.rho + math.sqrt(self.rho**2 + 2.0 * self.beta**2 * math.log(1.0 / (w_min * self.tol_trunc)))

        exact, exact_of = np.unique(x, axis=0, return_inverse=True)
        exact_of = exact_of.reshape(-1)
        comp, member_of, self.delta = exact, exact_of, 0.0
        if method != "dense" and exact.shape[0] > 1:
            comp, member_of, self.delta = self._snap(exact, exact_of)
        self.method, self._nbr = self._choose(comp, np.unique(member_of[origins]), method)
        if self.method == "dense" and self.delta:
            # a merge is bounded only for components near the query: the dense path keeps exact ones
            comp, member_of, self.delta = exact, exact_of, 0.0
        self.n_components = comp.shape[0]
        cw = np.zeros((comp.shape[0], w.shape[1]))
        np.add.at(cw, member_of, w)
        dev = self.device
        self.member_of = torch.as_tensor(member_of, device=dev)  # (n,) component of each centre
        self.comp = torch.as_tensor(comp, device=dev)
        self.comp_sq = (self.comp**2).sum(1)
        self.own_offset = torch.as_tensor(x - comp[member_of], device=dev)  # s_i - c'(i)
        self.centres = torch.as_tensor(x, device=dev)
        self.centres_sq = (self.centres**2).sum(1)
        with np.errstate(divide="ignore"):
            self.log_w = torch.as_tensor(np.log(cw), device=dev)  # (k, S), -inf where absent
            self.log_w_orig = torch.as_tensor(np.log(w), device=dev)  # (n, S)
        self.log_norm = -0.5 * d * math.log(2.0 * math.pi * self.beta**2)

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

        delta (the largest displacement of a centre) makes (2 (radius + rho) delta + delta^2) / (2 beta^2)
        at most tol_merge, so the merge bound holds for offsets up to rho.
        """
        reach = self.radius + self.rho
        delta = 0.99 * self.tol_merge * self.beta**2 / reach
        cell = delta / math.sqrt(self.d)  # two points of one cell are within delta of each other
        lo = comp.min(axis=0)
        if not np.all((comp.max(axis=0) - lo) / cell < 2**62):
            return comp, member_of, 0.0
        keys = np.floor((comp - lo) / cell).astype(np.int64)
        _, cell_of, counts = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
        cell_of = cell_of.reshape(-1)
        if counts.shape[0] > 0.95 * comp.shape[0]:
            return comp, member_of, 0.0
        merged = np.zeros((counts.shape[0], self.d))
        np.add.at(merged, cell_of, comp)
        merged /= counts[:, None]  # the mean of a cell's points lies within delta of each of them
        return merged, cell_of[member_of], delta

    def _choose(self, comp: np.ndarray, owners: np.ndarray, method: str):
        """Neighbour lists within ``radius`` of the query-owning components (CSR), or None for dense."""
        k = comp.shape[0]
        if method == "dense" or (method == "auto" and k <= 256):
            return "dense", None
        tree = cKDTree(comp)
        counts = tree.query_ball_point(comp[owners], self.radius, workers=-1, return_length=True)
        # a gathered neighbour costs a few times a dense entry (BLAS distances, one shared exp)
        if method == "auto" and 4 * counts.sum() > k * owners.size:
            return "dense", None
        lists = tree.query_ball_point(comp[owners], self.radius, workers=-1, return_sorted=False)
        nbr = np.fromiter(itertools.chain.from_iterable(lists), dtype=np.int64, count=int(counts.sum()))
        ptr = np.zeros(owners.size + 1, dtype=np.int64)
        np.cumsum(counts, out=ptr[1:])
        row = np.full(k, -1, dtype=np.int64)
        row[owners] = np.arange(owners.size)
        return "truncated", tuple(torch.as_tensor(a, device=self.device) for a in (ptr, nbr, row))

    # ----------------------------------------------------------------------------------------------
    def log_density(self, owner: torch.Tensor, offsets: torch.Tensor) -> LogDensity:
        """ln g_S at q = centres[owner] + offsets for every weight column S.

        Args:
            owner: Tensor (q,), int64; the centre each query was drawn around (one of ``origins``).
            offsets: Tensor (q, d), float; q - centres[owner] (typically N(0, beta^2 I) draws).

        Returns:
            LogDensity with values, above, below of shape (q, S), float64, nats. Bounds are at most ``tol``
            where the owner's component has weight in the column.

        Raises:
            ValueError: mismatched shapes, or owners outside ``origins``.
        """
        owner = torch.as_tensor(owner, device=self.device).to(torch.int64)
        z = checks.as_tensor(offsets, "offsets").to(self.device)
        if owner.dim() != 1 or z.dim() != 2 or z.shape != (owner.shape[0], self.d):
            raise ValueError(f"offsets: got shape {tuple(z.shape)}, expected ({owner.shape[0]}, {self.d})")
        if owner.numel() and (int(owner.min()) < 0 or int(owner.max()) >= self.n):
            raise ValueError(f"owner: got indices outside [0, {self.n})")
        zc = z + self.own_offset[owner]  # offset from the owner's (merged) component
        k = self.member_of[owner]
        if self.method == "dense":
            vals = self._dense(self.comp[k] + zc, self.comp, self.comp_sq, self.log_w)
            above = torch.zeros_like(vals)
            eps = torch.zeros(owner.shape[0], 1, dtype=torch.float64, device=self.device)
        else:
            rows = self._nbr[2][k]
            if owner.numel() and int(rows.min()) < 0:
                raise ValueError("owner: got centres outside the origins given to the mixture")
            vals, above, eps = self._truncated(rows, k, zc)
            own_w = self.log_w[k] > -math.inf
            redo = ((above > self.tol_trunc) & own_w).any(1).nonzero().reshape(-1)
            if redo.numel():  # unusually large offsets: exact answer over the original centres
                q = self.centres[owner[redo]] + z[redo]
                vals[redo] = self._dense(q, self.centres, self.centres_sq, self.log_w_orig)
                above[redo] = 0.0
                eps[redo] = 0.0
        gamma = (self.d + 2) * _U64 / (1 - (self.d + 2) * _U64)
        q_sq = ((self.comp[k] + zc) ** 2).sum(1, keepdim=True)
        roundoff = 2.0 * gamma * (q_sq + self.centres_sq.max()) / (2.0 * self.beta**2)
        above = above + eps + roundoff
        below = (eps + roundoff).expand_as(vals).clone()
        return LogDensity(vals + self.log_norm, above, below)

    def _dense(self, q: torch.Tensor, c: torch.Tensor, c_sq: torch.Tensor, log_w: torch.Tensor) -> torch.Tensor:
        """Chunked float64 log-sum-exp of (b, d) centred queries over components c (k, d) -> (b, S).

        One exp() per (query, component) serves every weight column: sum_k w_kS exp(e_k - max_k e_k) is a
        matrix product. The maximum is over all components, so a column whose components all lie far below
        it loses relative precision; a column holding the query's own centre keeps that term at
        exp(-||z||^2 / (2 beta^2)) or more, far above float64's underflow for any plausible draw.
        """
        kk = log_w.shape[0]
        w = torch.exp(log_w)
        out = torch.empty(q.shape[0], log_w.shape[1], dtype=torch.float64, device=self.device)
        rows = max(1, self.budget // (8 * kk * 2))
        for a in range(0, q.shape[0], rows):
            qb = q[a : a + rows]
            e = (qb**2).sum(1, keepdim=True) + c_sq[None, :] - 2.0 * qb @ c.T
            e = e.clamp_min_(0.0).mul_(-0.5 / self.beta**2)  # round-off can push ~0 slightly negative
            top = e.max(dim=1, keepdim=True).values
            out[a : a + rows] = torch.log(torch.exp_(e.sub_(top)) @ w) + top
        return out

    def _truncated(self, rows: torch.Tensor, k: torch.Tensor, zc: torch.Tensor):
        """Log-sum-exp over each query's neighbour list (direct differences, float64).

        Returns values (q, S), truncation bounds (q, S) and merge bounds (q, 1)."""
        ptr, nbr, _ = self._nbr
        n_q, s = zc.shape[0], self.log_w.shape[1]
        counts = ptr[rows + 1] - ptr[rows]
        vals = torch.empty(n_q, s, dtype=torch.float64, device=self.device)
        above = torch.empty_like(vals)
        znorm = zc.norm(dim=1, keepdim=True)
        eps = (2.0 * (znorm + self.radius) * self.delta + self.delta**2) / (2.0 * self.beta**2)
        cum = torch.cumsum(counts, 0)
        limit = max(int(counts.max()) if n_q else 1, self.budget // (8 * (self.d + 3 * s + 4)))
        a = 0
        while a < n_q:
            base = int(cum[a - 1]) if a else 0
            b = max(a + 1, int(torch.searchsorted(cum, base + limit, right=True)))
            cc = counts[a:b]
            qi = torch.repeat_interleave(torch.arange(b - a, device=self.device), cc)
            start = torch.cumsum(cc, 0) - cc
            j = nbr[ptr[rows[a:b]][qi] + torch.arange(qi.numel(), device=self.device) - start[qi]]
            diff = (self.comp[k[a:b]][qi] - self.comp[j]) + zc[a:b][qi]
            e = -(diff**2).sum(1, keepdim=True) / (2.0 * self.beta**2) + self.log_w[j]  # (E, S)
            top = torch.full((b - a, s), -math.inf, dtype=torch.float64, device=self.device)
            top.scatter_reduce_(0, qi[:, None].expand(-1, s), e, reduce="amax")
            top = torch.where(torch.isfinite(top), top, torch.zeros_like(top))
            total = torch.zeros_like(top).index_add_(0, qi, torch.exp(e - top[qi]))
            lse = top + torch.log(total)  # -inf where the column has no included component
            w_out = (1.0 - torch.zeros_like(top).index_add_(0, qi, torch.exp(self.log_w[j]))).clamp_min(0.0)
            r_q = (self.radius - znorm[a:b] - 2.0 * self.delta).clamp_min(0.0)
            ratio = torch.exp(torch.log(w_out) - r_q**2 / (2.0 * self.beta**2) + eps[a:b] - lse)
            vals[a:b] = lse
            above[a:b] = torch.where(w_out > 0, torch.log1p(ratio), torch.zeros_like(ratio))
            a = b
        return vals, above, eps

    def describe(self) -> dict:
        """What the engine chose: method, component count after merging, radius, merge displacement."""
        truncated = self.method == "truncated"
        return {
            "method": self.method,
            "n_centres": self.n,
            "n_components": self.n_components,
            "radius": self.radius if truncated else None,
            "merge_delta": self.delta,
            "mean_neighbours": float(self._nbr[0][-1]) / max(1, self._nbr[0].numel() - 1) if truncated else None,
        }
