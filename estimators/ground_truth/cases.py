"""Ground-truth cases: laws that can draw a sample and know their own answer (the design of bmi's samplers,
Czyz et al., "Beyond Normal: On the Evaluation of Mutual Information Estimators", NeurIPS 2023).

A :class:`Case` draws a :class:`~estimators.protocol.LayerData` (what every estimator of one layer reads)
and knows its truths -- h(T), I(X;T), I(T;Y) in nats, each a :class:`Truth` with its error bound --
computed by closed form or quadrature in this package, never by sampling and independently of the
estimators it checks. The constructors below cover the laws of the validation study and of the estimator
comparison; cases that need a noisy network (sample propagation through ``noisynet.NoisyTwin``) are built
in ``noisynet.network_cases``. :func:`suite` lists the validation cases of this module.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import torch
from scipy.spatial.distance import pdist

from estimators import checks
from estimators.ground_truth.smoothed import (
    discrete_smoothed_entropy,
    gaussian_mixture_smoothed_entropy,
    gaussian_smoothed_entropy,
    mi_one_channel,
    mi_one_channel_labels,
)
from estimators.ground_truth.spiral import spiral_points
from estimators.ground_truth.truth import Truth
from estimators.protocol import LayerData

KINDS = ("layer", "network", "draws")
QUANTITIES = ("h", "I_XT", "I_TY")


@dataclass(frozen=True, eq=False)
class Case:
    """One law with a known answer.

    Attributes:
        name: short description (a table row).
        kind: what a sample is. "layer": X uniform on the m inputs, the layer a deterministic function of X
            (every input's R replicas coincide); "network": X uniform on the m inputs, S random given X (the
            replicas differ, as sample propagation gives them); "draws": the m rows are i.i.d. draws of S
            (X = S, R = 1) and the truths are those of S's law, not of the m draws.
        sampler: (torch.Generator) -> LayerData, a fresh sample.
        truths: () -> {quantity: Truth}, quantities among "h" (h(T), T = S + Z), "I_XT", "I_TY"; computed
            once (:attr:`truth`).
        sp: keyword arguments of the SP estimator the coverage study runs this case with.
        weights: (m,) weights of the atoms of a discrete law (for "h"); None: equal.
        exact_centres: the sample is the law itself (no sampling error): the rigorous Poincare interval
            applies to the truth.
        note: what the case exercises.
    """

    name: str
    kind: str
    sampler: Callable[[torch.Generator], LayerData]
    truths: Callable[[], Mapping[str, Truth]]
    sp: Mapping[str, Any] = field(default_factory=dict)
    weights: np.ndarray | None = None
    exact_centres: bool = False
    note: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind: got {self.kind!r}, expected one of {KINDS}")

    def sample(self, generator: torch.Generator | int | None = None) -> LayerData:
        """A fresh :class:`~estimators.protocol.LayerData` drawn with ``generator`` (Generator, int seed or
        None)."""
        return self.sampler(checks.generator(generator))

    @cached_property
    def truth(self) -> dict[str, Truth]:
        """{quantity: Truth} in nats, computed on first use."""
        out = dict(self.truths())
        unknown = set(out) - set(QUANTITIES)
        if unknown:
            raise ValueError(f"truths: got quantities {sorted(unknown)}, expected some of {QUANTITIES}")
        return out


def index_codes(m: int) -> torch.Tensor:
    """(m, max(1, ceil(log2 m))) float64: the binary code of each input's index (inputs like SZT's 12-bit
    patterns, for the estimators that read X)."""
    n = max(1, math.ceil(math.log2(m)))
    return ((torch.arange(m)[:, None] >> torch.arange(n - 1, -1, -1)) & 1).double()


def _points(points: Any) -> np.ndarray:
    pts = np.asarray(points, dtype=np.float64)
    return pts.reshape(len(pts), -1)


# ------------------------------------------------------------------------------- h(S + Z) of a law of S


def gaussian_case(d: int, s: float, beta: float, n: int, *, quantity: str = "h", name: str | None = None,
                  sp: Mapping[str, Any] | None = None) -> Case:
    """S ~ N(0, s^2 I_d) (s its std, beta the noise std), n i.i.d. draws (kind "draws": samples (n, 1, d)
    float64); truth in nats h(S + Z) = (d/2) ln(2 pi e (s^2 + beta^2)) (``quantity`` "h") or
    I(S; S + Z) = (d/2) ln(1 + s^2 / beta^2) ("I_XT"), closed forms (Cover & Thomas, Theorem 8.4.1).

    Raises:
        ValueError: ``quantity`` not "h" or "I_XT".
    """
    if quantity not in ("h", "I_XT"):
        raise ValueError(f"quantity: got {quantity!r}, expected 'h' or 'I_XT'")

    def sampler(g):
        x = s * torch.randn(n, d, generator=g, dtype=torch.float64)
        return LayerData(x[:, None, :], beta, x=x, s=x)

    def truths():
        if quantity == "h":
            return {"h": gaussian_smoothed_entropy(d, s, beta)}
        return {"I_XT": Truth(0.5 * d * math.log1p((s / beta) ** 2), 0.0,
                              f"closed form (d/2) ln(1 + s^2 / beta^2), s / beta = {s / beta:g}")}

    return Case(name or f"Gaussian S, d={d}, s={s:g}, beta={beta:g}, n={n}", "draws", sampler, truths,
                sp={"n_mc": 4} if sp is None else sp, note="i.i.d. samples; sampling error and plug-in bias")


def atoms_case(points: Any, beta: float, label: str, weights: Any = None) -> Case:
    """h(S + Z) of the discrete law on ``points`` (k, d) with ``weights`` (default equal); the sample is the
    law itself (kind "layer", exact centres): Monte Carlo error only. Truth by quadrature."""
    pts = _points(points)
    w = None if weights is None else np.asarray(weights, dtype=np.float64)

    def sampler(g):
        t = torch.as_tensor(pts)
        return LayerData(t[:, None, :], beta, s=t)

    return Case(f"{label}, beta={beta:g} (exact atoms)", "layer", sampler,
                lambda: {"h": discrete_smoothed_entropy(pts, beta, w)}, sp={"n_mc": 16}, weights=w,
                exact_centres=True, note="the law is the centres: Monte Carlo error only")


def sampled_atoms_case(points: Any, beta: float, n: int, label: str) -> Case:
    """h(S + Z) for S uniform on ``points`` (k, d), from n i.i.d. draws (kind "draws": repeated atoms)."""
    pts = torch.as_tensor(_points(points))

    def sampler(g):
        x = pts[torch.randint(0, pts.shape[0], (n,), generator=g)]
        return LayerData(x[:, None, :], beta, x=x, s=x)

    return Case(f"{label}, beta={beta:g}, n={n} draws", "draws", sampler,
                lambda: {"h": discrete_smoothed_entropy(pts.numpy(), beta)}, sp={"n_mc": 4},
                note="i.i.d. draws of a discrete law: repeated atoms")


def mixture_case(means: Any, std: float, beta: float, n: int) -> Case:
    """h(S + Z) for S an equal-weight mixture of N(mean_k, std^2 I), n i.i.d. draws (kind "draws"); truth by
    quadrature."""
    mu = torch.as_tensor(_points(means))
    k, d = mu.shape

    def sampler(g):
        comp = torch.randint(0, k, (n,), generator=g)
        x = mu[comp] + std * torch.randn(n, d, generator=g, dtype=torch.float64)
        return LayerData(x[:, None, :], beta, x=x, s=x)

    return Case(f"{k}-component Gaussian mixture in {d}-D, std={std:g}, beta={beta:g}, n={n}", "draws", sampler,
                lambda: {"h": gaussian_mixture_smoothed_entropy(mu.numpy(), np.full(k, std), np.full(k, 1.0 / k),
                                                                beta)},
                sp={"n_mc": 4}, note="continuous multimodal law, i.i.d. samples")


# ------------------------------------------------------------------------------- I(X;T), I(T;Y) of a channel


def separated_truth(points: Any, beta: float) -> Truth:
    """ln m for m points whose pairwise distances D_ij are all >> beta, in any dimension. The overlap
    correction is at most sum over pairs of the Bhattacharyya coefficient exp(-D_ij^2 / (8 beta^2))
    (the entropy defect of a mixture of equal-weight components: Kolchinsky & Tracey 2017, eq. 10)."""
    pts = _points(points)
    m = len(pts)
    err = float(np.exp(-pdist(pts) ** 2 / (8 * beta**2)).sum()) * 2.0 / m
    return Truth(math.log(m), err, "ln m, separated points; overlap bounded by the Bhattacharyya coefficients")


def channel_case(points: Any, beta: float, label: str, *, labels: Any = None, replicas: int = 4,
                 truth_xt: Callable[[], Truth] | None = None, sp: Mapping[str, Any] | None = None,
                 name: str | None = None) -> Case:
    """X uniform on the m ``points`` (m, d), T = x + Z (kind "layer": R identical replicas per input, so the
    conditional terms are closed-form); inputs X given as the binary codes of their index
    (:func:`index_codes`). Truths: I(X;T) by :func:`mi_one_channel` (or ``truth_xt``), and with ``labels``
    (m,) I(T;Y) by :func:`mi_one_channel_labels`.

    Examples:
        >>> import numpy as np
        >>> from estimators import SP
        >>> case = channel_case(np.repeat([[-1.0], [1.0]], 8, axis=0), 0.1, "two clusters", labels=[0] * 8 + [1] * 8)
        >>> layer = case.sample(0)  # a LayerData: samples (16, 4, 1), beta 0.1, labels, x, s
        >>> round(case.truth["I_XT"].value, 4), round(case.truth["I_TY"].value, 4)  # ln 2: two separated clusters
        (0.6931, 0.6931)
        >>> r = SP()(layer, generator=0)
        >>> r.i_xt.ci_low <= case.truth["I_XT"].value <= r.i_xt.ci_high
        True
    """
    pts = _points(points)
    m = len(pts)
    y = None if labels is None else torch.as_tensor(np.asarray(labels))

    def sampler(g):
        s = torch.as_tensor(pts)
        return LayerData(s[:, None, :].expand(-1, replicas, -1).clone(), beta, labels=y, x=index_codes(m), s=s)

    def truths():
        out = {"I_XT": truth_xt() if truth_xt is not None else mi_one_channel(pts, beta)}
        if labels is not None:
            out["I_TY"] = mi_one_channel_labels(pts, np.asarray(labels), beta)
        return out

    return Case(name or f"{label}, m={m}, beta={beta:g}", "layer", sampler, truths,
                sp={"n_query": 4, "n_mc": 8} if sp is None else sp, exact_centres=True,
                note="one noisy channel; Monte Carlo error only")


def gaussian_channel_case(m: int, d: int, sigma: float, beta: float, replicas: int, spacing: float) -> Case:
    """X uniform on m points on a line (spacing in units of beta), S | X = x ~ N(x, sigma^2 I) (kind
    "network": the conditional law is continuous, so the replicas are sampled). h(T | X) is closed-form and
    h(T) a Gaussian-mixture entropy (quadrature)."""
    centres = np.zeros((m, d))
    centres[:, 0] = spacing * beta * np.arange(m)
    c = torch.as_tensor(centres)

    def sampler(g):
        s = c[:, None, :] + sigma * torch.randn(m, replicas, d, generator=g, dtype=torch.float64)
        return LayerData(s, beta, x=index_codes(m), s=c)

    def truths():
        s_t = math.sqrt(sigma**2 + beta**2)
        h_t = gaussian_mixture_smoothed_entropy(centres, np.full(m, sigma), np.full(m, 1.0 / m), beta)
        return {"I_XT": Truth(h_t.value - 0.5 * d * math.log(2 * math.pi * math.e * s_t**2), h_t.abs_error,
                              h_t.method)}

    return Case(f"Gaussian channel, m={m}, d={d}, sigma={sigma / beta:g} beta, spacing {spacing:g} beta, "
                f"R={replicas}", "network", sampler, truths, sp={"n_mc": 2},
                note="continuous conditional laws: replicas sampled, plug-in biases")


# ------------------------------------------------------------------------------- the validation suite


def suite(size: str = "full") -> list[Case]:
    """The validation cases of this module (the network cases are in ``noisynet.network_cases``).

    Args:
        size: "full" (the report) or "quick" (a handful, for the test suite).

    Raises:
        ValueError: another size.
    """
    if size not in ("full", "quick"):
        raise ValueError(f"size: got {size!r}, expected 'full' or 'quick'")
    rng = np.random.default_rng(0)
    line16 = np.linspace(-1, 1, 16)[:, None]
    spiral64, spiral_labels = spiral_points(64, turns=1.5)
    quick = [
        gaussian_case(3, 1.0, 0.5, 1000),
        atoms_case(line16, 0.05, "16 points on [-1, 1]"),
        channel_case(np.array([[0.0], [0.1], [0.25], [0.3], [0.7]]), 0.1, "1-D crossover constellation"),
    ]
    if size == "quick":
        return quick
    sep = rng.uniform(-1, 1, (64, 3))
    return quick + [
        gaussian_case(1, 1.0, 0.5, 1000),
        gaussian_case(2, 1.0, 0.1, 2000),
        gaussian_case(5, 0.3, 0.3, 2000),
        gaussian_case(10, 1.0, 0.5, 1000),
        atoms_case(rng.uniform(-1, 1, (256, 1)), 1e-3, "256 random points on [-1, 1]"),
        atoms_case(np.arange(8.0)[:, None] * 0.1, 0.1, "8 points, unequal weights", weights=np.arange(1.0, 9.0)),
        atoms_case(line16, 1.0, "16 points on [-1, 1]"),
        atoms_case(spiral64, 0.05, "64-point spiral (2-D)"),
        sampled_atoms_case(line16, 0.05, 400, "16 points on [-1, 1]"),
        mixture_case(np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]), 0.2, 0.1, 2000),
        channel_case(sep, 0.01, "well separated, 3-D", truth_xt=lambda: separated_truth(sep, 0.01)),
        channel_case(np.zeros((32, 2)), 0.1, "coincident"),
        channel_case(np.repeat(np.arange(3.0), [10, 5, 1])[:, None].repeat(2, 1), 0.01, "3 merged groups (10, 5, 1)"),
        channel_case(spiral64, 0.05, "64-point spiral (2-D)", labels=spiral_labels),
        gaussian_channel_case(16, 1, 1.0 * 0.1, 0.1, 32, 2.0),
        gaussian_channel_case(16, 2, 2.0 * 0.1, 0.1, 32, 2.0),
    ]
