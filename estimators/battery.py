"""The estimator battery: every estimator of I(X;T) and I(T;Y) run on one layer, failures reported.

:func:`default_estimators` lists the configured estimators of the information-plane literature next to the
sample-propagation estimator (:class:`estimators.SP`): fixed binning in two conventions and on a fixed
width, adaptive binning, the KDE bounds with the layer's beta and with adaptive noise, KSG, the kNN estimator
with X as a label, matrix-based Renyi and the exact MI of the quantized layer. :func:`run_battery` runs a list
of estimators on one :class:`~estimators.protocol.LayerData` and returns one
:class:`~estimators.protocol.MIEstimate` per estimator, in nats.
"""

from __future__ import annotations

import dataclasses
import time
import zlib
from collections.abc import Sequence

import torch

from estimators import checks
from estimators.baselines import (
    KSG,
    AdaptiveBinning,
    AdaptiveNoiseKDE,
    DiscreteExact,
    FixedBinning,
    KDEBound,
    MatrixRenyi,
    RossKNN,
)
from estimators.estimate import Estimate
from estimators.protocol import Estimator, LayerData, MIEstimate
from estimators.sp_mi import SP

FAILED = "failed: "
BIN_WIDTH = 2.0 / 30.0
"""Default side of the fixed-width grid: the width of 30 equal bins on [-1, 1]."""


def default_estimators(
    *,
    sp: Estimator | None = SP(),
    bin_range: tuple[float, float] = (-1.0, 1.0),
    n_bins: int = 30,
    bin_width: float = BIN_WIDTH,
    kde_mode: str = "saxe",
    kde_rel_noise: float = 0.1,
    k: int = 3,
    renyi_rule: str = "silverman",
    renyi_alpha: float = 1.01,
    renyi_max_inputs: int = 1024,
    seed: int = 0,
    bits: Sequence[int] = (4, 8),
) -> tuple[Estimator, ...]:
    """The estimators of the battery, configured, in display order.

    * ``sp`` (:class:`estimators.SP`, or None to leave it out);
    * "binning_range": :class:`FixedBinning`, ``n_bins`` equal bins on ``bin_range`` (Shwartz-Ziv & Tishby
      2017's scheme, convention "equal"); "binning_szt": :meth:`FixedBinning.szt` on ``bin_range`` (their
      code: ``np.digitize`` on 30 edges, 29 bins); "binning_width": bin side ``bin_width``, origin 0
      (2/30: the width of 30 bins on [-1, 1]); "binning_adaptive": :class:`AdaptiveBinning`, ``n_bins``
      equal-mass bins per neuron (Chelombiev et al. 2019);
    * "kde_upper" / "kde_lower": :class:`KDEBound` with the layer's beta (Kolchinsky & Tracey 2017; Saxe et
      al. 2018), ``kde_mode``; "kde_adaptive_upper" / "kde_adaptive_lower": :class:`AdaptiveNoiseKDE`, noise
      std ``kde_rel_noise`` x the layer's range (Chelombiev et al. 2019);
    * "ksg": :class:`KSG` (one noise draw per input) and "ksg_ross": :class:`RossKNN` (X as a label, R draws
      per input), ``k`` neighbours (Kraskov et al. 2004; Ross 2014);
    * "renyi": :class:`MatrixRenyi`, widths by ``renyi_rule``, order ``renyi_alpha``, at most
      ``renyi_max_inputs`` inputs (a subsample seeded with ``seed``) (Giraldo et al. 2015);
    * "quantized_b<b>" for b in ``bits``: :class:`DiscreteExact`, the layer quantized to 2^b levels on
      ``bin_range`` (Lorenzen et al. 2022).

    Returns:
        tuple of :class:`~estimators.protocol.Estimator`.

    Raises:
        ValueError / TypeError: a hyperparameter out of range (names it), as each estimator's constructor.
    """
    lo, hi = bin_range
    out = [] if sp is None else [sp]
    out += [
        FixedBinning(n_bins=n_bins, low=lo, high=hi),
        FixedBinning.szt(low=lo, high=hi),
        FixedBinning(bin_width=bin_width),
        AdaptiveBinning(n_bins=n_bins),
        KDEBound(bound="upper", mode=kde_mode),
        KDEBound(bound="lower", mode=kde_mode),
        AdaptiveNoiseKDE(bound="upper", rel_noise=kde_rel_noise, mode=kde_mode),
        AdaptiveNoiseKDE(bound="lower", rel_noise=kde_rel_noise, mode=kde_mode),
        KSG(k=k),
        RossKNN(k=k),
        MatrixRenyi(rule=renyi_rule, alpha=renyi_alpha, max_inputs=renyi_max_inputs, seed=seed),
    ]
    out += [DiscreteExact(bits=b, low=lo, high=hi) for b in bits]
    return tuple(out)


