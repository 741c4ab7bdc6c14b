"""Figures and the report of experiments.compare_estimators: one information-plane panel per estimator on
shared axes, transfer entropy between consecutive layers, and the markdown for docs/results.md (agreement of
every estimator with SP on the SZT run, the ground-truth error table)."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402
from scipy.special import digamma  # noqa: E402

from experiments import plotting  # noqa: E402
from experiments.estimator_truths import (  # noqa: E402
    BATTERY,
    ESTIMATORS,
    error_tables,
)
from experiments.runs import read_csv  # noqa: E402

# ------------------------------------------------------------------------------------------ figures

QUANTITIES = ("I_XT", "I_TY")
PANELS = ("sp",) + BATTERY + ("quantized_b4", "quantized_b8")
FALL = 0.1  # nats: a fall of I(X;T) after its maximum larger than this is read as "compression" in the report


def _plane(rows: Sequence[dict], estimator: str, layer: str) -> tuple[np.ndarray, ...]:
    """(epochs, I_XT, I_TY, ci arrays) of one estimator and layer, matched by epoch."""
    pick = {q: {int(r["epoch"]): r for r in rows if r["estimator"] == estimator and r["layer"] == layer
                and r["quantity"] == q} for q in QUANTITIES}
    epochs = sorted(set(pick["I_XT"]) & set(pick["I_TY"]))
    f = lambda v: float(v) if v not in ("", None) else np.nan  # noqa: E731
    cols = [[f(pick[q][e][k]) for e in epochs] for q in QUANTITIES for k in ("value", "ci_low", "ci_high")]
    return (np.array(epochs),) + tuple(np.array(c) for c in cols)


def information_planes(rows: Sequence[dict], path: Path, title: str, activation: str, *, m: int,
                       h_y: float) -> Path:
    """One information-plane panel per estimator, all on the same axes (nats): I(T;Y) against I(X;T) per
    layer (marker), coloured by epoch; SP with its 95% intervals; dotted lines at ln m and H(Y)."""
    rows = list(rows)
    layers = sorted({r["layer"] for r in rows if r["quantity"] == "I_XT" and r["estimator"] == "sp"},
                    key=lambda s: (len(s), s))
    panels = [p for p in PANELS if any(r["estimator"] == p for r in rows)]
    epochs = [int(r["epoch"]) for r in rows if r["quantity"] == "I_XT"]
    norm = LogNorm(vmin=1, vmax=max(2, max(epochs, default=2)))
    cols = 4
    nrows = math.ceil((len(panels) + 2) / cols)  # two spare axes: the legend; the colour bar and the notes
    fig, axes = plt.subplots(nrows, cols, figsize=(4.2 * cols, 3.4 * nrows), sharex=True, sharey=True,
                             squeeze=False)
    flat = list(axes.flat)
    markers = "osD^vP*Xh"
    sc = None
    for k, (ax, est) in enumerate(zip(flat, panels)):
        for i, layer in enumerate(layers):
            e, x, xl, xh, y, yl, yh = _plane(rows, est, layer)
            if not e.size:
                continue
            if est == "sp":
                ax.errorbar(x, y, xerr=np.abs([x - xl, xh - x]), yerr=np.abs([y - yl, yh - y]), fmt="none",
                            ecolor="0.6", lw=0.7, zorder=1)
            ax.plot(x, y, "-", color="0.75", lw=0.7, zorder=1)
            sc = ax.scatter(x, y, c=np.maximum(e, 1), norm=norm, cmap="viridis", marker=markers[i % 9], s=26,
                            edgecolors="k", linewidths=0.3, zorder=2, label=layer)
        ax.axvline(math.log(m), color="k", ls=":", lw=0.8)
        ax.axhline(h_y, color="k", ls=":", lw=0.8)
        label = ESTIMATORS[est]
        rng = "[-1, 1]" if activation == "tanh" else "[0, layer max over run]"
        if est == "binning_range":
            label = f"fixed binning, 30 equal bins on {rng}"
        elif est == "binning_szt":
            label = f"SZT's binning: digitize, 30 edges (29 bins) on {rng}"
        ax.set_title(label, fontsize=9)
        ax.grid(True, alpha=0.25)
        if k + cols >= len(panels):  # nothing below: label the x axis here
            ax.xaxis.set_tick_params(labelbottom=True)
            ax.set_xlabel("I(X;T) [nats]")
        if k % cols == 0:
            ax.set_ylabel("I(T;Y) [nats]")
    spare = flat[len(panels):]
    for ax in spare:
        ax.axis("off")
    handles, labels = flat[0].get_legend_handles_labels()
    spare[0].legend(handles, labels, title="layer (marker)", loc="center", fontsize=8)
    if sc is not None:
        cax = spare[1].inset_axes([0.05, 0.8, 0.9, 0.1])
        fig.colorbar(sc, cax=cax, orientation="horizontal", label="epoch (log scale; 0 shown as 1)")
    spare[1].text(0.0, 0.3, f"dotted lines: ln m = {math.log(m):.3f} (m = {m} inputs)\n"
                   f"and H(Y) = {h_y:.4f} nats (the a-priori maxima)\nSP: bars = 95% intervals\n"
                   "other estimators: no intervals", transform=spare[1].transAxes, fontsize=8, va="center")
    fig.suptitle(title)
    return plotting.save_figure(fig, path)


def transfer_entropy_figure(rows_by_act: dict[str, list[dict]], path: Path) -> Path:
    """TE between consecutive layers per pair of consecutive measured epochs (nats), forward (solid) and
    reverse (dashed: the same plug-in bias with no causal direction), one panel per activation."""
    fig, axes = plt.subplots(1, len(rows_by_act), figsize=(6.5 * len(rows_by_act), 4.3), squeeze=False)
    for ax, (act, rows) in zip(axes[0], rows_by_act.items()):
        pairs = sorted({r["layer"] for r in rows if r["quantity"] == "TE"})
        forward = [p for p in pairs if int(p.split("->")[0][1:]) < int(p.split("->")[1][1:])]
        for i, p in enumerate(sorted(forward)):
            a, b = p.split("->")
            for name, ls in ((p, "-"), (f"{b}->{a}", "--")):
                s = plotting.series(rows, "TE", name)
                ax.plot(s["epoch"], s["value"], ls, marker="o", ms=3, color=f"C{i}", label=name)
        ax.set_xscale("symlog", linthresh=1.0)
        ax.set_xlabel("epoch (symmetric log scale)")
        ax.grid(True, which="both", alpha=0.25)
        ax.set_ylabel("TE from the previous measured epoch [nats]")
        ax.set_title(f"{act}: transfer entropy between consecutive layers")
        ax.legend(fontsize=7, ncol=2, handlelength=3.5, title="solid: T_l->T_l+1, dashed: reverse")
    return plotting.save_figure(fig, path)


# ------------------------------------------------------------------------------------------ report


def _values(rows: Sequence[dict], est: str, q: str) -> dict[tuple[int, str], float]:
    return {(int(r["epoch"]), r["layer"]): float(r["value"]) for r in rows
            if r["estimator"] == est and r["quantity"] == q and r["value"] not in ("", None)}


def agreement(rows: Sequence[dict]) -> list[dict]:
    """Per estimator, its differences from SP at the same (epoch, layer) in nats: mean signed, mean absolute
    and the largest (with where), for I(X;T) and I(T;Y); and the last hidden layer's I(X;T) at the first
    measured epoch, its maximum and at the last epoch (the shape read as fitting/compression)."""
    out = []
    last = max({r["layer"] for r in rows if r["estimator"] == "sp" and r["quantity"] == "I_XT"},
               key=lambda s: (len(s), s))
    for est in PANELS:
        rec = {"estimator": est}
        for q in QUANTITIES:
            sp, v = _values(rows, "sp", q), _values(rows, est, q)
            keys = sorted(set(sp) & set(v))
            d = np.array([v[k] - sp[k] for k in keys])
            if d.size:
                i = int(np.argmax(np.abs(d)))
                rec[q] = {"mean": float(d.mean()), "mean_abs": float(np.abs(d).mean()), "max_abs": float(abs(d[i])),
                          "where": f"{keys[i][1]}, epoch {keys[i][0]}", "n": int(d.size)}
        traj = sorted((e, val) for (e, layer), val in _values(rows, est, "I_XT").items() if layer == last)
        if traj:
            vals = [t[1] for t in traj]
            rec["last_layer"] = {"layer": last, "first": vals[0], "max": max(vals), "last": vals[-1]}
        out.append(rec)
    return out


def final_table(rows: Sequence[dict]) -> str:
    """Last epoch, I(X;T) per layer and estimator (nats), as text."""
    epoch = max(int(r["epoch"]) for r in rows if r["quantity"] == "I_XT")
    layers = sorted({r["layer"] for r in rows if r["quantity"] == "I_XT" and r["estimator"] == "sp"},
                    key=lambda s: (len(s), s))
    lines = [f"I(X;T) at epoch {epoch} [nats]", f"{'estimator':40}" + "".join(f"{s:>8}" for s in layers)]
    for est in PANELS:
        v = _values(rows, est, "I_XT")
        if any((epoch, s) in v for s in layers):
            lines.append(f"{ESTIMATORS[est]:40}" + "".join(f"{v.get((epoch, s), math.nan):8.3f}" for s in layers))
    return "\n".join(lines)


def _rel(path: Path, relative_to) -> str:
    return os.path.relpath(path, relative_to) if relative_to is not None else str(path)


def results_section(run_dir: str | Path, *, relative_to: str | Path | None = "docs") -> str:
    """Markdown for docs/results.md: the figures, the agreement with SP on the SZT runs, the ground-truth
    error tables and a paragraph on where the estimators agree and contradict each other, with numbers.

    Args:
        run_dir: a finished ``runs/compare_estimators/<run-id>`` folder.
        relative_to: folder the markdown lives in (image links are made relative to it); None: paths as given.

    Returns:
        str (markdown).

    Raises:
        FileNotFoundError: no config.json in run_dir.
    """
    root = Path(run_dir)
    cfg = json.loads((root / "config.json").read_text())
    info = json.loads((root / "summary.json").read_text()) if (root / "summary.json").exists() else {}
    acts = [a for a in ("tanh", "relu") if (root / a / "metrics.csv").exists()]
    wall = f", wall time {info['wall_seconds'] / 60:.0f} min" if "wall_seconds" in info else ""
    md = ["### Every estimator on the same run", "",
          f"`python -m experiments.compare_estimators` ({cfg['epochs']} epochs, {cfg['measure']} log-spaced measured "
          f"epochs, beta = {cfg['beta']:g}, seed {cfg['seed']}, the first {cfg['inputs']} SZT inputs each once"
          f"{wall}). One noisy twin per activation gives the SP estimate; every other estimator is applied to the same "
          "network at the same epochs on the same inputs (the quantized nets are trained separately with the same "
          "seed, data, optimiser and batch order, without noise). Values in nats.", ""]
    for act in acts:
        fig = root / "figures" / f"information_planes_{act}.png"
        md += [f"![information planes, {act}]({_rel(fig, relative_to)})", ""]
    md += [f"![transfer entropy]({_rel(root / 'figures' / 'transfer_entropy.png', relative_to)})", ""]
    paragraphs = []
    for act in acts:
        rows = read_csv(root / act / "metrics.csv")
        rec = agreement(rows)
        md += [f"Difference from SP on the {act} run, estimator - SP at the same layer and epoch [nats] "
               "(mean, mean |.|, largest |.| and where); last hidden layer's I(X;T): first measured epoch -> "
               "maximum -> last epoch", "",
               "| estimator | I(X;T) mean | mean abs | max abs (where) | I(T;Y) mean | mean abs | last layer I(X;T) |",
               "|---|---:|---:|---|---:|---:|---|"]
        for r in rec:
            a, b, t = r.get("I_XT"), r.get("I_TY"), r.get("last_layer")
            cell = lambda d, k: f"{d[k]:+.3f}" if d and k == "mean" else (f"{d[k]:.3f}" if d else "-")  # noqa: E731
            if r["estimator"] == "sp":
                a = b = None
            md.append(f"| {ESTIMATORS[r['estimator']]} | {cell(a, 'mean')} | {cell(a, 'mean_abs')} | "
                      + (f"{a['max_abs']:.3f} ({a['where']})" if a else "-")
                      + f" | {cell(b, 'mean')} | {cell(b, 'mean_abs')} | "
                      + (f"{t['first']:.2f} -> {t['max']:.2f} -> {t['last']:.2f}" if t else "-") + " |")
        md.append("")
        paragraphs.append(_paragraph(act, rec, rows))
    if (root / "ground_truth.csv").exists():
        md += ["### Error on the ground-truth suite", "", error_tables(read_csv(root / "ground_truth.csv")), ""]
        paragraphs.append(_truth_paragraph(read_csv(root / "ground_truth.csv")))
    md += ["### Where the estimators agree and where they contradict each other", "",
           "What each estimator measures differs: SP estimates I(X;T_l) of the noisy twin (noise after every "
           "layer, so it propagates); KSG and the kNN estimator with X as a label use samples of the same twin; "
           "binning, the KDE bounds, matrix-based Renyi and the quantized nets see a deterministic representation "
           "(binning and quantization: the clustering at the bin or level scale; KDE: that representation read out "
           "with Gaussian noise at this layer only). Differences from SP therefore mix estimator error with a "
           "change of quantity, except where both target the same thing (T1 for KDE; every layer for the kNN "
           "estimators). The ground-truth table separates the two.", ""]
    md += [p + "\n" for p in paragraphs]
    return "\n".join(md)


def _paragraph(act: str, rec: list[dict], rows: Sequence[dict]) -> str:
    by = {r["estimator"]: r for r in rec}
    agree = [e for e, r in by.items() if e != "sp" and r.get("I_XT") and r["I_XT"]["mean_abs"] < 0.1]
    far = sorted((e for e, r in by.items() if e != "sp" and r.get("I_XT") and r["I_XT"]["mean_abs"] >= 0.5),
                 key=lambda e: -by[e]["I_XT"]["mean_abs"])
    sp_t = by["sp"].get("last_layer")
    s = [f"**{act}.**"]
    if agree:
        s.append("Within 0.1 nats of SP on I(X;T) on average: " + ", ".join(
            f"{ESTIMATORS[e]} ({by[e]['I_XT']['mean_abs']:.3f})" for e in agree) + ".")
    if far:
        s.append("Far from SP (mean |difference| >= 0.5 nats): " + "; ".join(
            f"{ESTIMATORS[e]} {by[e]['I_XT']['mean']:+.2f} on average, up to {by[e]['I_XT']['max_abs']:.2f} "
            f"({by[e]['I_XT']['where']})" for e in far) + ".")
    if sp_t:
        drop = sp_t["max"] - sp_t["last"]
        fall = (f"a fall of {drop:.2f} nats after its maximum" if drop > FALL
                else f"no fall of more than {FALL} nats after its maximum")
        s.append(f"SP's {sp_t['layer']} goes {sp_t['first']:.2f} -> max {sp_t['max']:.2f} -> {sp_t['last']:.2f} nats "
                 f"({fall}).")
        other = []
        for e, r in by.items():
            t = r.get("last_layer")
            if e == "sp" or not t:
                continue
            d = t["max"] - t["last"]
            if (d > FALL) != (drop > FALL):
                other.append(f"{ESTIMATORS[e]} ({t['first']:.2f} -> {t['max']:.2f} -> {t['last']:.2f})")
        if other:
            s.append(f"Estimators that contradict SP on whether that layer compresses (a fall of more than {FALL} "
                     "nats after the maximum): " + "; ".join(other) + ".")
    t1 = [(e, v) for (e, layer), v in _values(rows, "sp", "I_XT").items() if layer == "T1"]
    lo, hi = _values(rows, "kde_lower", "I_XT"), _values(rows, "kde_upper", "I_XT")
    ci = {(int(r["epoch"]), r["layer"]): (float(r["ci_low"]), float(r["ci_high"])) for r in rows
          if r["estimator"] == "sp" and r["quantity"] == "I_XT" and r["ci_low"] not in ("", None)}
    inside = [e for e, v in t1 if (e, "T1") in lo and lo[(e, "T1")] <= ci[(e, "T1")][1] + 1e-9
              and ci[(e, "T1")][0] <= hi[(e, "T1")] + 1e-9]
    if t1:
        gap = max(hi[(e, "T1")] - lo[(e, "T1")] for e, _ in t1 if (e, "T1") in lo)
        s.append(f"At T1, where SP and the KDE bounds with noise std beta describe the same mixture, SP's interval "
                 f"meets the bracket [KDE lower, KDE upper] at {len(inside)} of {len(t1)} epochs (bracket width up "
                 f"to {gap:.3f} nats); deeper, KDE, binning and Renyi see the deterministic layer (noise only at the "
                 "read-out), while SP and the kNN estimators see the twin, whose noise propagates.")
    ksg = [float(r["value"]) for r in rows if r["estimator"] == "ksg" and r["quantity"] == "I_XT" and r["value"]]
    k = int(next((p.split("=")[1].split(";")[0] for r in rows if r["estimator"] == "ksg"
                  for p in [r["param"]] if p.startswith("k=")), 3))
    const = float(digamma(k) - digamma(1))
    near = sum(abs(v - const) < 0.05 for v in ksg)
    if ksg and near >= len(ksg) / 2:
        s.append(f"KSG's I(X;T) sits at psi(k) - psi(1) = {const:.2f} nats (within 0.05) in {near} of {len(ksg)} "
                 "layer-epochs: the inputs are distinct binary vectors at max-norm distance 1, so every point's k-th "
                 "joint neighbour is at distance 1 once T varies by less than 1, and the estimate stops depending "
                 "on T" + (f"; with X entering as a label instead (R draws per input) the kNN estimate is "
                           f"{by['ksg_ross']['I_XT']['mean_abs']:.2f} nats from SP on average"
                           if by.get("ksg_ross", {}).get("I_XT") else "") + ".")
    return " ".join(s)


def _truth_paragraph(rows: Sequence[dict]) -> str:
    per: dict[str, list[float]] = {}
    for r in rows:
        if r["status"] == "=" and r["error"] not in ("", None) and r["quantity"] == "I_XT":
            per.setdefault(r["estimator"], []).append(abs(float(r["error"])))
    ranked = sorted(per, key=lambda e: np.mean(per[e]))
    cover = [r for r in rows if r["estimator"] == "sp"]
    n_cov = sum(r["covers"] == "True" for r in cover)
    return ("**Ground truth.** Mean |error| on I(X;T) over the cases each estimator targets: " + ", ".join(
        f"{ESTIMATORS[e]} {np.mean(per[e]):.3f} ({len(per[e])} cases)" for e in ranked)
        + f". SP's 95% interval covers the truth in {n_cov} of {len(cover)} cells (I(X;T) and I(T;Y)).")
