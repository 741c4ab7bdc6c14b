"""What a sweep of SZT runs shows across seeds: its summary table, the compression statistics, the figures and
a docs/results.md section (``experiments.sweep`` writes them at the end of a sweep).

- summary.csv: one row per run, layer and measured epoch, read from the runs' metrics.csv: the run's settings
  (activation, beta, seed, epochs), I(X;T) and I(T;Y) with their 95% intervals and convergence (nats), the
  replicas R used, the data-processing flag, and the clustering diagnostics (binned entropy at the bin side
  nearest beta, within/between class distance ratio, silhouette, clusters at scale beta) and the accuracies
  (noise off) of that epoch.
- :func:`compression`: per activation, beta and layer, over seeds: in how many I(X;T) falls significantly
  after its peak (from the measured epoch of its largest estimate to the last measured epoch, the two 95%
  intervals not overlapping), the median and inter-quartile range of that fall (nats, every seed), and in how
  many of the significant falls the binned entropy and the class distance ratio fell too over the same epochs.
- Figures, per activation and beta: each layer's I(X;T) and I(T;Y) against epoch, median over seeds with the
  inter-quartile band; the information planes of all seeds overlaid, one panel per layer.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402

from experiments import plotting  # noqa: E402
from experiments.runs import atomic_write_bytes, read_csv, shown  # noqa: E402

SUMMARY_COLUMNS = (
    "run_id", "activation", "beta", "seed", "epochs", "epoch", "layer", "layer_dim",
    "I_XT", "I_XT_low", "I_XT_high", "I_XT_converged", "I_TY", "I_TY_low", "I_TY_high", "I_TY_converged",
    "replicas", "dpi_violation", "H_bin", "H_bin_delta", "class_ratio", "silhouette", "n_clusters",
    "train_acc", "test_acc",
)
COMPRESSION_COLUMNS = (
    "activation", "beta", "layer", "seeds", "significant", "fall_median", "fall_q25", "fall_q75",
    "peak_epoch_median", "h_bin_falls", "ratio_falls",
)


def _write(path: Path, columns: Sequence[str], rows: list[dict]) -> Path:
    lines = [",".join(columns)] + [",".join(_cell(r.get(c)) for c in columns) for r in rows]
    atomic_write_bytes(path, ("\n".join(lines) + "\n").encode())
    return path


def _cell(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    return repr(v) if isinstance(v, float) else str(v)


def _num(v: str | None) -> float:
    return float(v) if v not in ("", None) else math.nan


def run_summary(run_dir: Path) -> list[dict]:
    """The summary rows (SUMMARY_COLUMNS) of one szt run: one per layer and measured epoch where I(X;T) was
    estimated.

    Raises:
        OSError / ValueError / KeyError: config.json or metrics.csv missing, unreadable or not a szt run's."""
    cfg = json.loads((run_dir / "config.json").read_text())
    rows = read_csv(run_dir / "metrics.csv")
    beta = float(cfg["beta"])
    delta = plotting.nearest_param(rows, "H_bin", "delta", beta)
    by = defaultdict(dict)  # (epoch, layer) -> {quantity[/param]: row}
    acc = defaultdict(dict)
    m = None
    for r in rows:
        if r["layer"]:
            key = r["quantity"] if r["quantity"] != "H_bin" else f"H_bin/{r['param']}"
            by[(int(r["epoch"]), r["layer"])][key] = r
            if r["quantity"] == "H_bin":
                m = int(r["n"])
        elif r["estimator"] == "deterministic":
            acc[int(r["epoch"])][r["quantity"]] = r["value"]
    out = []
    for (epoch, layer), q in sorted(by.items(), key=lambda kv: (kv[0][0], len(kv[0][1]), kv[0][1])):
        ixt, ity = q.get("I_XT"), q.get("I_TY")
        if ixt is None:
            continue
        h = q.get(f"H_bin/{delta}")
        out.append({
            "run_id": run_dir.name, "activation": cfg["activation"], "beta": beta, "seed": cfg["seed"],
            "epochs": cfg["epochs"], "epoch": epoch, "layer": layer, "layer_dim": ixt["layer_dim"],
            "I_XT": ixt["value"], "I_XT_low": ixt["ci_low"], "I_XT_high": ixt["ci_high"],
            "I_XT_converged": ixt["converged"],
            "I_TY": ity["value"] if ity else "", "I_TY_low": ity["ci_low"] if ity else "",
            "I_TY_high": ity["ci_high"] if ity else "", "I_TY_converged": ity["converged"] if ity else "",
            "replicas": int(ixt["n"]) // m if ixt["n"] and m else "", "dpi_violation": ixt["dpi_violation"],
            "H_bin": h["value"] if h else "", "H_bin_delta": delta.split("=")[1] if h else "",
            "class_ratio": q["class_ratio"]["value"] if "class_ratio" in q else "",
            "silhouette": q["silhouette"]["value"] if "silhouette" in q else "",
            "n_clusters": q["n_clusters"]["value"] if "n_clusters" in q else "",
            "train_acc": acc[epoch].get("train_acc", ""), "test_acc": acc[epoch].get("test_acc", ""),
        })
    return out


