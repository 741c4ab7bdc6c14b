"""Figures of how a run's representations evolve, from its checkpoints and metrics.csv (Goldfeld et al.,
ICML 2019, section 5: compression as clustering; docs/theory.md, section 7).

* ``layer_scatter.png``: every hidden layer's deterministic representation (noise off) of all inputs,
  coloured by class, at four epochs (initialisation, early, middle, last on the log-spaced schedule);
  2-D layers directly, 3-D layers as 3-D scatter plots, wider layers by PCA (scikit-learn) to 2 components
  with the explained variance in the axis labels (1-D layers against a jitter).
* ``activation_histograms.png``: per layer, the histogram of all activations over the measured epochs
  (colour = fraction of activations per bin, log scale), and below it the saturated fraction
  (|activation| > 0.99 for tanh/sigmoid-like bounded layers, activation = 0 for ReLU).
* ``binned_entropy.png``: per layer, H(Bin_Delta(T)) for every Delta in metrics.csv beside the SP estimate
  of I(X;T) with its 95% band, against epoch: the binned entropy at Delta comparable to beta moves with I(X;T).

Called at the end of ``experiments.szt`` (and ``experiments.spiral``); also a command for an existing run:

    python -m experiments.szt_figures runs/szt/<run-id>
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.colors import LogNorm
from matplotlib.ticker import MaxNLocator
from torch import nn

from experiments import plotting
from experiments.runs import Run
from noisynet.twin import NoisyTwin

SATURATION = 0.99  # |tanh| above this counts as saturated


class RunView(Run):
    """A finished (or running) run opened read-only: rows, checkpoints and the figures folder, with no
    writes to config.json or metrics.csv (safe while another process appends to it)."""

    def __init__(self, run_dir: str | Path) -> None:
        self.dir = Path(run_dir)
        cfg = self.dir / "config.json"
        if not cfg.exists():
            raise ValueError(f"run_dir: got {run_dir!s}, which has no config.json (not a run folder)")
        self.metrics = self.dir / "metrics.csv"
        self.checkpoints = self.dir / "checkpoints"
        self.figures = self.dir / "figures"
        self.config = json.loads(cfg.read_text())

    def rows(self) -> list[dict[str, str]]:
        rows = super().rows()
        return [r for r in rows if r.get("quantity") is not None]  # a partial last line has missing fields


def chosen_epochs(epochs: Sequence[int], k: int = 4) -> list[int]:
    """``k`` epochs out of the checkpointed ones: 0 (or the first), the last, and those nearest to
    log-evenly spaced points between them (e.g. 0, 14, 208, 3000 out of a 3000-epoch schedule)."""
    epochs = sorted({int(e) for e in epochs})
    if len(epochs) <= k:
        return epochs
    last = epochs[-1]
    targets = [last ** (i / (k - 1)) for i in range(1, k - 1)]
    picked = [epochs[0]] + [min(epochs, key=lambda e: abs(np.log1p(e) - np.log1p(t))) for t in targets] + [last]
    return sorted(set(picked))


def representations_over_epochs(run: Run, twin: NoisyTwin, x: torch.Tensor,
                                epochs: Sequence[int]) -> dict[int, dict[str, np.ndarray]]:
    """{epoch: {site: (m, d) float64 array}}: the deterministic representations (noise off) of ``x`` with
    the weights of each checkpoint. The twin's weights are restored afterwards."""
    original = {k: v.detach().clone() for k, v in twin.model.state_dict().items()}
    out = {}
    try:
        for e in epochs:
            twin.model.load_state_dict(run.load_checkpoint(e)["model"])
            reps = twin.representations(x, noise=False)
            out[e] = {s: t.double().numpy() for s, t in reps.items()}
    finally:
        twin.model.load_state_dict(original)
    return out


def _activation_kind(twin: NoisyTwin) -> str:
    mods = dict(twin.model.named_modules())
    kinds = {type(mods[n]) for n in twin.layer_names}
    if kinds and all(issubclass(k, (nn.ReLU,)) for k in kinds):
        return "relu"
    if kinds and all(issubclass(k, (nn.Tanh, nn.Sigmoid, nn.Hardtanh)) for k in kinds):
        return "bounded"
    return "other"


