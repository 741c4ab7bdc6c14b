"""Representation similarity between two networks' layers on the same inputs.

* :func:`linear_cka` -- linear centred kernel alignment (Kornblith, Norouzi, Lee & Hinton, *Similarity of
  Neural Network Representations Revisited*, ICML 2019, eqs. 2-4 and section 3 "linear CKA");
* :func:`hsic` -- the (biased) Hilbert-Schmidt independence criterion of two Gram matrices (Gretton et al.
  2005), the building block of CKA;
* :func:`matched_cosine` -- mean cosine similarity of the two representations of the same input.

Cosine-similarity matrices within one representation are :func:`estimators.clustering.cosine_similarity_matrix`.
Rows are inputs (the same m inputs, in the same order, in both arguments). Everything is computed in float64
and is unitless; bad input raises a ValueError (or TypeError) that names the argument.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from estimators import checks


def _pair(x: Any, y: Any, min_rows: int) -> tuple[torch.Tensor, torch.Tensor]:
    a = checks.samples(x, "x", rank=2, min_rows=min_rows)
    b = checks.samples(y, "y", rank=2, min_rows=min_rows)
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"y: got {b.shape[0]} rows for the {a.shape[0]} rows of x, expected the same inputs "
                         "(one row each) in both")
    return a, b.to(a.device)


def hsic(k: Any, l: Any) -> float:
    """Biased empirical HSIC of two Gram matrices: tr(K H L H) / (m - 1)^2, H = I - 11^T / m.

    Gretton, Bousquet, Smola & Schoelkopf, ALT 2005; Kornblith et al., ICML 2019, eq. 3.

    Args:
        k, l: Tensors or arrays (m, m), symmetric Gram matrices of the same m inputs (m >= 2).

    Returns:
        float (>= 0 for positive semi-definite K and L).

    Raises:
        ValueError: not square, different sizes, m < 2, NaN/inf (names ``k`` or ``l``).
    """
    a = checks.samples(k, "k", rank=2, min_rows=2)
    b = checks.samples(l, "l", rank=2, min_rows=2)
    m = a.shape[0]
    if a.shape != (m, m):
        raise ValueError(f"k: got shape {tuple(a.shape)}, expected a square (m, m) Gram matrix")
    if b.shape != (m, m):
        raise ValueError(f"l: got shape {tuple(b.shape)}, expected ({m}, {m}) like k")
    kc = a - a.mean(0, keepdim=True) - a.mean(1, keepdim=True) + a.mean()  # H K H
    lc = b - b.mean(0, keepdim=True) - b.mean(1, keepdim=True) + b.mean()
    return float((kc * lc.T).sum()) / (m - 1) ** 2


def linear_cka(x: Any, y: Any) -> float:
    """Linear CKA of two representations of the same m inputs (Kornblith et al., ICML 2019, eq. 4/5):

        CKA(X, Y) = ||Y_c^T X_c||_F^2 / (||X_c^T X_c||_F ||Y_c^T Y_c||_F)
                  = HSIC(X X^T, Y Y^T) / sqrt(HSIC(X X^T, X X^T) HSIC(Y Y^T, Y Y^T)),

    with X_c, Y_c the column-centred matrices. In [0, 1]; 1 when Y = a X Q + 1 b^T for an orthogonal Q and a
    scalar a != 0 (invariant to orthogonal transforms, isotropic scaling and translations, not to arbitrary
    invertible linear maps); for independent representations it is small (about sqrt(p q) / m for
    independent standard Gaussian columns). Computed in feature space when p, q < m, else with Gram matrices.

    Args:
        x: Tensor or array (m, p), real: one layer's representations of m inputs (row i: input i).
        y: Tensor or array (m, q), real: another layer's (or network's) representations of the same inputs.

    Returns:
        float in [0, 1] (unitless; rounding may leave it a few ulps outside).

    Raises:
        ValueError: wrong rank, NaN/inf, fewer than 2 rows, different numbers of rows (names ``y``), or a
            representation that is constant across the inputs (CKA undefined; names ``x`` or ``y``).
    """
    a, b = _pair(x, y, min_rows=2)
    a, b = a - a.mean(0, keepdim=True), b - b.mean(0, keepdim=True)
    m, p, q = a.shape[0], a.shape[1], b.shape[1]
    if max(p, q) <= m:
        cross = float((b.T @ a).square().sum())
        nx, ny = float(torch.linalg.matrix_norm(a.T @ a)), float(torch.linalg.matrix_norm(b.T @ b))
    else:
        ka, kb = a @ a.T, b @ b.T  # already centred: H K H = X_c X_c^T
        cross = float((ka * kb).sum())
        nx, ny = float(torch.linalg.matrix_norm(ka)), float(torch.linalg.matrix_norm(kb))
    for name, norm in (("x", nx), ("y", ny)):
        if norm == 0.0:
            raise ValueError(f"{name}: got a representation that is the same for every input, expected some "
                             "variation across the rows (CKA is 0/0)")
    return cross / (nx * ny)


def matched_cosine(x: Any, y: Any, *, skip_zero_rows: bool = False) -> float:
    """Mean over inputs i of cos(x_i, y_i): how closely two representations of the same width agree input by
    input, neuron for neuron (not invariant to permutations or rotations of the neurons, unlike CKA).

    Args:
        x, y: Tensors or arrays (m, d), real, the same inputs in the same order.
        skip_zero_rows: average only over inputs where both rows are nonzero (e.g. ReLU layers where every
            unit is off for some input); the caller should report how many were left out
            (:func:`zero_rows`). Default False: a zero row raises.

    Returns:
        float in [-1, 1] (unitless).

    Raises:
        ValueError: bad shapes (``y`` of another shape than ``x``), NaN/inf, a zero row (cosine undefined)
            without ``skip_zero_rows``, or no usable row with it.
    """
    a, b = _pair(x, y, min_rows=1)
    if a.shape != b.shape:
        raise ValueError(f"y: got shape {tuple(b.shape)}, expected {tuple(a.shape)} like x (matched neurons)")
    na, nb = torch.linalg.vector_norm(a, dim=1), torch.linalg.vector_norm(b, dim=1)
    ok = (na > 0) & (nb > 0)
    if not skip_zero_rows and not bool(ok.all()):
        raise ValueError(f"x, y: got {int((~ok).sum())} input(s) with a zero row, expected nonzero rows "
                         "(cosine undefined); pass skip_zero_rows=True to leave them out")
    if not bool(ok.any()):
        raise ValueError("x, y: every input has a zero row in x or y, expected at least one usable input")
    cos = (a[ok] * b[ok]).sum(1) / (na[ok] * nb[ok])
    return float(cos.mean())


def zero_rows(x: Any) -> int:
    """Number of all-zero rows of ``x`` (Tensor or array (m, d)): inputs a cosine cannot be taken for."""
    a = checks.samples(x, "x", rank=2)
    return int(np.count_nonzero((a == 0).all(1).cpu().numpy()))
