"""Figures and the results table of experiments.compare (deterministic network against its noisy twins),
and the encoding of its rows' ``param`` column: ``net=deterministic|noisy|pair;beta=...;delta=...|eps=...``."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from estimators import clustering
from experiments.plotting import plt, save_figure

DET = "deterministic"


def param(net: str, beta: float | None = None, **extra) -> str:
    """The ``param`` cell: "net=<net>[;beta=<beta>][;key=value...]" (module docstring)."""
    parts = [f"net={net}"] + ([f"beta={beta:g}"] if beta is not None else [])
    return ";".join(parts + [f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in extra.items()])


def parse_param(text: str) -> dict[str, str]:
    """Inverse of :func:`param`: {"net": ..., "beta": ..., ...} (values as strings)."""
    return dict(p.split("=", 1) for p in text.split(";") if p) if text else {}


def unit_of(row: dict) -> str:
    """Which network's measurement a row belongs to: "deterministic" or "beta=<b>" (twin and pair rows)."""
    p = parse_param(row.get("param") or "")
    return DET if p.get("net") == DET else f"beta={p.get('beta')}"




# ---- figures and the results table --------------------------------------------------------------------------

def select(rows, quantity: str, net: str, layer: str = "", estimator: str | None = None, **keys) -> dict:
    """{beta: row} of one quantity for one network (``net``: deterministic, noisy or pair), one layer, with the
    given estimator and param keys (a key set to None must be absent)."""
    out = {}
    for r in rows:
        p = parse_param(r["param"])
        if (r["quantity"] != quantity or r["layer"] != layer or p.get("net") != net
                or (estimator is not None and r["estimator"] != estimator)
                or any(p.get(k) != (None if v is None else f"{v:g}" if isinstance(v, float) else str(v))
                       for k, v in keys.items())):
            continue
        out[float(p["beta"]) if "beta" in p else None] = r
    return out


def _v(r: dict | None, key: str = "value") -> float:
    return float(r[key]) if r is not None and r.get(key) not in ("", None) else np.nan


def _sites(rows) -> list[tuple[str, int]]:
    found = {(r["layer"], int(r["layer_dim"])) for r in rows if r["quantity"] == "silhouette"}
    return sorted(found, key=lambda s: (len(s[0]), s[0]))


def _betas(rows) -> list[float]:
    params = (parse_param(r["param"]) for r in rows)
    return sorted({float(p["beta"]) for p in params if p.get("net") == "noisy"})


def _beta_axis(ax, betas) -> None:
    ax.set_xscale("log")
    ax.set_xlabel("noise std beta (log scale)")
    ax.grid(True, which="major", alpha=0.25)
    if betas:
        ax.set_xlim(min(betas) / 1.6, max(betas) * 1.6)
        ax.set_xticks(betas, [f"{b:g}" for b in betas])
        ax.minorticks_off()


def accuracy_figure(rows, path: Path, title: str) -> Path:
    """Test and train accuracy [%] against beta: the twin noise off / on, the deterministic network noise off
    (horizontal line) and with noise beta added to its weights' layers."""
    betas = _betas(rows)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6))
    for ax, split in zip(axes, ("test", "train")):
        q = f"{split}_acc"
        det = _v(select(rows, q, DET, estimator="deterministic").get(None))
        ax.axhline(100 * det, color="k", lw=1.2, label=f"deterministic net, noise off ({100 * det:.2f}%)")
        for net, est, fmt, label in (("noisy", "deterministic", "o-", "noisy twin, noise off"),
                                     ("noisy", "noisy", "s--", "noisy twin, noise on"),
                                     (DET, "noisy", "x:", "deterministic net + noise beta")):
            sel = select(rows, q, net, estimator=est)
            sel.pop(None, None)
            b = sorted(sel)
            ax.plot(b, [100 * _v(sel[x]) for x in b], fmt, label=label)
        _beta_axis(ax, betas)
        ax.set_ylabel(f"{split} accuracy [%]")
        ax.legend(fontsize=8)
    fig.suptitle(title + ": accuracy of the deterministic network and its noisy twins")
    return save_figure(fig, path)


def similarity_figure(rows, path: Path, title: str) -> Path:
    """Linear CKA and mean matched cosine between the twin's and the deterministic network's noise-off
    representations, per layer, against beta."""
    betas = _betas(rows)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6))
    for ax, (q, label) in zip(axes, (("cka", "linear CKA (twin vs deterministic)"),
                                     ("cos_match", "mean cosine of matched representations"))):
        for site, d in _sites(rows):
            sel = select(rows, q, "pair", site, estimator=None)
            b = sorted(sel)
            ax.plot(b, [_v(sel[x]) for x in b], "o-", ms=4, label=f"{site} (d={d})")
        if q == "cka":
            ax.axhline(0.9, color="k", ls=":", lw=1)
            ax.annotate("proxy criterion: CKA >= 0.9", (0.02, 0.9), xycoords=("axes fraction", "data"),
                        va="bottom", fontsize=8)
        _beta_axis(ax, betas)
        ax.set_ylabel(label + " [unitless]")
        ax.legend(title="layer", fontsize=8)
    fig.suptitle(title + ": representation similarity, same initialisation and data order")
    return save_figure(fig, path)


