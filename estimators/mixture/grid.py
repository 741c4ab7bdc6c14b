"""A grid of cubic cells on the leading principal axes of the components, for finding, for a box of
queries, every component within a distance of it as a few contiguous ranges of the sorted components.

Components are projected on their (at most 3) leading principal axes, an orthonormal projection: the
distance between projections never exceeds the distance between the points, so a component whose
projection lies farther than r from a query box's projection lies farther than r from every query in it.
Cells of side h are ordered lexicographically, so that a row of cells (all axes fixed but the last) holds a
contiguous range of the sorted components; the rows within reach of a box, trimmed along the last axis to
the ball, are found by binary search in the sorted cell keys."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

AXES = 3  # projected dimensions: rows per box grow as (reach / side)^(AXES - 1)


class PrincipalGrid:
    """Components (k, d) float64 (centred) sorted into cells of side ``side`` on their leading principal
    axes. Attributes: ``perm`` (k,) int64, the sorted order (component perm[i] is at position i);
    ``keys`` (k,) int64, the sorted cell keys; ``rows_of_sorted`` (k,) int64, their rows."""

    def __init__(self, comp: torch.Tensor, side: float) -> None:
        k, d = comp.shape
        self.g = min(d, AXES)
        if self.g < d:
            _, vecs = torch.linalg.eigh(comp.T @ comp)  # ascending eigenvalues
            self.axes = vecs[:, -self.g :].flip(1).contiguous()
        else:
            self.axes = None
        y = self.project(comp).cpu().numpy()
        self.lo = y.min(axis=0)
        extent = float((y.max(axis=0) - self.lo).max())
        # int64 keys need prod(spans) < 2^62: a coarser grid is still exact, only less selective
        self.side = max(side, extent / 2 ** (62 // self.g - 1))
        cells = np.floor((y - self.lo) / self.side).astype(np.int64)
        self.span = cells.max(axis=0) + 1
        self.perm = np.argsort(self.key(cells), kind="stable")
        self.keys = self.key(cells[self.perm])
        self.rows_of_sorted = self.keys // self.span[-1]  # the row (all axes but the last) of each position

    def project(self, x: torch.Tensor) -> torch.Tensor:
        """(n, d) -> (n, g) coordinates on the leading principal axes."""
        return x @ self.axes.to(x.device) if self.axes is not None else x

    def cells(self, y: np.ndarray) -> np.ndarray:
        """Cell indices (n, g) of projected points, clipped to the grid."""
        return np.clip(np.floor((y - self.lo) / self.side).astype(np.int64), 0, self.span - 1)

    def key(self, cells: np.ndarray) -> np.ndarray:
        """Lexicographic keys of cell indices (n, g), last axis fastest."""
        key = np.zeros(cells.shape[0], dtype=np.int64)
        for j in range(self.g):
            key = key * self.span[j] + cells[:, j]
        return key

    def ranges(self, lo: np.ndarray, hi: np.ndarray, reach: np.ndarray) -> tuple[np.ndarray, ...]:
        """Component ranges within ``reach`` of projected boxes [lo, hi].

        Args: lo, hi: (b, g) box corners (projected); reach: (b,) distances.

        Returns:
            (box, start, end) int64 arrays, sorted by box then start: positions start..end-1 of the sorted
            components; together they hold every component whose projection is within reach of the box
            (and some a little farther: whole cells along the first axes)."""
        g, h = self.g, self.side
        first = np.clip(np.floor((lo - reach[:, None] - self.lo) / h).astype(np.int64), 0, self.span - 1)
        last = np.clip(np.floor((hi + reach[:, None] - self.lo) / h).astype(np.int64), 0, self.span - 1)
        n_rows = np.prod(last[:, : g - 1] - first[:, : g - 1] + 1, axis=1)
        box = np.repeat(np.arange(lo.shape[0]), n_rows)
        within = np.arange(box.size) - np.repeat(np.cumsum(n_rows) - n_rows, n_rows)
        lateral = np.zeros(box.size)
        key = np.zeros(box.size, dtype=np.int64)
        cell = np.empty((box.size, g - 1), dtype=np.int64)
        for j in range(g - 2, -1, -1):  # row index -> cell per lateral axis (last lateral axis fastest)
            n_j = last[box, j] - first[box, j] + 1
            cell[:, j] = first[box, j] + within % n_j
            within //= n_j
        for j in range(g - 1):
            c0 = self.lo[j] + cell[:, j] * h
            gap = np.maximum(np.maximum(c0 - hi[box, j], lo[box, j] - (c0 + h)), 0.0)
            lateral += gap * gap
            key = (key + cell[:, j]) * self.span[j + 1]
        keep = lateral <= reach[box] ** 2
        box, key, lateral = box[keep], key[keep], lateral[keep]
        half = np.sqrt(reach[box] ** 2 - lateral)  # the ball's half-length along the last axis
        a = np.floor((lo[box, g - 1] - half - self.lo[g - 1]) / h).astype(np.int64)
        b = np.floor((hi[box, g - 1] + half - self.lo[g - 1]) / h).astype(np.int64)
        start = np.searchsorted(self.keys, key + np.maximum(a, 0), side="left")
        end = np.searchsorted(self.keys, key + np.minimum(b, self.span[g - 1] - 1), side="right")
        keep = end > start
        return box[keep], start[keep], end[keep]


def side_for(d: int, beta: float, log_inv_w: float, tol_trunc: float) -> float:
    """Cell side: 1.5 times the truncation distance of a typical query (offset sqrt(d) beta, see
    :mod:`estimators.mixture.clustered`), so that a group's ball reaches at most one cell beyond its own
    per axis (at most 3^(g-1) rows per group). Finer cells select fewer candidates where the projection
    separates the components, but cut clusters into more rows, chunks and blocks, each with a fixed cost;
    measured over the clustered benchmark (d = 3, 4, 10; spreads 0.1 to 10 beta), 1 to 1.5 was fastest
    everywhere and 0.5 up to 2 times slower (benchmarks/README.md, "Path choice")."""
    return 1.5 * math.sqrt(d * beta**2 + 2.0 * beta**2 * (log_inv_w + math.log(1.0 / tol_trunc)))


CHUNK = 512  # sorted components per chunk (a block's width)


def chunks(start: np.ndarray, end: np.ndarray, row: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cut the sorted positions at the ranges' end points into pieces of at most CHUNK / 2, then join
    consecutive pieces that start in one window of CHUNK / 2 positions unless the grid rows jump between
    them (``row``: the row of every position; rows next to each other, one cell apart on the second-last
    axis, join): chunks of at most CHUNK that stay spatially compact. Returns the chunks' (start, end),
    covering every range."""
    cut = np.union1d(start, end)
    lengths = np.diff(cut)
    n_split = np.maximum(1, -(-lengths // (CHUNK // 2)))
    first = np.repeat(cut[:-1], n_split) + (CHUNK // 2) * (
        np.arange(n_split.sum()) - np.repeat(np.cumsum(n_split) - n_split, n_split))
    piece_end = np.minimum(np.r_[first[1:], cut[-1]], np.repeat(cut[1:], n_split))
    window = first // (CHUNK // 2)
    jump = row[first[1:]] - row[piece_end[:-1] - 1] > 1
    head = np.r_[True, (window[1:] != window[:-1]) | jump]
    return first[head], np.maximum.reduceat(piece_end, np.flatnonzero(head))


@dataclass(frozen=True)
class Plan:
    """Points (queries or owners) grouped by grid cell, and for each chunk of the sorted components the
    points of every group that needs it. ``order``: the points in group order; groups are
    order[first[i] : first[i] + size[i]]; ``reach`` (per group): every component within it of a point of
    the group is in the group's chunks; chunk j is positions c_start[j]:c_end[j] and is needed by the points
    (in group order) ``rows[row_start[j]:row_start[j + 1]]``; ``incidence`` (chunk, group) pairs."""

    order: np.ndarray
    first: np.ndarray
    size: np.ndarray
    reach: np.ndarray
    c_start: np.ndarray
    c_end: np.ndarray
    chunk: np.ndarray
    group: np.ndarray
    rows: np.ndarray
    row_start: np.ndarray


def plan(grid: PrincipalGrid, y: np.ndarray, reach: np.ndarray) -> Plan:
    """Group points with projections ``y`` (n, g) by grid cell and find, for distances ``reach`` (n,), the
    chunks of components each group needs (every component within reach of one of its points)."""
    key = grid.key(grid.cells(y))
    order = np.argsort(key, kind="stable")
    key = key[order]
    first = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    size = np.diff(np.r_[first, order.size])
    y_s = np.take(y, order, axis=0)  # (4x faster than y[order] here)
    g_reach = np.maximum.reduceat(reach[order], first)
    box, r_start, r_end = grid.ranges(np.minimum.reduceat(y_s, first, axis=0),
                                      np.maximum.reduceat(y_s, first, axis=0), g_reach)
    c_start, c_end = chunks(r_start, r_end, grid.rows_of_sorted)
    lo = np.searchsorted(c_end, r_start, side="right")
    n_ch = np.searchsorted(c_start, r_end, side="left") - lo
    chunk = np.repeat(lo, n_ch) + np.arange(n_ch.sum()) - np.repeat(np.cumsum(n_ch) - n_ch, n_ch)
    pair = np.unique(chunk * first.size + np.repeat(box, n_ch))  # (chunk, group), sorted by chunk
    chunk, group = pair // first.size, pair % first.size
    n_rows = size[group]
    rows = np.repeat(first[group] - np.cumsum(n_rows) + n_rows, n_rows) + np.arange(n_rows.sum())
    row_start = np.r_[0, np.cumsum(np.bincount(chunk, weights=n_rows, minlength=c_start.size))].astype(np.int64)
    return Plan(order, first, size, g_reach, c_start, c_end, chunk, group, rows, row_start)
