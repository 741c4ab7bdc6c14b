"""Clustering diagnostics: the geometric reading of compression (docs/theory.md, section 7).

Goldfeld et al., *Estimating Information Flow in Deep Neural Networks* (ICML 2019) show that I(X;T_l) of a
noisy twin falls when representations of different inputs cluster within a few beta. These functions
measure that clustering directly on a layer's representations ``t`` of the m inputs, each row one input:

* :func:`binned_entropy` -- H(Bin_Delta(T)), the information-plane quantity of Shwartz-Ziv & Tishby (2017);
* :func:`class_distance_ratio`, :func:`silhouette` -- within- versus between-class spread;
* :func:`n_clusters` -- connected components of the epsilon-neighbour graph;
* :func:`cosine_similarity_matrix` -- class-ordered cosine similarities, for plotting.

Every function takes a torch tensor or an array, works in float64, and raises a ValueError that names the
argument on bad input. Entropies are in nats.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree
from scipy.spatial.distance import pdist

from estimators import checks

DEFAULT_DELTAS = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1)
"""Bin sides (Delta) a caller sweeps by default: 1e-4 .. 1e-1 (docs/theory.md, section 7)."""


def _points(t: Any, name: str = "t", min_rows: int = 1) -> np.ndarray:
    return checks.samples(t, name, rank=2, min_rows=min_rows).cpu().numpy()


def _is_scalar(x: Any) -> bool:
    return np.ndim(x) == 0


def _subsample(x: np.ndarray, y: np.ndarray, max_points: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """At most ``max_points`` rows, drawn uniformly without replacement with numpy's default_rng(seed)."""
    max_points = checks.positive_int(max_points, "max_points", minimum=2)
    if x.shape[0] <= max_points:
        return x, y
    idx = np.sort(np.random.default_rng(seed).choice(x.shape[0], size=max_points, replace=False))
    x, y = x[idx], y[idx]
    if np.unique(y).size < 2:
        raise ValueError(f"max_points: got {max_points}, a subsample with a single class; expected a larger "
                         f"max_points (or another seed) so that at least 2 classes are drawn")
    return x, y


def binned_entropy(t: Any, delta: Any, *, low: Any = None) -> float | dict[float, float]:
    """Entropy H(Bin_Delta(T)) of the occupancy histogram of the rows of ``t``, in nats.

    Each coordinate is quantised into cells of side ``delta``: row i goes to the cell
    ``floor((t[i] - low) / delta)`` (an integer vector), and the m rows are the m equally likely inputs, so
    H = -sum_c (n_c/m) ln(n_c/m) over occupied cells c. For a deterministic network this is I(X; Bin(T_l)),
    which lies in [0, ln m] and measures clustering at scale delta (docs/theory.md, sections 1 and 7;
    Shwartz-Ziv & Tishby 2017, whose code bins each neuron by np.digitize on 30 edges on [-1, 1], i.e. 29
    bins; Goldfeld et al. ICML 2019).

    Args:
        t: Tensor or array (m, d), real; the representations of the m inputs.
        delta: a bin side > 0, or a sequence of them (e.g. :data:`DEFAULT_DELTAS`).
        low: the grid origin, a number or shape (d,); default the per-coordinate minimum of ``t`` (so every
            cell index is >= 0). Pass ``low=-1.0`` for cells aligned with the tanh range. With one origin for
            all deltas and deltas in ratio 2^k, the partitions are nested and H is non-increasing in delta.

    Returns:
        float H in [0, ln m] (nats) for a single delta; ``{float(delta): H}`` for a sequence.

    Raises:
        ValueError: ``t`` not 2-D, empty, or with NaN/inf; ``delta`` <= 0 or not finite; ``low`` of the wrong
            shape or not finite; cell indices that would overflow int64 (delta too small for the spread).
        TypeError: non-numeric ``t`` or ``delta``.
    """
    x = _points(t)
    m, d = x.shape
    if low is None:
        origin = x.min(axis=0)
    else:
        origin = np.asarray(low, dtype=np.float64)
        if origin.shape not in ((), (d,)) or not np.isfinite(origin).all():
            raise ValueError(f"low: got {low!r}, expected a finite number or a finite array of shape ({d},)")
    shifted = x - origin
    if _is_scalar(delta):
        deltas, single = [delta], True
    else:
        deltas, single = list(delta), False
        if not deltas:
            raise ValueError("delta: got an empty sequence, expected at least one bin side > 0")
    out: dict[float, float] = {}
    for dl in deltas:
        v = checks.positive(dl, "delta")
        with np.errstate(over="ignore"):  # an overflow to inf is caught just below
            q = np.floor(shifted / v)
        if not np.all(np.abs(q) < 2.0**63):  # also catches inf from overflow in the division
            raise ValueError(f"delta: got {dl!r}, cell indices up to {np.abs(q).max():.3g} overflow int64; "
                             f"expected a larger delta for data spanning {np.ptp(shifted):.3g}")
        _, counts = np.unique(q.astype(np.int64), axis=0, return_counts=True)
        if counts.size == 1:
            h = 0.0
        else:  # ln m - (1/m) sum n_c ln n_c: exactly ln m when every cell holds one row
            c = counts.astype(np.float64)
            h = math.log(m) - float(np.sum(c * np.log(c))) / m
        out[v] = h
    return out[checks.positive(delta, "delta")] if single else out


