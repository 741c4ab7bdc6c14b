"""Measuring a noisy twin layer by layer: I(X;T_l), I(T_l;Y) by sample propagation, and the clustering
diagnostics of the deterministic representations, as tidy rows (one per measurement).

Goldfeld et al., ICML 2019, sections 4-5; REFERENCE.md sections 3-7.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence

import torch

from estimators import clustering
from estimators.sp_mi import sp_mutual_information
from noisynet.twin import NoisyTwin

# the columns of a measurement row (experiments add "epoch" in front)
ROW_FIELDS = (
    "layer", "layer_dim", "quantity", "estimator", "param", "value", "ci_low", "ci_high", "std_error",
    "unit", "beta", "n", "n_mc", "seconds", "converged", "dpi_violation",
)


def _row(**kw) -> dict:
    row = dict.fromkeys(ROW_FIELDS)
    row.update(kw)
    return row


def _estimate_row(site: str, dim: int, quantity: str, est, beta: float, seconds: float) -> dict:
    return _row(
        layer=site, layer_dim=dim, quantity=quantity, estimator="sp", value=est.value, ci_low=est.ci_low,
        ci_high=est.ci_high, std_error=est.std_error, unit=est.unit, beta=beta, n=est.n, n_mc=est.n_mc,
        seconds=seconds, converged=est.diagnostics.get("converged"),
    )


def iter_information_flow(
    twin: NoisyTwin,
    x: torch.Tensor,
    y: torch.Tensor | None = None,
    *,
    replicas: int = 128,
    min_replicas: int = 8,
    target_half_width: float | None = 0.1,
    n_mc: int = 1,
    n_query: int = 2,
    seed: int = 0,
    sites: Sequence[str] | None = None,
    level: float = 0.95,
    tol: float = 1e-3,
    skip: Sequence[str] = (),
    known: Mapping[str, tuple[float, float]] | None = None,
    start: Mapping[str, int] | None = None,
    diagnostics: bool = True,
    deltas: Sequence[float] = clustering.DEFAULT_DELTAS,
) -> Iterator[dict]:
    """Measure every chosen layer of ``twin`` on the inputs ``x`` and yield rows as they are finished.

    For each site T_l (in forward order): I(X;T_l) and, with labels, I(T_l;Y) by
    :func:`estimators.sp_mutual_information` on R propagated samples per input. R starts at
    ``min_replicas`` and doubles (the first R of ``replicas`` propagated replicas: they are i.i.d.) until both
    intervals' half-widths are at most ``target_half_width`` or R reaches ``replicas``: clustered layers,
    whose cost grows with R and whose estimates converge fast, stay small; layers whose conditional laws
    are wide get the replicas their plug-in bias needs. (The stopping rule looks at the interval, so the
    reported interval is the first narrow enough one; the nested-replica allowance in it keeps this
    honest.) ``target_half_width=None`` uses R = ``replicas`` directly. Then, with
    ``diagnostics``, on the deterministic representation (noise off): the binned entropy H(Bin_Delta(T_l)) for
    each Delta in ``deltas`` (nats), the within/between-class distance ratio, the silhouette score and the
    number of clusters at scale beta. Data processing is checked between consecutive layers: the I(X;T) row of
    layer l+1 has ``dpi_violation`` True when its interval lies entirely above layer l's (the estimates
    contradict I(X;T_l) >= I(X;T_{l+1}) by more than their intervals allow).

    Args:
        twin: the noisy twin (its betas are the layers' noise stds).
        x: Tensor (m, ...) of inputs, each once (X uniform on them: never resampled).
        y: optional Tensor (m,) int64 labels.
        replicas: largest R (noisy passes per input); min_replicas: the first R tried (>= 8: the nested
            diagnostic needs R/4 >= 2); target_half_width: nats, or None for a fixed R = replicas.
        n_mc, n_query: Monte Carlo draws per query unit, query units per input.
        seed: seeds the propagation and the Monte Carlo draws (a measurement is reproducible from it).
        sites: which sites to measure (default all).
        level, tol: interval level and per-point log-density tolerance of the estimator.
        skip: sites already measured (a resumed run): neither measured nor yielded.
        known: {site: (ci_low, ci_high)} of I(X;T) for skipped sites, for the data-processing check.
        start: {site: R} to start the doubling from (e.g. half the R a site needed at the previous epoch:
            consecutive epochs need similar R, and starting there skips the small R's work).
        diagnostics: also compute the clustering diagnostics.
        deltas: bin sides for the binned entropy.

    Yields:
        dicts with the keys ROW_FIELDS; MI values in nats; "seconds" is the time the measurement took.

    Raises:
        ValueError: replicas < 2, mismatched x and y, unknown sites.
    """
    if replicas < 2:
        raise ValueError(f"replicas: got {replicas!r}, expected >= 2 (the conditional terms need replicas)")
    if target_half_width is not None and not target_half_width > 0:
        raise ValueError(f"target_half_width: got {target_half_width!r}, expected > 0 nats or None")
    if y is not None and y.shape[0] != x.shape[0]:
        raise ValueError(f"y: got {y.shape[0]} labels for {x.shape[0]} inputs, expected one per input")
    sites = list(twin.site_names if sites is None else sites)
    todo = [s for s in sites if s not in set(skip)]
    known = dict(known or {})
    if not todo:
        return
    samples = twin.propagate(x, replicas, generator=seed, sites=todo)
    reps = twin.representations(x, noise=False) if diagnostics else {}
    previous = None
    for index, site in enumerate(sites):
        if site not in todo:
            previous = known.get(site)
            continue
        s = samples[site]
        beta = twin.betas[site]
        t0 = time.perf_counter()
        first = (start or {}).get(site, min_replicas)
        r = replicas if target_half_width is None else min(replicas, max(2, min_replicas, first))
        while True:
            info = sp_mutual_information(s[:, :r], beta, y, n_mc=n_mc, n_query=min(n_query, max(2, r // 4)),
                                         generator=seed * 1000 + index, level=level, tol=tol)
            widths = [e.half_width for e in (info.i_xt, info.i_ty) if e is not None]
            if target_half_width is None or r >= replicas or max(widths) <= target_half_width:
                break
            r = min(replicas, 2 * r)
        seconds = time.perf_counter() - t0
        row = _estimate_row(site, s.shape[2], "I_XT", info.i_xt, beta, seconds)
        if previous is not None:
            row["dpi_violation"] = bool(info.i_xt.ci_low > previous[1])
        previous = (info.i_xt.ci_low, info.i_xt.ci_high)
        yield row
        if info.i_ty is not None:
            yield _estimate_row(site, s.shape[2], "I_TY", info.i_ty, beta, 0.0)
        if diagnostics:
            yield from clustering_rows(site, reps[site], y, beta=beta, deltas=deltas)


def clustering_rows(site: str, t: torch.Tensor, y: torch.Tensor | None, *, beta: float,
                    deltas: Sequence[float] = clustering.DEFAULT_DELTAS) -> Iterator[dict]:
    """Clustering diagnostics of one layer's deterministic representation t (m, d) as rows (REFERENCE.md
    section 7): H_bin per Delta (nats, cells aligned at -1 as for tanh, else at the minimum), and with labels
    the class distance ratio and silhouette (unitless); the number of clusters at scale beta (count)."""
    t = t.double()
    dim = t.shape[1]
    t0 = time.perf_counter()
    low = -1.0 if float(t.min()) >= -1.0 else None
    for delta, h in clustering.binned_entropy(t, list(deltas), low=low).items():
        yield _row(layer=site, layer_dim=dim, quantity="H_bin", estimator="binning", param=f"delta={delta:g}",
                   value=h, unit="nat", n=t.shape[0])
    if y is not None:
        yield _row(layer=site, layer_dim=dim, quantity="class_ratio", estimator="pdist",
                   value=clustering.class_distance_ratio(t, y), unit="", n=t.shape[0])
        yield _row(layer=site, layer_dim=dim, quantity="silhouette", estimator="sklearn",
                   value=clustering.silhouette(t, y), unit="", n=t.shape[0])
    yield _row(layer=site, layer_dim=dim, quantity="n_clusters", estimator="eps-graph", param=f"eps={beta:g}",
               value=float(clustering.n_clusters(t, beta)), unit="count", n=t.shape[0],
               seconds=time.perf_counter() - t0)


def information_flow(twin: NoisyTwin, x: torch.Tensor, y: torch.Tensor | None = None, **kwargs) -> list[dict]:
    """All rows of :func:`iter_information_flow` as a list (same arguments)."""
    return list(iter_information_flow(twin, x, y, **kwargs))