def compression(summary: Sequence[dict]) -> list[dict]:
    """The compression statistics (module docstring) of summary rows, per (activation, beta, layer), in the
    order activation, beta, layer.

    A seed's fall is I(X;T) at its peak (the measured epoch of its largest estimate, the first if tied) minus
    I(X;T) at the last measured epoch (nats, >= 0); it is significant when the peak's 95% interval lies
    entirely above the last epoch's (ci_low at the peak > ci_high at the end). For the significant ones, the
    binned entropy (``h_bin_falls``) and the class distance ratio (``ratio_falls``) count when their value at
    the last epoch is below their value at the peak epoch. Epochs where I(X;T) was not estimated are left out.
    """
    series = defaultdict(lambda: defaultdict(list))  # (activation, beta, layer) -> seed -> rows
    for r in summary:
        if r["I_XT"] not in ("", None):
            series[(r["activation"], float(r["beta"]), r["layer"])][r["seed"]].append(r)
    order = {a: i for i, a in enumerate(("tanh", "relu", "linear"))}
    out = []
    for (act, beta, layer), seeds in sorted(series.items(), key=lambda kv: (order.get(kv[0][0], 9), kv[0][0],
                                                                            kv[0][1], len(kv[0][2]), kv[0][2])):
        falls, peaks, sig, h_too, r_too = [], [], 0, 0, 0
        for rows in seeds.values():
            rows = sorted(rows, key=lambda r: int(r["epoch"]))
            values = [_num(r["I_XT"]) for r in rows]
            peak, last = rows[int(np.argmax(values))], rows[-1]
            falls.append(_num(peak["I_XT"]) - _num(last["I_XT"]))
            peaks.append(int(peak["epoch"]))
            if _num(peak["I_XT_low"]) > _num(last["I_XT_high"]):
                sig += 1
                h_too += _num(last["H_bin"]) < _num(peak["H_bin"])
                r_too += _num(last["class_ratio"]) < _num(peak["class_ratio"])
        q25, q50, q75 = np.percentile(falls, [25, 50, 75])
        out.append({"activation": act, "beta": beta, "layer": layer, "seeds": len(falls), "significant": sig,
                    "fall_median": float(q50), "fall_q25": float(q25), "fall_q75": float(q75),
                    "peak_epoch_median": float(np.median(peaks)), "h_bin_falls": h_too, "ratio_falls": r_too})
    return out