def class_distance_ratio(t: Any, labels: Any, *, max_points: int = 2000, seed: int = 0) -> float:
    """Mean within-class over mean between-class pairwise Euclidean distance of the rows of ``t``.

    Both means run over unordered pairs {i, j} of distinct inputs (i != j), computed exactly with
    ``scipy.spatial.distance.pdist``. Near 0 when classes form tight, distant clusters; near 1 when labels
    carry no geometric structure (docs/theory.md, section 7; Goldfeld et al. ICML 2019, compression as clustering).

    When m > ``max_points`` the ratio is computed on a uniform random subsample of ``max_points`` rows drawn
    WITHOUT replacement by ``numpy.random.default_rng(seed)``: an estimate, deterministic for a given seed.

    Args:
        t: Tensor or array (m, d), real.
        labels: Tensor or array (m,), integer class labels, at least 2 classes.
        max_points: subsample size above which pairs are subsampled (>= 2).
        seed: seed of the subsample.

    Returns:
        float >= 0 (unitless).

    Raises:
        ValueError: bad ``t`` (rank, NaN/inf, fewer than 2 rows); ``labels`` of the wrong length or with a single
            class; no within-class pair (every class a singleton); every between-class distance 0;
            a subsample holding a single class (names ``max_points``).
    """
    x = _points(t, min_rows=2)
    y = checks.labels(labels, "labels", length=x.shape[0]).numpy()
    x, y = _subsample(x, y, max_points, seed)
    dist = pdist(x)
    same = pdist(y[:, None].astype(np.float64), "cityblock") == 0.0
    if not same.any():
        raise ValueError("labels: got a singleton for every class, expected a class with at least 2 inputs "
                         "(no within-class pair)")
    between = float(dist[~same].mean())
    if between == 0.0:
        raise ValueError("t: got every between-class distance equal to 0, expected distinct representations")
    return float(dist[same].mean()) / between