def layer_scatter(reps: dict[int, dict[str, np.ndarray]], y: np.ndarray, path: Path, title: str) -> Path:
    """Scatter plots of every layer (rows) at every chosen epoch (columns), coloured by class."""
    from matplotlib.lines import Line2D
    from sklearn.decomposition import PCA

    epochs = sorted(reps)
    sites = list(next(iter(reps.values())))
    classes = np.unique(y)
    order = np.random.default_rng(0).permutation(y.size)  # draw classes interleaved: none hides another
    colours = np.array([f"C{k}" for k in y])[order]
    handles = [Line2D([], [], ls="", marker="o", color=f"C{k}", label=f"class {k}") for k in classes]
    fig = plt.figure(figsize=(3.6 * len(epochs) + 1.2, 3.4 * len(sites)))
    for i, site in enumerate(sites):
        for j, e in enumerate(epochs):
            t = reps[e][site]
            d = t.shape[1]
            pos = i * len(epochs) + j + 1
            if d == 3:
                ax = fig.add_subplot(len(sites), len(epochs), pos, projection="3d")
                ax.scatter(t[order, 0], t[order, 1], t[order, 2], s=3, alpha=0.6, c=colours, depthshade=False,
                           rasterized=True)
                for axis, name in ((ax.xaxis, "unit 1"), (ax.yaxis, "unit 2"), (ax.zaxis, "unit 3")):
                    axis.set_major_locator(MaxNLocator(3))
                    axis.set_label_text(f"{name} (activation)", fontsize=7)
                ax.tick_params(labelsize=6, pad=0)
                how = "3-D, activations"
            else:
                ax = fig.add_subplot(len(sites), len(epochs), pos)
                if d == 1:
                    jitter = np.random.default_rng(0).uniform(-1, 1, t.shape[0])
                    u, xl, yl, how = np.column_stack([t[:, 0], jitter]), "activation", "jitter (no meaning)", "1-D"
                elif d == 2:
                    u, xl, yl, how = t, "unit 1 (activation)", "unit 2 (activation)", "2-D, activations"
                else:
                    if np.allclose(t, t[:1]):  # PCA of identical rows is undefined: show them at the origin
                        u, ev = np.zeros((t.shape[0], 2)), np.zeros(2)
                    else:
                        pca = PCA(n_components=2, svd_solver="full").fit(t)
                        u, ev = pca.transform(t), pca.explained_variance_ratio_
                    xl, yl = f"PC1 ({100 * ev[0]:.0f}% of variance)", f"PC2 ({100 * ev[1]:.0f}% of variance)"
                    how = f"{d}-D, PCA to 2"
                ax.scatter(u[order, 0], u[order, 1], s=2, alpha=0.5, c=colours, rasterized=True)
                ax.set_xlabel(xl, fontsize=8)
                ax.set_ylabel(yl, fontsize=8)
                ax.tick_params(labelsize=7)
                ax.grid(True, alpha=0.25)
            ax.set_title(f"{site} ({how}), epoch {e}", fontsize=9)
            if i == 0 and j == len(epochs) - 1:
                ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    fig.suptitle(title + "\ndeterministic representations (noise off), coloured by class")
    fig.tight_layout(rect=(0, 0.02, 1, 1))
    return plotting.save_figure(fig, path, tight=False)


