"""Matrix-based Renyi alpha-entropy and mutual information.

Giraldo, Rao & Principe, "Measures of entropy from data using infinitely divisible kernels", IEEE Trans.
Inf. Theory 61(1):535-548, 2015; used for the information plane by Yu et al. and by Wickstrom, Loekse,
Kampffmeyer, Yu, Principe & Jenssen, "Information plane analysis of deep neural networks via matrix-based
Renyi's entropy and tensor kernels" (arXiv 1909.11396, 2019).

For m samples with Gram matrix K (Gaussian kernel K_ij = exp(-||x_i - x_j||^2 / (2 sigma^2))):

    A_ij = K_ij / (m sqrt(K_ii K_jj))                          (trace(A) = 1)
    S_alpha(A) = 1/(1 - alpha) ln sum_i lambda_i(A)^alpha      (alpha -> 1: -sum lambda ln lambda)
    S_alpha(A, B) = S_alpha(A o B / trace(A o B))              (joint entropy, Hadamard product)
    I_alpha(A; B) = S_alpha(A) + S_alpha(B) - S_alpha(A, B)

The papers use log2 (bits); here the **natural log** (nats), like the rest of the package. Note the kernel
convention: exp(-d^2 / (2 sigma^2)); some public code uses exp(-d^2 / sigma^2), i.e. a width sqrt(2) times
smaller for the same number.

Eigenvalues come from scipy.linalg.eigvalsh: O(m^3) time and O(m^2) memory, three decompositions per MI
(about 10 s in all for m = 2000 on the development machine; the cost grows as m^3). Round-off
can make tiny eigenvalues negative; they are clipped to 0 and the clipping is reported in
``diagnostics`` (count, total clipped mass, most negative eigenvalue), never silently. :class:`MatrixRenyi`
is the information-plane estimator in the estimator protocol (:class:`~estimators.protocol.Estimator`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy.linalg import eigvalsh
from scipy.spatial import cKDTree
from scipy.spatial.distance import pdist, squareform

from estimators import checks
from estimators.baselines.discrete import _mi_estimate
from estimators.estimate import Estimate
from estimators.protocol import Estimator, LayerData, MIEstimate

RULES = ("silverman", "median", "wickstrom")
SILVERMAN_FACTOR = 1.06  # gamma = 1.06 * (mean per-coordinate sample std), the 1-D Silverman constant
WICKSTROM_K = 10


def kernel_width(x: Any, rule: str = "silverman", *, gamma: float | None = None, k: int = WICKSTROM_K) -> float:
    """A Gaussian kernel width sigma for the rows of ``x`` (m, d) by a named rule.

    * "silverman": sigma = gamma * m^(-1/(4 + d)) (Silverman's rule of thumb as used by Giraldo et al. and
      Yu et al.). Default gamma = 1.06 * mean_j std_j(x), std with ddof = 1 per coordinate j (in 1-D exactly
      Silverman's 1.06 std m^(-1/5)); the papers treat gamma as a tuned constant: pass ``gamma`` to set it.
    * "median": the median of the m(m-1)/2 pairwise Euclidean distances (the "median heuristic").
    * "wickstrom": the mean over points of the mean Euclidean distance to their ``k`` nearest neighbours
      (default k = 10), the nearest-neighbour scale heuristic named after Wickstrom et al.; k is our choice.
      (Wickstrom et al. also tune hidden-layer widths by kernel alignment with the label kernel, which is
      not implemented here.)

    Args:
        x: Tensor or array (m, d), float, m >= 2.
        rule: one of "silverman", "median", "wickstrom".
        gamma: Silverman scale (> 0), only with rule "silverman".
        k: neighbours for "wickstrom", 1 <= k < m.

    Returns:
        sigma > 0 (float, in the units of x).

    Raises:
        ValueError / TypeError: bad x; unknown rule; gamma <= 0; k out of range; a zero width (all points
        identical, or a zero per-coordinate spread).
    """
    if rule not in RULES:
        raise ValueError(f"rule: got {rule!r}, expected one of {RULES}")
    if gamma is not None and rule != "silverman":
        raise ValueError(f"gamma: got {gamma!r} with rule {rule!r}, expected gamma only with rule 'silverman'")
    xa = checks.samples(x, "x", rank=2, min_rows=2).cpu().numpy()
    m, d = xa.shape
    if rule == "silverman":
        if gamma is None:
            g = SILVERMAN_FACTOR * float(np.mean(np.std(xa, axis=0, ddof=1)))
        else:
            g = checks.positive(gamma, "gamma")
        sigma = g * m ** (-1.0 / (4.0 + d))
    elif rule == "median":
        sigma = float(np.median(pdist(xa, "euclidean")))
    else:
        k = checks.positive_int(k, "k")
        if k >= m:
            raise ValueError(f"k: got {k}, expected k < {m} (the number of rows of x)")
        dist, _ = cKDTree(xa).query(xa, k=k + 1)
        sigma = float(np.mean(dist[:, 1:]))
    if not sigma > 0.0:
        raise ValueError(f"x: rule {rule!r} gives width {sigma!r} (points coincide), expected a positive width")
    return sigma


def _width(x: np.ndarray, sigma: Any, name: str) -> tuple[float, str]:
    if isinstance(sigma, str):
        return kernel_width(x, sigma), sigma
    return checks.positive(sigma, name), "given"


def _normalised_gram(x: np.ndarray, sigma: float) -> np.ndarray:
    """A_ij = K_ij / (m sqrt(K_ii K_jj)), Gaussian K (K_ii = 1, so A = K / m); squared distances by
    direct differences (pdist), float64."""
    k = np.exp(-squareform(pdist(x, "sqeuclidean")) / (2.0 * sigma**2))
    diag = np.sqrt(np.diag(k))
    return k / (x.shape[0] * np.outer(diag, diag))


def _delta_gram(y: np.ndarray) -> np.ndarray:
    """Normalised delta kernel on labels: K_ij = 1 if y_i == y_j else 0 (Gaussian kernel on one-hot codes
    in the limit sigma -> 0), A = K / m."""
    return (y[:, None] == y[None, :]).astype(np.float64) / y.shape[0]


def _entropy(a: np.ndarray, alpha: float) -> tuple[float, dict[str, Any]]:
    """S_alpha of a trace-one PSD matrix (nats) and the eigenvalue-clipping report."""
    lam = eigvalsh(a)
    neg = lam < 0.0
    diag = {
        "n_clipped_eigenvalues": int(neg.sum()),
        "clipped_mass": float(0.0 - lam[neg].sum()),
        "min_eigenvalue": float(lam.min()),
    }
    lam = np.where(neg, 0.0, lam)
    if alpha == 1.0:
        pos = lam[lam > 0.0]
        value = float(-np.sum(pos * np.log(pos)))
    else:
        value = float(math.log(np.sum(lam**alpha)) / (1.0 - alpha))
    return value, diag


def _hadamard_normalised(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    c = a * b
    return c / np.trace(c)


def renyi_entropy(x: Any, sigma: float | str, alpha: float = 1.01) -> Estimate:
    """Matrix-based Renyi alpha-entropy S_alpha(A) of the rows of ``x`` (Giraldo et al. 2015).

    Args:
        x: Tensor or array (m, d), float.
        sigma: Gaussian kernel width > 0, or a rule name for :func:`kernel_width` ("silverman", "median",
            "wickstrom").
        alpha: order > 0; alpha = 1 gives the von Neumann (Shannon) limit -sum lambda ln lambda.

    Returns:
        Estimate (nats), no interval, in [0, ln m]; ``params`` holds sigma, sigma_rule, alpha and the kernel;
        ``diagnostics`` the eigenvalue clipping.

    Raises:
        ValueError / TypeError: bad x; sigma <= 0 or unknown rule; alpha <= 0.
    """
    xa = checks.samples(x, "x", rank=2).cpu().numpy()
    a_ = checks.positive(alpha, "alpha")
    s, rule = _width(xa, sigma, "sigma")
    value, diag = _entropy(_normalised_gram(xa, s), a_)
    return Estimate.point(
        value,
        estimator="matrix_renyi",
        n=xa.shape[0],
        params={"sigma": s, "sigma_rule": rule, "alpha": a_, "kernel": "gaussian exp(-d^2/(2 sigma^2))"},
        diagnostics=diag,
        bound="no interval: matrix-based Renyi entropy (Giraldo et al. 2015), a functional of the Gram matrix",
    )


def _mi(a: np.ndarray, b: np.ndarray, alpha: float, m: int, params: dict[str, Any]) -> Estimate:
    s_a, d_a = _entropy(a, alpha)
    s_b, d_b = _entropy(b, alpha)
    s_ab, d_ab = _entropy(_hadamard_normalised(a, b), alpha)
    return Estimate.point(
        s_a + s_b - s_ab,
        estimator="matrix_renyi_mi",
        n=m,
        params=params,
        diagnostics={"S_x": s_a, "S_y": s_b, "S_joint": s_ab, "clipping_x": d_a, "clipping_y": d_b,
                     "clipping_joint": d_ab},
        bound="no interval: matrix-based Renyi mutual information S(A) + S(B) - S(A o B)",
    )


def renyi_mutual_information(
    x: Any, y: Any, sigma_x: float | str, sigma_y: float | str, alpha: float = 1.01
) -> Estimate:
    """Matrix-based Renyi MI I_alpha(X;Y) = S(A) + S(B) - S(A o B / tr(A o B)) (Giraldo et al. 2015).

    For the information plane: I(X;T) with x the m inputs (X uniform over them) and y the layer's
    representations, both with Gaussian kernels. For I(T;Y) with class labels use :func:`renyi_mi_labels`.
    Note that I(X;X) = 2 S_sigma(X) - S_{sigma/sqrt 2}(X) (the Hadamard square of a Gaussian Gram matrix is
    the Gram matrix of width sigma / sqrt 2), which is at most S(A) and equals it only in the limits of
    well-separated or coincident points.

    Args:
        x: Tensor or array (m, d_x), float.
        y: Tensor or array (m, d_y), float, row i paired with row i of x.
        sigma_x, sigma_y: kernel widths > 0 or rule names (see :func:`kernel_width`).
        alpha: order > 0 (alpha = 1: Shannon limit).

    Returns:
        Estimate (nats), no interval; ``diagnostics`` holds the three entropies and the eigenvalue clipping.

    Raises:
        ValueError / TypeError: bad x or y, mismatched lengths, non-positive widths, unknown rule, alpha <= 0.
    """
    xa = checks.samples(x, "x", rank=2).cpu().numpy()
    ya = checks.samples(y, "y", rank=2).cpu().numpy()
    if ya.shape[0] != xa.shape[0]:
        raise ValueError(f"y: got {ya.shape[0]} rows, expected {xa.shape[0]} (one per row of x)")
    a_ = checks.positive(alpha, "alpha")
    sx, rx = _width(xa, sigma_x, "sigma_x")
    sy, ry = _width(ya, sigma_y, "sigma_y")
    params = {"sigma_x": sx, "sigma_x_rule": rx, "sigma_y": sy, "sigma_y_rule": ry, "alpha": a_,
              "kernel": "gaussian exp(-d^2/(2 sigma^2))"}
    return _mi(_normalised_gram(xa, sx), _normalised_gram(ya, sy), a_, xa.shape[0], params)


def renyi_mi_labels(t: Any, labels: Any, sigma: float | str, alpha: float = 1.01) -> Estimate:
    """Matrix-based Renyi I_alpha(T;Y) for class labels Y (Giraldo et al. 2015; Wickstrom et al. 2019).

    T gets the Gaussian kernel of width ``sigma``; Y the delta kernel K_ij = 1 if y_i == y_j else 0 (the
    Gaussian kernel on one-hot codes as its width goes to 0), so S_alpha(B) is the Renyi entropy of the
    class proportions, and I(Y;Y) = S(B) exactly.

    Args:
        t: Tensor or array (m, d), float.
        labels: (m,) integer labels with at least two classes.
        sigma: kernel width > 0 for t, or a rule name (see :func:`kernel_width`).
        alpha: order > 0.

    Returns:
        Estimate (nats), no interval, as :func:`renyi_mutual_information`.

    Raises:
        ValueError / TypeError: bad t or labels (rank, length, NaN, single class), sigma <= 0, alpha <= 0.
    """
    ta = checks.samples(t, "t", rank=2).cpu().numpy()
    y = checks.labels(labels, "labels", length=ta.shape[0]).numpy()
    a_ = checks.positive(alpha, "alpha")
    s, rule = _width(ta, sigma, "sigma")
    params = {"sigma": s, "sigma_rule": rule, "alpha": a_, "kernel": "gaussian on t, delta on labels"}
    return _mi(_normalised_gram(ta, s), _delta_gram(y), a_, ta.shape[0], params)


def subsample(m: int, size: int, seed: int) -> torch.Tensor:
    """Indices (min(m, size),) int64: all m inputs in order, or the sorted first ``size`` of a permutation
    drawn from a torch.Generator seeded with ``seed`` (the same for every call with the same m and seed)."""
    if m <= size:
        return torch.arange(m)
    return torch.randperm(m, generator=torch.Generator().manual_seed(seed))[:size].sort().values


@dataclass(frozen=True)
class MatrixRenyi(Estimator):
    """Matrix-based Renyi information plane (Giraldo et al. 2015; Wickstrom et al. 2019) in the estimator
    protocol: I(X;T) by :func:`renyi_mutual_information` of the inputs ``layer.x`` and the deterministic
    representation ``layer.deterministic()`` (Gaussian kernels, widths by ``rule`` on each separately);
    I(T;Y) by :func:`renyi_mi_labels` of the representation and ``layer.labels``. On at most
    ``max_inputs`` inputs: a fixed subsample (:func:`subsample` with ``seed``) when m is larger, as the
    eigendecompositions cost O(m^3). ``name``: "renyi".

    Attributes:
        rule: kernel-width rule of :func:`kernel_width` ("silverman", "median", "wickstrom").
        alpha: order > 0. max_inputs: >= 2. seed: seeds the subsample.

    Returns (the call): params add "m" (inputs of the layer), "m_used", "sigma_x" and "sigma_t" (the widths).

    Raises:
        ValueError / TypeError: unknown rule, alpha <= 0, max_inputs < 2 (at construction); ``layer.x`` None,
            zero kernel widths (coincident points), bad labels (at the call).
    """

    rule: str = "silverman"
    alpha: float = 1.01
    max_inputs: int = 1024
    seed: int = 0
    name = "renyi"

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise ValueError(f"rule: got {self.rule!r}, expected one of {RULES}")
        checks.positive(self.alpha, "alpha")
        checks.positive_int(self.max_inputs, "max_inputs", minimum=2)

    def __call__(self, layer: LayerData, *, generator=None) -> MIEstimate:
        x = layer.require("x", self.name)
        idx = subsample(layer.m, self.max_inputs, self.seed)
        xs, ss = x[idx], layer.deterministic()[idx]
        i_xt = renyi_mutual_information(xs, ss, self.rule, self.rule, alpha=self.alpha)
        i_ty = None if layer.labels is None else renyi_mi_labels(ss, layer.labels[idx], self.rule, alpha=self.alpha)
        params = {**self.params(), "m": layer.m, "m_used": int(idx.numel()), "sigma_x": i_xt.params["sigma_x"],
                  "sigma_t": i_xt.params["sigma_y"]}
        return _mi_estimate(self.name, params, i_xt, i_ty)
