"""Figures from metrics.csv rows (long format). Values are plotted in nats, as stored; axes say so."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402


def _f(v: str) -> float:
    return float(v) if v not in ("", None) else np.nan


def series(rows: Iterable[dict], quantity: str, layer: str | None = None, **match: str) -> dict[str, np.ndarray]:
    """Rows of one quantity (and layer, and any other column values) as arrays sorted by epoch."""
    sel = [r for r in rows if r["quantity"] == quantity and (layer is None or r["layer"] == layer)
           and all(r.get(k) == v for k, v in match.items())]
    sel.sort(key=lambda r: float(r["epoch"]))
    keys = ("epoch", "value", "ci_low", "ci_high")
    return {k: np.array([_f(r[k]) for r in sel]) for k in keys}


def layers_of(rows: Iterable[dict], quantity: str = "I_XT") -> list[str]:
    names = {r["layer"] for r in rows if r["quantity"] == quantity}
    return sorted(names, key=lambda s: (len(s), s))


def epoch_axis(ax) -> None:
    """Label a matplotlib Axes' x axis as training epochs on a symmetric log scale (epoch 0, the
    initialisation, at the left edge), with a light grid; every figure against epochs uses it."""
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xlim(left=-0.3)
    ax.set_xlabel("epoch (symmetric log scale; 0 = initialisation)")
    ax.grid(True, which="both", alpha=0.25)


def information_plane(rows: Sequence[dict], path: Path, title: str) -> Path:
    """I(T;Y) against I(X;T) per layer, points coloured by epoch, with the intervals as error bars."""
    rows = list(rows)
    fig, ax = plt.subplots(figsize=(8.5, 6))
    epochs = [float(r["epoch"]) for r in rows if r["quantity"] == "I_XT"]
    norm = LogNorm(vmin=1, vmax=max(2.0, max(epochs, default=2)))
    markers = "osD^vP*Xh"
    for i, layer in enumerate(layers_of(rows)):
        x, y = series(rows, "I_XT", layer), series(rows, "I_TY", layer)
        common = np.intersect1d(x["epoch"], y["epoch"])
        xi, yi = np.searchsorted(x["epoch"], common), np.searchsorted(y["epoch"], common)
        ex = np.abs(np.vstack([x["value"][xi] - x["ci_low"][xi], x["ci_high"][xi] - x["value"][xi]]))
        ey = np.abs(np.vstack([y["value"][yi] - y["ci_low"][yi], y["ci_high"][yi] - y["value"][yi]]))
        ax.errorbar(x["value"][xi], y["value"][yi], xerr=ex, yerr=ey, fmt="none", ecolor="0.6", lw=0.8, zorder=1)
        ax.plot(x["value"][xi], y["value"][yi], "-", color="0.75", lw=0.8, zorder=1)
        sc = ax.scatter(x["value"][xi], y["value"][yi], c=np.maximum(common, 1), norm=norm, cmap="viridis",
                        marker=markers[i % len(markers)], s=36, edgecolors="k", linewidths=0.4, zorder=2,
                        label=layer)
    if epochs:
        fig.colorbar(sc, ax=ax, label="epoch (log scale; epoch 0 shown as 1)")
    ax.set_xlabel("I(X;T) [nats]")
    ax.set_ylabel("I(T;Y) [nats]")
    ax.set_title(title)
    ax.legend(title="layer (marker)", loc="lower right")
    ax.grid(True, alpha=0.25)
    return save_figure(fig, path)


def mi_vs_epoch(rows: Sequence[dict], path: Path, title: str, quantities=("I_XT", "I_TY"),
                references: dict[str, float] | None = None) -> Path:
    """One panel per quantity: the estimate per layer against epoch, with its interval as a band."""
    rows = list(rows)
    labels = {"I_XT": "I(X;T) [nats]", "I_TY": "I(T;Y) [nats]"}
    fig, axes = plt.subplots(1, len(quantities), figsize=(6.5 * len(quantities), 4.8), squeeze=False)
    for ax, q in zip(axes[0], quantities):
        for layer in layers_of(rows, q):
            s = series(rows, q, layer)
            line, = ax.plot(s["epoch"], s["value"], "-o", ms=3, label=layer)
            ax.fill_between(s["epoch"], s["ci_low"], s["ci_high"], color=line.get_color(), alpha=0.25, lw=0)
        for name, value in (references or {}).get(q, {}).items():
            ax.axhline(value, color="k", ls=":", lw=1)
            ax.annotate(name, (1, value), xycoords=("axes fraction", "data"), ha="right", va="bottom", fontsize=8)
        epoch_axis(ax)
        ax.set_ylabel(labels.get(q, q))
    # one legend, outside the panels: inside, it hides the curves of some run or other
    axes[0][-1].legend(title="layer (band: 95% interval)", fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.suptitle(title)
    return save_figure(fig, path)


def accuracy(rows: Sequence[dict], path: Path, title: str) -> Path:
    """Train/test accuracy and loss against epoch, noise off (deterministic) and on (noisy twin)."""
    rows = list(rows)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 4.5))
    for mode, ls in (("deterministic", "-"), ("noisy", "--")):
        for split in ("train", "test"):
            s = series(rows, f"{split}_acc", estimator=mode)
            if s["epoch"].size:
                a1.plot(s["epoch"], 100 * s["value"], ls, label=f"{split}, noise {'off' if mode == 'deterministic' else 'on'}")
            s = series(rows, f"{split}_loss", estimator=mode)
            if s["epoch"].size:
                a2.plot(s["epoch"], s["value"], ls, label=f"{split}, noise {'off' if mode == 'deterministic' else 'on'}")
    a1.set_ylabel("accuracy [%]")
    a2.set_ylabel("cross-entropy loss [nats]")
    for ax in (a1, a2):
        epoch_axis(ax)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    return save_figure(fig, path)


def nearest_param(rows: Sequence[dict], quantity: str, key: str, target: float) -> str | None:
    """The ``param`` value (e.g. "delta=0.003") of ``quantity`` closest to ``target`` on a log scale."""
    params = {r["param"] for r in rows if r["quantity"] == quantity and r["param"]}
    if not params:
        return None
    return min(params, key=lambda p: abs(np.log(float(p.split("=")[1]) / target)))


def clustering(rows: Sequence[dict], path: Path, title: str, *, beta: float) -> Path:
    """MI and the clustering diagnostics per layer on shared epoch axes (compression as clustering):
    I(X;T), the binned entropy at the bin side nearest beta, the within/between-class distance ratio and the
    silhouette score of the deterministic representations."""
    rows = list(rows)
    delta = nearest_param(rows, "H_bin", "delta", beta)
    panels = [("I_XT", {}, "I(X;T) [nats]"),
              ("H_bin", {"param": delta}, f"H(Bin(T)), bin side {delta.split('=')[1] if delta else '?'} [nats]"),
              ("class_ratio", {}, "within / between class\nmean distance"),
              ("silhouette", {}, "silhouette score")]
    fig, axes = plt.subplots(len(panels), 1, figsize=(9, 2.6 * len(panels)), sharex=True)
    for ax, (q, match, label) in zip(axes, panels):
        for layer in layers_of(rows):
            s = series(rows, q, layer, **match)
            if not s["epoch"].size:
                continue
            line, = ax.plot(s["epoch"], s["value"], "-o", ms=2.5, label=layer)
            if not np.all(np.isnan(s["ci_low"])):
                ax.fill_between(s["epoch"], s["ci_low"], s["ci_high"], color=line.get_color(), alpha=0.25, lw=0)
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.25)
    epoch_axis(axes[-1])
    for ax in axes[:-1]:
        ax.set_xlabel("")
    axes[0].legend(title="layer", fontsize=8, ncol=5, loc="best")
    fig.suptitle(title + f"\ncompression as clustering (beta = {beta:g})")
    return save_figure(fig, path)


def min_span(ax, axis: str = "y", span: float = 0.05) -> None:
    """Widen an axis whose limits are less than ``span`` apart (nats) around their middle, so that
    differences far below the estimator's resolution (1e-3 nats) are not drawn as structure."""
    get, put = (ax.get_ylim, ax.set_ylim) if axis == "y" else (ax.get_xlim, ax.set_xlim)
    lo, hi = get()
    if hi - lo < span:
        mid = 0.5 * (lo + hi)
        put(mid - 0.5 * span, mid + 0.5 * span)


def save_figure(fig, path: Path, tight: bool = True) -> Path:
    """Write ``fig`` to ``path`` (PNG, 130 dpi; folders created), laid out tightly unless told not to."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if tight:
        fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path