def activation_histograms(reps: dict[int, dict[str, np.ndarray]], path: Path, title: str, kind: str) -> Path:
    """Per layer: histogram of all activations against epoch (heat map) and the saturated fraction."""
    epochs = sorted(reps)
    sites = list(next(iter(reps.values())))
    values = np.concatenate([t.ravel() for e in epochs for t in reps[e].values()])
    lo, hi = (-1.0, 1.0) if kind == "bounded" and values.min() >= -1 and values.max() <= 1 else \
        (float(values.min()), float(values.max()) + 1e-12)
    edges = np.linspace(lo, hi, 61)
    fig, axes = plt.subplots(2, len(sites), figsize=(3.4 * len(sites) + 1.6, 6.4), squeeze=False,
                             gridspec_kw={"height_ratios": [3, 1.4]}, sharex="col", layout="constrained")
    x_pos = np.arange(len(epochs))
    sat_label = (f"fraction with |activation| > {SATURATION}" if kind == "bounded"
                 else "fraction of activations = 0" if kind == "relu" else f"fraction with |activation| > {SATURATION}")
    im = None
    sats = {site: [float(np.mean(np.abs(reps[e][site]) > SATURATION)) if kind != "relu"
                   else float(np.mean(reps[e][site] == 0.0)) for e in epochs] for site in sites}
    top = max(0.02, 1.15 * max(max(v) for v in sats.values()))
    for j, site in enumerate(sites):
        hist = np.array([np.histogram(reps[e][site].ravel(), bins=edges)[0] / reps[e][site].size for e in epochs])
        hist = np.where(hist > 0, hist, np.nan)
        ax = axes[0, j]
        im = ax.pcolormesh(np.arange(len(epochs) + 1) - 0.5, edges, hist.T, cmap="viridis",
                           norm=LogNorm(vmin=1e-4, vmax=1.0), shading="flat")
        ax.set_title(f"{site} (d = {reps[epochs[0]][site].shape[1]})", fontsize=9)
        ax.set_ylabel("activation value" if j == 0 else "")
        b = axes[1, j]
        b.plot(x_pos, sats[site], "-o", ms=2.5, color="C3")
        b.set_ylim(0, top)
        b.set_ylabel(sat_label.replace(" with", "\nwith") if j == 0 else "", fontsize=8)
        b.grid(True, alpha=0.25)
        ticks = np.unique(np.linspace(0, len(epochs) - 1, min(6, len(epochs))).round().astype(int))
        b.set_xticks(ticks)
        b.set_xticklabels([str(epochs[t]) for t in ticks], fontsize=7)
        b.set_xlabel("epoch (measured epochs, log-spaced)")
    fig.colorbar(im, ax=axes.ravel().tolist(), label="fraction of the layer's activations in the bin (log)",
                 shrink=0.8)
    fig.suptitle(title + "\nactivations of the deterministic network over training (saturation below)")
    return plotting.save_figure(fig, path, tight=False)


def binned_entropy(rows: Sequence[dict], path: Path, title: str, beta: float | None = None) -> Path:
    """Per layer: I(X;T) (SP, 95% band) and H(Bin_Delta(T)) for every Delta in the rows, against epoch."""
    rows = list(rows)
    sites = plotting.layers_of(rows)
    deltas = sorted({r["param"] for r in rows if r["quantity"] == "H_bin" and r["param"]},
                    key=lambda p: float(p.split("=")[1]))
    fig, axes = plt.subplots(1, max(1, len(sites)), figsize=(3.9 * max(1, len(sites)) + 1.5, 5.2),
                             squeeze=False, sharey=True)
    cmap = plt.get_cmap("plasma")
    ln_m = None
    for j, site in enumerate(sites):
        ax = axes[0, j]
        s = plotting.series(rows, "I_XT", site)
        ax.plot(s["epoch"], s["value"], "-", color="k", lw=2, label="I(X;T), SP (noisy twin)")
        ax.fill_between(s["epoch"], s["ci_low"], s["ci_high"], color="k", alpha=0.2, lw=0)
        for i, p in enumerate(deltas):
            h = plotting.series(rows, "H_bin", site, param=p)
            delta = float(p.split("=")[1])
            near = beta is not None and abs(np.log(delta / beta)) == min(abs(np.log(float(q.split("=")[1]) / beta))
                                                                          for q in deltas)
            ax.plot(h["epoch"], h["value"], "-" if near else "--", lw=2.0 if near else 1.0,
                    color=cmap(i / max(1, len(deltas) - 1) * 0.9),
                    label=f"H(Bin(T)), Delta = {delta:g}" + (" (nearest beta)" if near else ""))
        ns = [int(r["n"]) for r in rows if r["quantity"] == "H_bin" and r["layer"] == site and r["n"]]
        if ns:
            ln_m = np.log(max(ns))
            ax.axhline(ln_m, color="0.4", ls=":", lw=1)
        plotting.epoch_axis(ax)
        ax.set_title(site, fontsize=10)
        if j == 0:
            ax.set_ylabel("nats")
    if ln_m is not None:
        axes[0, 0].annotate(f"ln m = {ln_m:.3f}", (0.02, ln_m), xycoords=("axes fraction", "data"),
                            va="bottom", fontsize=8)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(5, len(labels)), fontsize=8)
    extra = f" (beta = {beta:g})" if beta is not None else ""
    fig.suptitle(title + f"\nbinned entropy of the deterministic representation for several bin sides, "
                         f"beside I(X;T){extra}")
    fig.tight_layout(rect=(0, 0.12 if len(labels) > 5 else 0.08, 1, 1))
    return plotting.save_figure(fig, path, tight=False)


