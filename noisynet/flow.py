"""Measuring a noisy twin layer by layer: I(X;T_l) and I(T_l;Y) by sample propagation, and the clustering
diagnostics of the deterministic representations, as one typed result per layer.

Goldfeld et al., ICML 2019, sections 4-5; docs/theory.md, sections 3-7 and 11.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from estimators import Estimate, MIEstimate, clustering, sp_mutual_information
from estimators.protocol import NO_LABELS
from noisynet.twin import NoisyTwin


@dataclass(frozen=True)
class Clustering:
    """Clustering diagnostics of one layer's deterministic representation S (noise off), docs/theory.md,
    section 7.

    Attributes:
        h_bin: {Delta: H(Bin_Delta(S))} in nats, cells of side Delta aligned at ``bin_low`` (-1 for a layer
            within [-1, 1], as for tanh; else the minimum).
        bin_low: the cell origin used, or None (the minimum).
        class_ratio: mean within-class / mean between-class distance (unitless), None without labels.
        silhouette: scikit-learn silhouette score (unitless), None without labels.
        n_clusters: {eps: connected components of the eps-neighbour graph} (counts).
        seconds: wall time the diagnostics took (seconds).
    """

    h_bin: Mapping[float, float]
    bin_low: float | None
    class_ratio: float | None
    silhouette: float | None
    n_clusters: Mapping[float, int]
    seconds: float


@dataclass(frozen=True)
class LayerMeasurement:
    """Everything measured on one noisy layer T_l of a twin.

    Attributes:
        site: the twin's site name ("T1", "T2", ...); layer: the module's name in the model.
        width: d_l, the layer's width; beta: its noise std; m: the number of inputs (X uniform on them).
        information: the SP :class:`~estimators.MIEstimate` (nats): ``i_xt`` and ``i_ty`` (None without
            labels, with the reason). Where the layer is too wide for the sample size (``supported`` False),
            nothing is estimated: each Estimate has value NaN and the a-priori interval [0, ln m] (I(X;T)) or
            [0, H(Y)] (I(T;Y)), and the reason is in ``information.reasons``.
        replicas: R, replicas per input used by the estimate (0 where not estimated).
        supported: False where width > ``max_width``.
        max_width: the widest layer estimated (default :func:`max_supported_width` of m R; docs/theory.md,
            section 11).
        seconds: wall time of the estimate in seconds (propagation excluded).
        dpi_violation: True when this layer's I(X;T) interval lies entirely above the previous measured
            layer's (the estimates contradict I(X;T_{l-1}) >= I(X;T_l) by more than their intervals allow);
            None for the first layer measured or where either was not estimated.
        clustering: the diagnostics, or None where not asked.
    """

    site: str
    layer: str
    width: int
    beta: float
    m: int
    information: MIEstimate
    replicas: int
    supported: bool
    max_width: int
    seconds: float
    dpi_violation: bool | None
    clustering: Clustering | None

    @property
    def i_xt(self) -> Estimate:
        return self.information.i_xt

    @property
    def i_ty(self) -> Estimate | None:
        return self.information.i_ty


def max_supported_width(n: int) -> int:
    """The widest layer the SP estimator is run on from n = m R centres: floor(log2 n).

    The estimator's error decays like c^d / sqrt(n) with c > 1 (Goldfeld et al., ICML 2019, Theorem 1;
    docs/theory.md, section 11): resolving a law in d dimensions at the noise scale needs a number of samples
    exponential in d, at the very least 2^d (two cells per coordinate). Beyond that width the nested-replica
    diagnostic could not tell convergence from noise, so no estimate is reported."""
    return int(math.floor(math.log2(max(n, 1))))


def _not_estimated(m: int, h_y: float | None, reason: str) -> MIEstimate:
    """NaN values with the a-priori intervals [0, ln m] and [0, H(Y)]: nothing estimated, nothing claimed."""
    def bounds(high: float, name: str) -> Estimate:
        return Estimate(value=math.nan, ci_low=0.0, ci_high=high, estimator=name, bound=f"a-priori range: {reason}",
                        diagnostics={"converged": False, "supported": False})

    i_ty = None if h_y is None else bounds(h_y, "sp I(T;Y)")
    reasons = {"I_XT": reason, "I_TY": reason if h_y is not None else NO_LABELS}
    return MIEstimate(bounds(math.log(m), "sp I(X;T)"), i_ty, "sp", reasons=reasons)


def diagnose(t: torch.Tensor, labels: torch.Tensor | None, eps: Sequence[float],
             deltas: Sequence[float] = clustering.DEFAULT_DELTAS) -> Clustering:
    """The clustering diagnostics of one layer's deterministic representation (docs/theory.md, section 7;
    Goldfeld et al., ICML 2019, section 5: compression as clustering).

    Args:
        t: Tensor (m, d), the layer's noise-off outputs S_l (any float dtype; computed in float64).
        labels: Tensor (m,) of integer class labels, or None (then no class_ratio nor silhouette).
        eps: cluster scales (same units as ``t``; e.g. the layer's beta): one cluster count per scale.
        deltas: bin sides Delta of the binned entropy (same units as ``t``).

    Returns:
        :class:`Clustering` (entropies in nats, counts, unitless ratios, the seconds taken).

    Raises:
        ValueError / TypeError: from :mod:`estimators.clustering`, naming the argument (bad shapes, labels
            of another length, a bin side that is not a finite number > 0).
    """
    t = t.double()
    t0 = time.perf_counter()
    low = -1.0 if float(t.min()) >= -1.0 else None
    h_bin = clustering.binned_entropy(t, list(deltas), low=low)
    ratio = sil = None
    if labels is not None:
        ratio, sil = clustering.class_distance_ratio(t, labels), clustering.silhouette(t, labels)
    counts = clustering.n_clusters(t, list(eps))
    return Clustering(h_bin, low, ratio, sil, counts, time.perf_counter() - t0)


def iter_information_flow(
    twin: NoisyTwin,
    x: torch.Tensor,
    y: torch.Tensor | None = None,
    *,
    replicas: int = 128,
    min_replicas: int | Mapping[str, int] = 8,
    target_half_width: float | None = 0.1,
    n_mc: int = 1,
    n_query: int = 2,
    seed: int = 0,
    sites: Sequence[str] | None = None,
    level: float = 0.95,
    tol: float = 1e-3,
    max_width: int | None = None,
    diagnostics: bool = True,
    deltas: Sequence[float] = clustering.DEFAULT_DELTAS,
    progress: bool = False,
) -> Iterator[LayerMeasurement]:
    """Measure every chosen layer of ``twin`` on the inputs ``x``, yielding each layer's result when done.

    For each site T_l (in forward order): I(X;T_l) and, with labels, I(T_l;Y) by
    :func:`estimators.sp_mutual_information` (Goldfeld et al., ICML 2019, section 4) on R propagated samples
    per input. R starts at ``min_replicas`` and doubles (the first R of ``replicas`` propagated replicas:
    they are i.i.d.) until both intervals' half-widths are at most ``target_half_width`` or R reaches
    ``replicas``: clustered layers, whose cost grows with R and whose estimates converge fast, stay small;
    layers whose conditional laws are wide get the replicas their plug-in bias needs. (The stopping rule
    looks at the interval, so the reported interval is the first narrow enough one; the nested-replica
    allowance in it keeps this honest.) ``target_half_width=None`` uses R = ``replicas`` directly. A layer
    wider than ``max_width`` is not estimated: its result says so (``supported`` False, the reason, the
    a-priori interval) and a warning is issued; the first site is the exception: no noise reaches S_1, so
    its law given each input is a point and its terms need no samples at any width (only Monte Carlo
    draws; it is estimated from its deterministic representation, reported with R = 2). With ``diagnostics``, the clustering diagnostics of the
    deterministic representation (noise off) at eps = beta (:func:`diagnose`).

    Random streams: the propagation is seeded by ``seed`` and layer T_l's Monte Carlo draws by
    ``seed * 1000 + l - 1``, so a layer's result does not depend on which other sites are measured.

    Args:
        twin: the noisy twin (its betas are the layers' noise stds).
        x: Tensor (m, ...) of inputs in the model's dtype, each once (X uniform on them: never resampled).
        y: optional Tensor (m,) integer class labels.
        replicas: largest R (noisy passes per input), >= 8.
        min_replicas: the first R tried (>= 8: the nested diagnostic needs R/4 >= 2), or {site: R} to start
            each site elsewhere (e.g. where it ended at the previous epoch; absent sites start at 8).
        target_half_width: nats (> 0), or None for a fixed R = replicas.
        n_mc, n_query: Monte Carlo draws per query unit, query units per input (see sp_mutual_information).
        seed: seeds the propagation and the Monte Carlo draws (a measurement is reproducible from it).
        sites: which sites to measure (default all), in any order (measured in forward order).
        level, tol: interval level and per-point log-density tolerance (nats) of the estimator.
        max_width: widest layer estimated; default :func:`max_supported_width` of m * replicas.
        diagnostics: also compute the clustering diagnostics; deltas: their bin sides.
        progress: show a progress bar over the layers.

    Yields:
        :class:`LayerMeasurement`, one per site, in forward order.

    Raises:
        ValueError: replicas < 8, min_replicas < 8, target_half_width <= 0, x and y of different lengths,
            unknown sites, max_width < 1 (and the estimator's own errors, each naming its argument).

    Examples:
        >>> import torch
        >>> from noisynet import NoisyTwin, information_flow, mlp
        >>> twin = NoisyTwin(mlp((3, 4, 2, 2), "tanh", seed=0), beta=0.1)
        >>> x = torch.randn(64, 3, generator=torch.Generator().manual_seed(0))
        >>> y = (x[:, 0] > 0).long()
        >>> layers = information_flow(twin, x, y, replicas=16, target_half_width=None)
        >>> [(r.site, r.width) for r in layers]
        [('T1', 4), ('T2', 2)]
        >>> 0.0 <= layers[0].i_xt.value <= 4.2  # nats; ln 64 = 4.16
        True
    """
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 8:
        raise ValueError(f"replicas: got {replicas!r}, expected an integer >= 8 (nested-replica diagnostic)")
    starts = dict(min_replicas) if isinstance(min_replicas, Mapping) else {}
    default_start = 8 if isinstance(min_replicas, Mapping) else min_replicas
    for name, r in [("min_replicas", default_start), *((f"min_replicas[{k!r}]", v) for k, v in starts.items())]:
        if isinstance(r, bool) or not isinstance(r, int) or r < 8:
            raise ValueError(f"{name}: got {r!r}, expected an integer >= 8 (nested-replica diagnostic)")
    if target_half_width is not None and not (target_half_width > 0 and math.isfinite(target_half_width)):
        raise ValueError(f"target_half_width: got {target_half_width!r}, expected a finite number > 0 (nats) or None")
    if not isinstance(x, torch.Tensor) or x.dim() < 1:
        raise ValueError(f"x: got {type(x).__name__}, expected a Tensor (m, ...) of inputs")
    m = x.shape[0]
    if y is not None and (not isinstance(y, torch.Tensor) or y.shape != (m,)):
        got = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
        raise ValueError(f"y: got {got}, expected a Tensor ({m},) of labels, one per input")
    wanted = list(twin.site_names if sites is None else sites)
    unknown = [s for s in wanted if s not in twin.site_names]
    if unknown:
        raise ValueError(f"sites: got {unknown}, expected some of {twin.site_names}")
    order = [s for s in twin.site_names if s in set(wanted)]
    if max_width is None:
        max_width = max_supported_width(m * replicas)
    elif isinstance(max_width, bool) or not isinstance(max_width, int) or max_width < 1:
        raise ValueError(f"max_width: got {max_width!r}, expected an integer >= 1")
    if not order:
        return
    reps = twin.representations(x, noise=False)
    widths = {s: reps[s].shape[1] for s in order}
    sampled = [s for s in order if widths[s] <= max_width]
    samples = twin.propagate(x, replicas, generator=seed, sites=sampled) if sampled else {}
    first = twin.site_names[0]
    if first in order and first not in samples:
        # no noise reaches S_1: its law given each input is a point, known exactly at any width
        samples[first] = reps[first][:, None, :].expand(-1, 2, -1)
    h_y = None
    if y is not None:
        p = torch.unique(y, return_counts=True)[1].double() / m
        h_y = float(-(p * p.log()).sum())
    previous: Estimate | None = None
    for site in tqdm(order, desc="layers", disable=not progress, leave=False):
        index, beta, d = twin.site_names.index(site), twin.betas[site], widths[site]
        t0 = time.perf_counter()
        if site in samples:
            s = samples[site]
            r = s.shape[1] if target_half_width is None else min(s.shape[1], starts.get(site, default_start))
            while True:
                info = sp_mutual_information(s[:, :r], beta, y, n_mc=n_mc, n_query=min(n_query, max(2, r // 4)),
                                             generator=seed * 1000 + index, level=level, tol=tol)
                widths_ci = [e.half_width for e in (info.i_xt, info.i_ty) if e is not None]
                if target_half_width is None or r >= s.shape[1] or max(widths_ci) <= target_half_width:
                    break
                r = min(s.shape[1], 2 * r)
        else:
            reason = (f"width d = {d} > {max_width}, the widest layer {m} inputs x {replicas} replicas support "
                      "(the samples needed grow exponentially in d; docs/theory.md, section 11)")
            warnings.warn(f"layer {site} of width {d}: not estimated: {reason}", stacklevel=2)
            info, r = _not_estimated(m, h_y, reason), 0
        seconds = time.perf_counter() - t0
        dpi = None
        if previous is not None and r:
            dpi = bool(info.i_xt.ci_low > previous.ci_high)
        previous = info.i_xt if r else None
        diag = diagnose(reps[site], y, [beta], deltas) if diagnostics else None
        yield LayerMeasurement(site, twin.layer_names[index], d, beta, m, info, r, bool(r), max_width, seconds, dpi,
                               diag)


def information_flow(twin: NoisyTwin, x: torch.Tensor, y: torch.Tensor | None = None,
                     **kwargs) -> list[LayerMeasurement]:
    """All results of :func:`iter_information_flow` as a list (same arguments)."""
    return list(iter_information_flow(twin, x, y, **kwargs))