def compression_markdown(stats: Sequence[dict], delta: str | None = None) -> str:
    """The compression statistics as a markdown table."""
    several = len({s["beta"] for s in stats}) > 1
    head = ["activation"] + (["beta"] if several else []) + [
        "layer", "significant fall after the peak", "fall, median [IQR] (nats)", "peak epoch (median)",
        f"H_bin{f' (bin {delta})' if delta else ''} falls too", "class ratio falls too"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for s in stats:
        cells = [s["activation"]] + ([f"{s['beta']:g}"] if several else []) + [
            s["layer"], f"{s['significant']}/{s['seeds']}",
            f"{s['fall_median']:.2f} [{s['fall_q25']:.2f}, {s['fall_q75']:.2f}]", f"{s['peak_epoch_median']:g}",
            f"{s['h_bin_falls']}/{s['significant']}", f"{s['ratio_falls']}/{s['significant']}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _groups(summary: Sequence[dict]) -> dict[tuple[str, float], list[dict]]:
    out = defaultdict(list)
    for r in summary:
        out[(r["activation"], float(r["beta"]))].append(r)
    return dict(out)


def _layers(rows: Sequence[dict]) -> list[str]:
    return sorted({r["layer"] for r in rows}, key=lambda s: (len(s), s))


def _stem(act: str, beta: float, several: bool) -> str:
    return act + (f"_beta{beta:g}" if several else "")


def mi_vs_epoch(rows: Sequence[dict], path: Path, title: str) -> Path:
    """Per layer (columns) I(X;T) and I(T;Y) (rows, nats) against epoch: median over seeds, band =
    inter-quartile range over seeds. ``rows``: the summary rows of one activation and beta; returns ``path``
    (PNG)."""
    layers = _layers(rows)
    fig, axes = plt.subplots(2, len(layers), figsize=(3.3 * len(layers), 6.2), squeeze=False, sharex=True)
    n_seeds = len({r["seed"] for r in rows})
    for j, layer in enumerate(layers):
        mine = [r for r in rows if r["layer"] == layer]
        epochs = sorted({int(r["epoch"]) for r in mine})
        for i, (q, label) in enumerate((("I_XT", "I(X;T) [nats]"), ("I_TY", "I(T;Y) [nats]"))):
            ax = axes[i, j]
            vals = [[_num(r[q]) for r in mine if int(r["epoch"]) == e] for e in epochs]
            ok = [k for k, v in enumerate(vals) if np.isfinite(v).any()]
            e = np.array(epochs)[ok]
            lo, med, hi = (np.array([np.nanpercentile(vals[k], p) for k in ok]) for p in (25, 50, 75))
            ax.fill_between(e, lo, hi, color=f"C{j}", alpha=0.3, lw=0, label="inter-quartile range")
            ax.plot(e, med, "-", color=f"C{j}", lw=1.5, label=f"median of {n_seeds} seeds")
            plotting.epoch_axis(ax)
            plotting.min_span(ax, "y")
            ax.yaxis.get_major_formatter().set_useOffset(False)
            ax.set_xlabel("epoch (symmetric log scale)" if i else "")
            if i == 0:
                ax.set_title(layer)
            if j == 0:
                ax.set_ylabel(label)
    axes[0, 0].legend(fontsize=7, loc="best")
    fig.suptitle(title)
    return plotting.save_figure(fig, path)


def information_planes(rows: Sequence[dict], path: Path, title: str) -> Path:
    """One panel per layer: I(T;Y) against I(X;T) (nats) of every seed (a grey line per seed through its
    measured epochs, points coloured by epoch). ``rows``: the summary rows of one activation and beta; returns
    ``path`` (PNG)."""
    layers = _layers(rows)
    fig, axes = plt.subplots(1, len(layers), figsize=(3.4 * len(layers) + 1.2, 3.9), squeeze=False)
    epochs = [int(r["epoch"]) for r in rows]
    norm = LogNorm(vmin=1, vmax=max(2, max(epochs)))
    sc = None
    for ax, layer in zip(axes[0], layers):
        mine = [r for r in rows if r["layer"] == layer and r["I_XT"] not in ("", None)]
        for seed in sorted({r["seed"] for r in mine}, key=int):
            pts = sorted((r for r in mine if r["seed"] == seed), key=lambda r: int(r["epoch"]))
            x, y = [_num(r["I_XT"]) for r in pts], [_num(r["I_TY"]) for r in pts]
            ax.plot(x, y, "-", color="0.6", lw=0.7, zorder=1)
            sc = ax.scatter(x, y, c=[max(int(r["epoch"]), 1) for r in pts], norm=norm, cmap="viridis", s=10,
                            zorder=2)
        ax.set_title(layer)
        ax.set_xlabel("I(X;T) [nats]")
        plotting.min_span(ax, "x")
        plotting.min_span(ax, "y")
        ax.xaxis.get_major_formatter().set_useOffset(False)
        ax.yaxis.get_major_formatter().set_useOffset(False)
        ax.grid(True, alpha=0.25)
    axes[0, 0].set_ylabel("I(T;Y) [nats]")
    fig.suptitle(title + " (one grey line per seed)")
    fig.tight_layout(rect=(0, 0, 0.93, 1))
    if sc is not None:
        fig.colorbar(sc, cax=fig.add_axes([0.945, 0.16, 0.012, 0.68]), label="epoch (log scale; 0 shown as 1)")
    return plotting.save_figure(fig, path, tight=False)


def write(sweep_dir: Path, run_dirs: Sequence[Path]) -> list[Path]:
    """summary.csv, compression.csv and the figures of the finished runs ``run_dirs``; returns their paths."""
    summary = [r for d in run_dirs for r in run_summary(Path(d))]
    paths = [_write(sweep_dir / "summary.csv", SUMMARY_COLUMNS, summary),
             _write(sweep_dir / "compression.csv", COMPRESSION_COLUMNS, compression(summary))]
    groups = _groups(summary)
    several = len({b for _, b in groups}) > 1
    for (act, beta), rows in groups.items():
        n = len({r["seed"] for r in rows})
        title = f"SZT {act}, beta = {beta:g}, {rows[0]['epochs']} epochs: {n} seeds"
        stem = _stem(act, beta, several)
        paths.append(mi_vs_epoch(rows, sweep_dir / "figures" / f"mi_vs_epoch_{stem}.png", title))
        paths.append(information_planes(rows, sweep_dir / "figures" / f"information_planes_{stem}.png", title))
    return paths


def compression_text(sweep_dir: Path) -> str:
    """The compression table of a written sweep, for the terminal."""
    summary = read_csv(sweep_dir / "summary.csv")
    if not summary:
        return "No finished run: no compression statistics."
    delta = next((r["H_bin_delta"] for r in summary if r["H_bin_delta"]), None)
    return ("Compression of I(X;T) after its peak, over seeds (nats; significant: the 95% intervals at the peak "
            "and at the last epoch do not overlap):\n" + compression_markdown(compression(summary), delta))


def reading(stats: Sequence[dict], summary: Sequence[dict]) -> str:
    """One paragraph, generated from the numbers, of what the compression statistics show."""
    parts = []
    acts = list(dict.fromkeys(s["activation"] for s in stats))
    for act in acts:
        mine = [s for s in stats if s["activation"] == act]
        n = max(s["seeds"] for s in mine)
        most = [s for s in mine if 2 * s["significant"] > s["seeds"]]
        acc = [_num(r["test_acc"]) for r in summary if r["activation"] == act and int(r["epoch"]) == int(r["epochs"])
               and r["layer"] == "T1"]
        text = f"With {act} ({n} seeds; final test accuracy median {100 * np.median(acc):.1f}%), "
        if most:
            text += "I(X;T) falls significantly after its peak in most seeds in " + ", ".join(
                f"{s['layer']} ({s['significant']}/{s['seeds']}, median fall {s['fall_median']:.2f} nats from a peak "
                f"at epoch {s['peak_epoch_median']:g} (median))" for s in most)
            h = sum(s["h_bin_falls"] for s in most)
            r = sum(s["ratio_falls"] for s in most)
            k = sum(s["significant"] for s in most)
            text += (f"; in those falls the binned entropy fell too in {h} of {k} and the within/between class "
                     f"ratio in {r} of {k}")
        else:
            best = max(mine, key=lambda s: s["significant"])
            text += (f"no layer's I(X;T) falls significantly after its peak in most seeds (at most "
                     f"{best['significant']}/{best['seeds']}, in {best['layer']})")
        parts.append(text + ".")
    total = sum(s["significant"] for s in stats)
    h = sum(s["h_bin_falls"] for s in stats)
    r = sum(s["ratio_falls"] for s in stats)
    if total:
        text = (f"Over all activations and layers, {total} significant falls were measured; the class distance "
                f"ratio fell with {r} of them and the binned entropy at the bin side nearest beta with {h}. ")
        if 5 * min(h, r) >= 4 * total:
            text += ("Nearly every fall comes with both, as the reading of compression as the clustering of "
                     "representations at the scale of the noise predicts (docs/theory.md, section 7).")
        elif 2 * r > total:
            text += ("The representations draw together by class in most falls, but do not always cluster at "
                     "the bin side nearest beta, the scale at which the reading of compression as clustering "
                     "(docs/theory.md, section 7) places it.")
        else:
            text += ("Most falls come without that clustering, against the reading of compression as the "
                     "clustering of representations at the scale of the noise (docs/theory.md, section 7).")
        parts.append(text)
    return " ".join(parts)


def results_section(sweep_dir: str | Path) -> str:
    """A markdown section on a finished sweep for docs/results.md: settings, the compression table, a
    paragraph generated from it, and the figures (linked where they are; the report copies them)."""
    sweep_dir = Path(sweep_dir)
    cfg = json.loads((sweep_dir / "config.json").read_text())
    summary = read_csv(sweep_dir / "summary.csv")
    stats = compression(summary)
    delta = next((r["H_bin_delta"] for r in summary if r["H_bin_delta"]), None)
    runs = len({r["run_id"] for r in summary})
    out = [(f"{runs} runs of `experiments.szt` ({', '.join(cfg['activations'])}; beta = "
            f"{', '.join(f'{b:g}' for b in cfg['betas'])}; seeds {', '.join(map(str, cfg['seeds']))}; "
            f"{cfg['epochs']} epochs, every other setting at its default), made by `python -m experiments.sweep`. "
            "A seed's fall is I(X;T) at its peak minus I(X;T) at the last measured epoch; it is significant "
            "when the two 95% intervals do not overlap. The binned entropy and the class distance ratio "
            "\"fall too\" when they are lower at the last epoch than at the peak epoch."), "",
           compression_markdown(stats, delta), "", reading(stats, summary), ""]
    several = len({b for _, b in _groups(summary)}) > 1  # as write() names the figures
    for act, beta in _groups(summary):
        stem = _stem(act, beta, several)
        for name, what in (("mi_vs_epoch", "against epoch"), ("information_planes", "information planes")):
            path = sweep_dir / "figures" / f"{name}_{stem}.png"
            if path.exists():
                out += [f"![sweep {stem} {what}]({path.resolve()})", ""]
    out.append(f"Summary: `{shown(sweep_dir / 'summary.csv')}` (one row per run, layer and measured epoch).")
    return "\n".join(out)