def silhouette(t: Any, labels: Any, *, max_points: int = 2000, seed: int = 0) -> float:
    """Mean silhouette coefficient of the rows of ``t`` under ``labels`` (Euclidean), in [-1, 1].

    Computed with ``sklearn.metrics.silhouette_score``. Near 1 for tight, well-separated classes, near 0
    for no class structure (docs/theory.md, section 7; Goldfeld et al. ICML 2019). When m > ``max_points``
    it is computed on the same seeded subsample WITHOUT replacement as :func:`class_distance_ratio`
    (numpy ``default_rng(seed)``), so the two diagnostics see the same points; deterministic per seed.

    Args:
        t: Tensor or array (m, d), real.
        labels: Tensor or array (m,), integer class labels; between 2 and m - 1 classes.
        max_points: subsample size above which points are subsampled (>= 2).
        seed: seed of the subsample.

    Returns:
        float in [-1, 1] (unitless).

    Raises:
        ValueError: bad ``t``; ``labels`` of the wrong length, with a single class, or with as many classes as
            points (silhouette undefined); a subsample holding a single class (names ``max_points``).
    """
    from sklearn.metrics import silhouette_score  # lazy: estimators imports only torch, numpy, scipy

    x = _points(t, min_rows=3)
    y = checks.labels(labels, "labels", length=x.shape[0]).numpy()
    x, y = _subsample(x, y, max_points, seed)
    k = np.unique(y).size
    if k > x.shape[0] - 1:
        raise ValueError(f"labels: got {k} classes for {x.shape[0]} points, expected at most {x.shape[0] - 1}")
    return float(silhouette_score(x, y, metric="euclidean"))


def _nonnegative(x: Any, name: str) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name}: got {x!r}, expected a number >= 0") from err
    if not (v >= 0.0 and math.isfinite(v)):
        raise ValueError(f"{name}: got {x!r}, expected a finite number >= 0")
    return v


def n_clusters(t: Any, eps: Any) -> int | dict[float, int]:
    """Number of clusters at scale ``eps``: connected components of the graph on the rows of ``t`` joining
    i and j when ||t_i - t_j|| <= eps (Euclidean).

    Edges from ``scipy.spatial.cKDTree.query_pairs(eps)``, components from
    ``scipy.sparse.csgraph.connected_components`` (docs/theory.md, section 7; Goldfeld et al. ICML 2019).
    Memory grows with the number of pairs within eps (up to m(m-1)/2 at a large eps).

    Args:
        t: Tensor or array (m, d), real.
        eps: a scale >= 0 (0 joins coincident points only), or a sequence of them.

    Returns:
        int in [1, m] for a single eps; ``{float(eps): count}`` for a sequence.

    Raises:
        ValueError: bad ``t``; ``eps`` < 0, NaN or inf, or an empty sequence.
    """
    x = _points(t)
    m = x.shape[0]
    single = _is_scalar(eps)
    scales = [_nonnegative(e, "eps") for e in ([eps] if single else list(eps))]
    if not scales:
        raise ValueError("eps: got an empty sequence, expected at least one scale >= 0")
    tree = cKDTree(x)
    out: dict[float, int] = {}
    for e in scales:
        pairs = tree.query_pairs(e, output_type="ndarray")
        graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(m, m))
        out[e] = int(connected_components(graph, directed=False)[0])
    return out[scales[0]] if single else out


def cosine_similarity_matrix(t: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    """Cosine similarities of the rows of ``t``, rows and columns ordered by class, for plotting.

    ``order = argsort(labels, stable)``; ``matrix[a, b] = cos(t[order[a]], t[order[b]])``, so inputs of a
    class form a contiguous block and keep their original order within it. Class structure shows as
    bright diagonal blocks (docs/theory.md, section 7; Goldfeld et al. ICML 2019, MNIST experiments).

    Args:
        t: Tensor or array (m, d), real, with no zero row.
        labels: Tensor or array (m,), integer class labels (a single class is allowed: nothing to separate).

    Returns:
        (matrix, order): numpy float64 (m, m), entries in [-1, 1] up to rounding, and numpy int64 (m,).

    Raises:
        ValueError: bad ``t``; rows of zero norm in ``t`` (cosine undefined); ``labels`` of the wrong length.
    """
    x = _points(t)
    y = checks.labels(labels, "labels", length=x.shape[0], min_classes=1).numpy()
    norms = np.linalg.norm(x, axis=1)
    zero = int(np.count_nonzero(norms == 0.0))
    if zero:
        raise ValueError(f"t: got {zero} row(s) of zero norm, expected nonzero rows (cosine is undefined)")
    order = np.argsort(y, kind="stable").astype(np.int64)
    u = (x / norms[:, None])[order]
    return u @ u.T, order