def _seed(base: int, name: str) -> int:
    """The estimator's own seed: the battery's draw combined with its name (not with its position)."""
    return (base + zlib.crc32(name.encode())) % 2**63


def _timed(e: Estimate | None, seconds: float) -> Estimate | None:
    return None if e is None else dataclasses.replace(e, diagnostics={**e.diagnostics, "seconds": seconds})


def run_battery(layer: LayerData, estimators: Sequence[Estimator] | None = None, *,
                generator: torch.Generator | int | None = None) -> list[MIEstimate]:
    """Run every estimator on one layer.

    Args:
        layer: the :class:`~estimators.protocol.LayerData` (samples (m, R, d), beta, labels, x, s): each
            estimator reads what it needs.
        estimators: the estimators, with distinct names; default :func:`default_estimators` ().
        generator: torch.Generator or int seed (None: fresh). Each estimator draws from its own generator,
            seeded from one draw of this one and the estimator's name, so an estimator's result does not
            depend on which others run or in what order.

    Returns:
        One :class:`~estimators.protocol.MIEstimate` per estimator, in order, in nats; the wall time of each
        call is in the diagnostics of its Estimates (``diagnostics["seconds"]``). A ValueError inside an
        estimator (a dead layer with zero range, duplicate samples for kNN, something the layer lacks) is
        reported, not hidden: that estimator's MIEstimate has both quantities None, reasons "failed:
        <message>" and its hyperparameters in ``params``. Any other exception propagates.

    Raises:
        ValueError: two estimators with the same name. TypeError: layer not a LayerData.

    Examples:
        >>> import torch
        >>> from estimators import LayerData, run_battery
        >>> from estimators.baselines import FixedBinning, KDEBound
        >>> s = torch.tensor([[-0.5], [-0.5], [0.5], [0.5]], dtype=torch.float64)  # 4 inputs, 2 clusters
        >>> layer = LayerData(s[:, None, :].expand(4, 2, 1), beta=0.01, labels=torch.tensor([0, 0, 1, 1]))
        >>> for r in run_battery(layer, [FixedBinning(), FixedBinning.szt(), KDEBound(bound="upper")], generator=0):
        ...     print(r.estimator, f"{r.i_xt.value:.4f} {r.i_ty.value:.4f}", r.unit)
        binning_range 0.6931 0.6931 nat
        binning_szt 0.6931 0.6931 nat
        kde_upper 0.6931 0.6931 nat
    """
    if not isinstance(layer, LayerData):
        raise TypeError(f"layer: got {type(layer).__name__}, expected a LayerData")
    estimators = default_estimators() if estimators is None else tuple(estimators)
    names = [e.name for e in estimators]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"estimators: got the names {repeated} more than once, expected distinct names")
    base = int(torch.randint(0, 2**62, (1,), generator=checks.generator(generator)))
    out = []
    for est in estimators:
        t0 = time.perf_counter()
        try:
            r = est(layer, generator=_seed(base, est.name))
        except ValueError as err:
            why = f"{FAILED}{err}"
            out.append(MIEstimate(None, None, est.name, params=est.params(), reasons={"I_XT": why, "I_TY": why}))
            continue
        dt = time.perf_counter() - t0
        out.append(dataclasses.replace(r, i_xt=_timed(r.i_xt, dt), i_ty=_timed(r.i_ty, dt)))
    return out
