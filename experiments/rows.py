"""metrics.csv rows from typed measurements: the one place that knows the file's columns.

metrics.csv is long format, one row per measurement (README, "What a run writes"): an SP estimate, a
clustering diagnostic, an accuracy. :func:`layer_rows` turns a :class:`noisynet.flow.LayerMeasurement` into
its rows (I_XT, I_TY, then the diagnostics), exactly the rows the experiments have always written.
"""

from __future__ import annotations

import math
from typing import Any

from estimators import Estimate
from noisynet.flow import Clustering, LayerMeasurement

ROW_FIELDS = (
    "layer", "layer_dim", "quantity", "estimator", "param", "value", "ci_low", "ci_high", "std_error",
    "unit", "beta", "n", "n_mc", "seconds", "converged", "dpi_violation",
)
COLUMNS = ("epoch",) + ROW_FIELDS


def row(**kw: Any) -> dict[str, Any]:
    """A row with every column of ROW_FIELDS (None = empty), filled from ``kw``."""
    out = dict.fromkeys(ROW_FIELDS)
    out.update(kw)
    return out


def estimate_row(meas: LayerMeasurement, quantity: str, est: Estimate, **kw: Any) -> dict[str, Any]:
    """The row of one SP estimate of a layer (nats); a value not estimated (NaN) is left empty, with its
    a-priori interval."""
    value = None if math.isnan(est.value) else est.value
    n = est.n if est.n is not None else (meas.m * meas.replicas or None)
    return row(layer=meas.site, layer_dim=meas.width, quantity=quantity, estimator="sp", value=value,
               ci_low=est.ci_low, ci_high=est.ci_high, std_error=est.std_error, unit=est.unit, beta=meas.beta,
               n=n, n_mc=est.n_mc, converged=est.diagnostics.get("converged"), **kw)


def layer_rows(meas: LayerMeasurement, *, dpi_violation: bool | None = None, param: str | None = None) -> list[dict]:
    """The rows of one layer: I_XT (with the estimate's time and ``dpi_violation``), I_TY where labels were
    given, then the clustering diagnostics (H_bin per Delta, class_ratio, silhouette, n_clusters per eps).
    ``param`` goes on the SP rows (an experiment's own encoding); a layer that was not estimated gets
    ``not_estimated=...`` there."""
    if not meas.supported:
        note = f"not_estimated=d {meas.width} > max width {meas.max_width}"
        param = note if param is None else f"{param};{note}"
    rows = [estimate_row(meas, "I_XT", meas.i_xt, seconds=meas.seconds, dpi_violation=dpi_violation, param=param)]
    if meas.i_ty is not None:
        rows.append(estimate_row(meas, "I_TY", meas.i_ty, param=param))
    if meas.clustering is not None:
        rows += clustering_rows(meas.site, meas.width, meas.m, meas.clustering)
    return rows


def dpi_violation(meas: LayerMeasurement, sites: list[str], known: dict[str, float]) -> bool | None:
    """The data-processing flag of a layer's I_XT row (docs/theory.md, section 6): True when its I(X;T)
    interval lies entirely above the previous site's, i.e. the estimates contradict I(X;T_{l-1}) >= I(X;T_l)
    by more than their intervals allow; None for the first site, a layer not estimated, or a previous site
    whose upper bound is not in ``known``.

    Args:
        meas: the layer's measurement; sites: the network's sites in forward order.
        known: {site: I(X;T) ci_high in nats} of the layers already measured at the same epoch of the same
            network (from this session or from metrics.csv); this layer's is added when it was estimated.
    """
    index = sites.index(meas.site)
    before = sites[index - 1] if index else None
    flag = bool(meas.i_xt.ci_low > known[before]) if meas.supported and before in known else None
    if meas.supported:
        known[meas.site] = meas.i_xt.ci_high
    return flag


def clustering_rows(site: str, width: int, m: int, c: Clustering, *, param: str | None = None) -> list[dict]:
    """The rows of one layer's clustering diagnostics: H_bin per Delta (nats), class_ratio and silhouette
    (unitless, where labels were given), n_clusters per eps (count). ``param`` (an experiment's own
    encoding) goes in front of each row's scale, e.g. "net=noisy;beta=0.01" + ";delta=0.001"."""
    def p(scale: str | None = None) -> str | None:
        return ";".join(x for x in (param, scale) if x) or None

    base = {"layer": site, "layer_dim": width, "n": m}
    rows = [row(**base, quantity="H_bin", estimator="binning", param=p(f"delta={delta:g}"), value=h, unit="nat")
            for delta, h in c.h_bin.items()]
    if c.class_ratio is not None:
        rows.append(row(**base, quantity="class_ratio", estimator="pdist", param=p(), value=c.class_ratio, unit=""))
        rows.append(row(**base, quantity="silhouette", estimator="sklearn", param=p(), value=c.silhouette, unit=""))
    rows += [row(**base, quantity="n_clusters", estimator="eps-graph", param=p(f"eps={eps:g}"), value=float(k),
                 unit="count", seconds=c.seconds) for eps, k in c.n_clusters.items()]
    return rows