def _nearest_delta(beta: float) -> float:
    return min(clustering.DEFAULT_DELTAS, key=lambda dl: abs(math.log(dl / beta)))


def clustering_figure(rows, path: Path, title: str) -> Path:
    """Class distance ratio, silhouette, binned entropy at the bin side nearest beta and number of clusters at
    scale beta, per layer, of the twin (solid) and the deterministic network (dashed), against beta."""
    betas = _betas(rows)
    panels = (("class_ratio", "within / between class\nmean distance"), ("silhouette", "silhouette score"),
              ("H_bin", "H(Bin(T)) [nats], bin side = the Delta\nin 1e-4, 3e-4, ..., 0.1 nearest beta"),
              ("n_clusters", "clusters at scale eps = beta\n[count, log scale]"))
    fig, axes = plt.subplots(2, 2, figsize=(12, 9))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, (q, label) in zip(axes.flat, panels):
        for i, (site, d) in enumerate(_sites(rows)):
            for net, fmt in (("noisy", "o-"), (DET, "x--")):
                ys = []
                for b in betas:
                    key = {"delta": _nearest_delta(b)} if q == "H_bin" else {"eps": b} if q == "n_clusters" else {}
                    sel = select(rows, q, net, site, **key)
                    ys.append(_v(sel.get(b if net == "noisy" else None)))
                ax.plot(betas, ys, fmt, color=colours[i % len(colours)], ms=4,
                        label=f"{site} (d={d}), {'twin' if net == 'noisy' else 'deterministic'}")
        _beta_axis(ax, betas)
        ax.set_ylabel(label)
    axes.flat[3].set_yscale("log")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.suptitle(title + ": clustering of the noise-off representations (solid: twin, dashed: deterministic)")
    fig.tight_layout(rect=(0, 0.09, 1, 1))
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 6), fontsize=8)
    return save_figure(fig, path, tight=False)


