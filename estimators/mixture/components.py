"""The mixture's components: weight columns, exact and near-duplicate merging (docs/theory.md, section 10)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from estimators import checks


def weight_columns(weights, n: int) -> np.ndarray:
    """Weights as (n, S) float64 columns, each normalised to sum 1 (None: one column of 1/n).

    Raises:
        ValueError: weights not (n,) or (n, S), negative or non-finite entries, a column summing to 0.
    """
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


def unique_rows(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows of a 2-D float array (bitwise equality, -0.0 counted as 0.0) and the row of each input.

    Rows are sorted by a random linear key (identical rows get identical keys) and equal neighbours in
    that order are merged: one float sort instead of a lexicographic one. Two distinct rows with one key
    can keep a duplicate of one of them apart (it is then kept as a second component, which is exact), so
    the result may hold a few duplicates but never merges distinct rows. The order of the rows is
    arbitrary. Returns (rows (u, d), inverse (n,) int64)."""
    x = np.ascontiguousarray(x + 0 if x.dtype.kind == "f" else x)  # + 0: -0.0 -> 0.0
    n = x.shape[0]
    key = x @ np.random.default_rng(0).standard_normal(x.shape[1])
    order = np.argsort(key, kind="stable")
    xs = x[order]
    new = np.ones(n, dtype=bool)
    new[1:] = (xs[1:] != xs[:-1]).any(axis=1)
    group = np.cumsum(new) - 1
    inverse = np.empty(n, dtype=np.int64)
    inverse[order] = group
    return xs[new], inverse


@dataclass(frozen=True)
class Components:
    """A set of (merged) components: means (k, d) centred, their squared norms, the component of each
    original centre, each centre's offset from its component (None where all are zero, as after exact
    merging), log column weights (k, S) (-inf where a column has no weight) and, per component, -ln of its
    smallest positive weight (truncation radius)."""

    comp: torch.Tensor
    comp_sq: torch.Tensor
    member_of: torch.Tensor
    own_offset: torch.Tensor | None
    log_w: torch.Tensor
    log_inv_w: torch.Tensor

    @classmethod
    def build(cls, x: np.ndarray, comp: np.ndarray, member_of: np.ndarray, w: np.ndarray, device) -> Components:
        cw = torch.zeros(comp.shape[0], w.shape[1], dtype=torch.float64)
        cw.index_add_(0, torch.as_tensor(member_of), torch.as_tensor(w))
        smallest = torch.where(cw > 0, cw, torch.inf).min(dim=1).values
        smallest = torch.where(torch.isfinite(smallest), smallest, float(w[w > 0].min()))  # weightless
        t = lambda a: torch.as_tensor(a, device=device)
        offset = x - comp[member_of]
        return cls(t(comp), t((comp**2).sum(1)), t(member_of), t(offset) if offset.any() else None,
                   t(torch.log(cw)), t(-torch.log(smallest)))


def snap(comp: np.ndarray, member_of: np.ndarray, delta: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Merge near-duplicates by snapping to a grid of cells whose points lie within ``delta`` of each other,
    when that removes at least 5% of the components; each cell's components become their mean (within
    ``delta`` of each of them). Returns (components, component of each original centre, displacement bound:
    ``delta``, or 0.0 when nothing was merged)."""
    d = comp.shape[1]
    cell = delta / math.sqrt(d)  # two points of one cell are within delta of each other
    lo = comp.min(axis=0)
    if not np.all((comp.max(axis=0) - lo) / cell < 2**52):
        return comp, member_of, 0.0
    _, cell_of = unique_rows(np.floor((comp - lo) / cell).astype(np.int64))
    counts = np.bincount(cell_of)
    if counts.shape[0] > 0.95 * comp.shape[0]:
        return comp, member_of, 0.0
    merged = torch.zeros(counts.shape[0], d, dtype=torch.float64)
    merged.index_add_(0, torch.as_tensor(cell_of), torch.as_tensor(comp))
    return (merged / torch.as_tensor(counts)[:, None]).numpy(), cell_of[member_of], delta