def make_figures(run: Run, twin: NoisyTwin, x: torch.Tensor, y: torch.Tensor, *, title: str,
                 beta: float | None = None, epochs: Sequence[int] | None = None) -> list[Path]:
    """Write the three figures of this module into ``run.figures`` and return their paths.

    Args:
        run: the run (its checkpoints and metrics.csv are read, nothing else is written).
        twin: a NoisyTwin of the run's architecture (its weights are restored after use).
        x: Tensor (m, ...) the inputs, each once; y: Tensor (m,) int64 labels (colours).
        title: figure title; beta: the noise std (marks the bin side nearest to it).
        epochs: the scatter plots' epochs (default :func:`chosen_epochs` of the checkpoints).

    Raises:
        ValueError: the run has no checkpoints, or a requested epoch has none.
    """
    saved = run.checkpoint_epochs()
    if not saved:
        raise ValueError(f"run: {run.dir} has no checkpoints to draw representations from")
    scatter_epochs = list(epochs) if epochs is not None else chosen_epochs(saved)
    missing = [e for e in scatter_epochs if e not in saved]
    if missing:
        raise ValueError(f"epochs: got {missing} without a checkpoint; expected some of {saved}")
    reps = representations_over_epochs(run, twin, x, sorted(set(saved) | set(scatter_epochs)))
    yy = y.numpy()
    return [layer_scatter({e: reps[e] for e in scatter_epochs}, yy, run.figures / "layer_scatter.png", title),
            activation_histograms(reps, run.figures / "activation_histograms.png", title, _activation_kind(twin)),
            binned_entropy(run.rows(), run.figures / "binned_entropy.png", title, beta)]


def figures_for_run(run_dir: str | Path) -> list[Path]:
    """Rebuild the twin and data of an existing szt, orthonormal or spiral run from its config.json and
    write this module's figures. Raises ValueError for another kind of run."""
    from noisynet.models import mlp

    run = RunView(run_dir)
    cfg = run.config
    exp = cfg.get("experiment")
    if exp in ("szt", "orthonormal"):
        from noisynet.data import load_szt

        data = load_szt()
        x, y = data.x, data.y
        title = f"{'SZT' if exp == 'szt' else 'SZT, orthonormal weights'}, {cfg['activation']}, " \
                f"beta = {cfg['beta']:g}, seed {cfg['seed']}"
        activation = cfg["activation"]
    elif exp == "spiral":
        from noisynet.data.spiral import make_spiral

        p = cfg["data"]
        data = make_spiral(p["m"], arms=p["arms"], turns=p["turns"], radius=p["radius"], noise=p["noise"],
                           test_fraction=p["test_fraction"], seed=p["seed"])
        x, y = data.x, data.y
        title = f"spiral, tanh {'-'.join(map(str, cfg['widths']))}, beta = {cfg['beta']:g}, seed {cfg['seed']}"
        activation = "tanh"
    else:
        raise ValueError(f"run_dir: experiment {exp!r} is not one of szt, orthonormal, spiral")
    twin = NoisyTwin(mlp(cfg["widths"], activation, seed=cfg["seed"]), cfg["beta"])
    return make_figures(run, twin, x, y, title=title, beta=cfg["beta"])


def main(argv: list[str] | None = None) -> list[Path]:
    p = argparse.ArgumentParser(description="Scatter, activation-histogram and binned-entropy figures of a run.")
    p.add_argument("run_dir", help="a run folder, e.g. runs/szt/tanh_beta0.005_seed0_e3000")
    args = p.parse_args(argv)
    paths = figures_for_run(args.run_dir)
    for path in paths:
        print(f"  figure: {path}")
    return paths


if __name__ == "__main__":
    main()