def mi_figure(rows, path: Path, title: str, m: int) -> Path:
    """I(X;T_l) of the twin against beta, with 95% intervals, for the layers the SP estimator was run on
    (an open marker: the nested-replica diagnostic did not converge, and the interval reaches the a-priori
    bound on that side); the layers it was not run on are listed in the figure."""
    betas = _betas(rows)
    fig, ax = plt.subplots(figsize=(10, 5.2))
    skipped, unconverged = [], False
    for site, d in _sites(rows):
        sel = select(rows, "I_XT", "noisy", site, estimator="sp")
        est = {b: r for b, r in sel.items() if r["value"] != ""}
        if not est:
            skipped.append(f"{site} (d={d})")
            continue
        b = sorted(est)
        v = np.array([_v(est[x]) for x in b])
        err = np.abs(np.vstack([v - [_v(est[x], "ci_low") for x in b], [_v(est[x], "ci_high") for x in b] - v]))
        line = ax.errorbar(b, v, yerr=err, fmt="o-", ms=5, capsize=3, label=f"{site} (d={d})")
        bad = [x for x in b if est[x]["converged"] == "False"]
        if bad:
            unconverged = True
            ax.plot(bad, [_v(est[x]) for x in bad], "o", ms=7, color=line[0].get_color(), mfc="w", zorder=3)
    ax.axhline(math.log(m), color="k", ls=":", lw=1, label=f"ln m = {math.log(m):.3f} (m = {m} inputs)")
    if unconverged:
        ax.plot([], [], "o", color="k", mfc="w", label="open: not converged\n(interval to the a-priori bound)")
    if skipped:
        ax.text(0.02, 0.02, "not estimated (width above --max-sp-dim):\n" + ", ".join(skipped),
                transform=ax.transAxes, fontsize=8, va="bottom", bbox={"fc": "w", "ec": "0.7"})
    _beta_axis(ax, betas)
    ax.set_ylabel("I(X;T) of the noisy twin [nats]")
    ax.legend(title="layer (bars: 95% interval)", fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.suptitle(title + ": information in the twin's layers (SP estimator)")
    return save_figure(fig, path)



def all_figures(rows, folder: Path, title: str, m: int) -> list[Path]:
    return [accuracy_figure(rows, folder / "accuracy_vs_beta.png", title),
            similarity_figure(rows, folder / "similarity_vs_beta.png", title),
            clustering_figure(rows, folder / "clustering_vs_beta.png", title),
            mi_figure(rows, folder / "mi_vs_beta.png", title, m)]


CRITERION = ("the twin is a good proxy of the deterministic network at beta when its noise-off test accuracy is "
             "within 1 percentage point of the deterministic network's AND the linear CKA between their "
             "noise-off representations is >= 0.9 in every hidden layer")


def results_table(rows) -> str:
    """The markdown table of :func:`results_section` (accuracies in %, I(X;T) in nats)."""
    det = _v(select(rows, "test_acc", DET, estimator="deterministic").get(None))
    sites = _sites(rows)
    last = [s for s, d in sites if any(r["value"] != "" for r in select(rows, "I_XT", "noisy", s).values())]
    head = ("| beta | det. test acc, noise off | det. + noise beta | twin, noise off | twin, noise on | "
            "min CKA (layer) | min matched cosine | " + (f"I(X;{last[-1]}) [nats, 95% CI]" if last else "I(X;T)")
            + " | good proxy |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for b in _betas(rows):
        off = _v(select(rows, "test_acc", "noisy", estimator="deterministic").get(b))
        on = _v(select(rows, "test_acc", "noisy", estimator="noisy").get(b))
        dn = _v(select(rows, "test_acc", DET, estimator="noisy").get(b))
        cka = {s: _v(select(rows, "cka", "pair", s).get(b)) for s, _ in sites}
        cos = [_v(select(rows, "cos_match", "pair", s).get(b)) for s, _ in sites]
        worst = min(cka, key=lambda s: cka[s]) if cka else None
        mi = "-"
        if last:
            r = select(rows, "I_XT", "noisy", last[-1]).get(b)
            if r is not None and r["value"] != "":
                mi = f"{_v(r):.3f} [{_v(r, 'ci_low'):.3f}, {_v(r, 'ci_high'):.3f}]"
        good = abs(off - det) <= 0.01 and all(v >= 0.9 for v in cka.values())
        lines.append(f"| {b:g} | {100 * det:.2f} | {100 * dn:.2f} | {100 * off:.2f} | {100 * on:.2f} | "
                     f"{cka[worst]:.3f} ({worst}) | {np.nanmin(cos):.3f} | {mi} | {'yes' if good else 'no'} |")
    return "\n".join(lines)


def layer_table(rows) -> str:
    """Markdown table per beta and layer: similarity, clustering of both networks, I(X;T) of the twin."""
    lines = ["| beta | layer (d) | CKA | matched cosine | class ratio det. / twin | silhouette det. / twin | "
             "I(X;T) of the twin [nats, 95% CI] |", "|---|---|---|---|---|---|---|"]
    for b in _betas(rows):
        for site, d in _sites(rows):
            def one(q, net, key=b):
                return _v(select(rows, q, net, site).get(key))
            r = select(rows, "I_XT", "noisy", site).get(b)
            if r is None:
                mi = "-"
            elif r["value"] == "":
                mi = f"not estimated ({parse_param(r['param']).get('not_estimated', '')})"
            else:
                mi = f"{_v(r):.3f} [{_v(r, 'ci_low'):.3f}, {_v(r, 'ci_high'):.3f}]"
            lines.append(f"| {b:g} | {site} ({d}) | {one('cka', 'pair'):.3f} | {one('cos_match', 'pair'):.3f} | "
                         f"{one('class_ratio', DET, None):.3f} / {one('class_ratio', 'noisy'):.3f} | "
                         f"{one('silhouette', DET, None):.3f} / {one('silhouette', 'noisy'):.3f} | {mi} |")
    return "\n".join(lines)


def results_markdown(rows, cfg: dict, run_dir: Path) -> str:
    setup = (run_dir / "setup.txt").read_text().strip() if (run_dir / "setup.txt").exists() else cfg["dataset"]
    good = [line.split("|")[1].strip() for line in results_table(rows).splitlines()[2:] if line.endswith("yes |")]
    verdict = (f"The twin is a good proxy for beta in {{{', '.join(good)}}}." if good
               else "The twin is a good proxy for none of the betas measured.")
    return "\n".join([
        f"### Deterministic network versus noisy twin ({cfg['dataset']}, {cfg['epochs']} epochs, seed {cfg['seed']})",
        "", f"{setup}. Both networks start from the same initialisation and see the same batch order.",
        f"Criterion: {CRITERION}.", "", results_table(rows), "", verdict, "",
        "Per layer (noise-off representations; class ratio = mean within- / between-class distance):", "",
        layer_table(rows)])


