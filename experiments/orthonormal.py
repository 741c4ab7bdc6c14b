"""SZT with orthonormal hidden weights: does compression go away when clustering cannot happen?
(Goldfeld et al., ICML 2019, section 5; Cisse et al., ICML 2017; docs/theory.md, section 8.)

    python -m experiments.orthonormal [--alpha 0.01] [any experiments.szt option] [--no-baseline]
                                      [--threads 1] [--out runs] [--resume]

Trains the SZT noisy twin exactly as ``experiments.szt`` does (same data, split, initialisation, batch order
and noise for a given seed), except that after every optimiser step each hidden layer's weight matrix takes
one Parseval retraction step W <- W - alpha (W W^T W - W) (:class:`noisynet.constraints.ParsevalRetraction`),
which holds its singular values near 1: weights cannot grow, tanh units cannot saturate, and same-class
representations cannot collapse onto each other.

The comparison is with the unconstrained run of the same settings, ``runs/szt/<run-id>``: reused when it
exists (resumed if it was interrupted, with ``experiments.szt``'s --resume semantics), trained and measured
here otherwise. The defaults are ``experiments.szt``'s except for the measurement: 25 measured epochs
with a fixed R = 32 replicas (``--measure 25 --replicas 32 --target-half-width 0``) instead of R adapting
up to 128, so that both runs fit in about 15 minutes on 2 cores; pass szt's settings to compare with the
default szt run itself. Both runs use ``--threads`` torch/BLAS threads (default 1: the SZT tensors are
tiny, and on a busy 2-core machine two threads made training and measuring ~10x slower).

Writes runs/orthonormal/<run-id>/ (the szt layout: config.json with alpha and the baseline's folder,
metrics.csv, checkpoints/, figures/) plus figures/comparison.png (I(X;T), binned entropy at the bin side
nearest beta, class distance ratio and saturated fraction per layer, unconstrained beside orthonormal) and
figures/weight_spectra.png, and prints the comparison table of :func:`comparison`.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch

from experiments import arguments, parallel, plotting, szt, szt_figures, threads
from experiments.runs import Run
from noisynet.constraints import DEFAULT_ALPHA, ParsevalRetraction, hidden_linear_layers
from noisynet.data import load_szt
from noisynet.models import mlp
from noisynet.twin import NoisyTwin

_OWN = ("alpha", "no_baseline", "threads")
# experiments.szt's defaults measure 40 epochs with R adapting up to 128 replicas, whose cost on the clustered
# last layers of the unconstrained run grows about linearly with R. Here R is fixed at 32 (intervals up to 0.4
# nats wide at T4, T5 where converged) and 25 epochs are measured: both runs took 14 minutes on 2 cores.
DEFAULTS = {"measure": 25, "replicas": 32, "target_half_width": 0.0}


def parser() -> argparse.ArgumentParser:
    p = szt.parser(__doc__)
    p.add_argument("--alpha", type=float, default=DEFAULT_ALPHA,
                   help="Parseval retraction step: W <- W - alpha (W W^T W - W) after every optimiser step")
    p.add_argument("--no-baseline", action="store_true",
                   help="do not train the unconstrained run if it is missing (compare with what exists)")
    p.set_defaults(**DEFAULTS)
    return p


def _szt_argv(args: argparse.Namespace, run_id: str, resume: bool) -> list[str]:
    """Command line for experiments.szt.main with the settings of ``args`` (every option explicit)."""
    argv = []
    for action in szt.parser()._actions:
        name = action.dest
        if name in ("help", "run_id", "resume") or name in _OWN:
            continue
        flag = action.option_strings[0]
        value = getattr(args, name)
        if isinstance(action, argparse._StoreTrueAction):
            argv += [flag] if value else []
        elif value is not None:
            argv += [flag, str(value)]
    return argv + ["--run-id", run_id] + (["--resume"] if resume else [])


def _suffix(args: argparse.Namespace) -> str:
    """Settings that differ from experiments.szt's defaults and are not already in its run id."""
    base = szt.parser().parse_args([])
    skip = {"activation", "beta", "seed", "epochs", "out", "run_id", "resume", "no_extra_figures", *_OWN,
            *parallel.EXECUTION}
    parts = []
    for k, v in sorted(vars(args).items()):
        if k in skip or getattr(base, k, v) == v:
            continue
        if k == "measure" and v == (100 if args.epochs >= 10_000 else 40):
            continue  # szt's implicit default
        parts.append(f"{k.replace('_', '')}{v:g}" if isinstance(v, float) else
                     f"{k.replace('_', '')}" if v is True else f"{k.replace('_', '')}{v}")
    return "".join("_" + p for p in parts)


def baseline_id(args: argparse.Namespace) -> str:
    """Run id of the unconstrained szt run with the same settings (szt's own id when they are its defaults)."""
    return f"{args.activation}_beta{args.beta:g}_seed{args.seed}_e{args.epochs}" + _suffix(args)


def _same_settings(run_dir: Path, args: argparse.Namespace) -> bool:
    """Whether the szt run in ``run_dir`` was made with the szt settings of ``args``."""
    cfg = szt_figures.RunView(run_dir).config
    skip = {"help", "out", "run_id", "resume", "no_extra_figures", "measure", *_OWN, *parallel.EXECUTION}
    same = all(cfg.get(a.dest) == getattr(args, a.dest) for a in szt.parser()._actions if a.dest not in skip)
    measure = args.measure or (100 if args.epochs >= 10_000 else 40)
    return same and cfg.get("measure") == measure and cfg.get("experiment") == "szt"


def _complete(run_dir: Path) -> bool:
    """Whether a szt run has measured its last scheduled epoch in full."""
    view = szt_figures.RunView(run_dir)
    cfg = view.config
    from experiments.loop import last_quantity
    from experiments.runs import log_schedule

    last = log_schedule(cfg["epochs"], cfg["measure"])[-1]
    final = last_quantity(True, not cfg.get("no_diagnostics", False))
    done = {r["layer"] for r in view.rows() if r["epoch"] == str(last) and r["quantity"] == final}
    return len(done) == len(cfg["widths"]) - 2


@arguments.command
def main(argv: list[str] | None = None) -> Run:
    """Parse ``argv`` and run with torch and the BLAS pools limited to --threads (restored afterwards)."""
    args = parser().parse_args(argv)
    check(args)
    with threads.limited(args.threads), parallel.started(args):  # one Ray instance for both runs
        return _run(args)


def check(args: argparse.Namespace) -> None:
    """Every option, and this run's folder, before the unconstrained run is trained (SystemExit naming the
    option)."""
    szt.check(args)
    if not (0 < args.alpha <= 0.5):
        raise SystemExit(f"--alpha: got {args.alpha}, expected a retraction step in (0, 0.5] (a contraction)")
    run_id, config = _settings(args)
    arguments.run_folder(args.out, "orthonormal", run_id, config, resume=args.resume)


def _settings(args: argparse.Namespace) -> tuple[str, dict]:
    """The run id and config.json of the orthonormal run (what experiments.szt will store for it)."""
    base_id = baseline_id(args)
    run_id = args.run_id or base_id.replace(f"_e{args.epochs}", f"_e{args.epochs}_alpha{args.alpha:g}", 1)
    szt_args = szt.parser().parse_args(_szt_argv(args, run_id, args.resume))
    return szt.run_settings(szt_args, "orthonormal", True, _extra_config(args))


def _extra_config(args: argparse.Namespace) -> dict:
    return {"alpha": args.alpha, "baseline_run": f"szt/{baseline_id(args)}"}


def _run(args: argparse.Namespace) -> Run:
    t0 = time.perf_counter()
    base_id = baseline_id(args)
    base_dir = Path(args.out) / "szt" / base_id
    exists = (base_dir / "config.json").exists()
    if exists and not _same_settings(base_dir, args):
        raise SystemExit(f"--out: the unconstrained run {base_dir} exists with other settings than this run's: "
                         "move it away, or change a setting (e.g. --seed) so that the baseline gets another run id")
    if exists and _complete(base_dir):
        print(f"Unconstrained run: reusing {base_dir}")
    elif not args.no_baseline:
        resume = (base_dir / "config.json").exists()
        print(f"Unconstrained run: {'resuming' if resume else 'training'} {base_dir}")
        szt.main(_szt_argv(args, base_id, resume))
    run_id = _settings(args)[0]
    retraction = ParsevalRetraction(args.alpha)
    run = szt.main(_szt_argv(args, run_id, args.resume), after_step=retraction, experiment="orthonormal",
                   extra_config=_extra_config(args),
                   title_prefix=f"SZT, orthonormal weights (alpha = {args.alpha:g})")
    figs = []
    if base_dir.exists():
        figs = comparison_figures(run.dir)
        print()
        print(comparison_table(run.dir))
    else:
        print(f"No unconstrained run at {base_dir}: no comparison (run without --no-baseline to train it)")
    print(f"\nOrthonormal comparison done in {(time.perf_counter() - t0) / 60:.1f} min")
    for f in figs:
        print(f"  figure: {f}")
    return run


# -------------------------------------------------------------------------------------- comparison


def _runs(run_dir: str | Path) -> tuple[szt_figures.RunView, szt_figures.RunView]:
    orth = szt_figures.RunView(run_dir)
    base = orth.config.get("baseline_run")
    if not base:
        raise ValueError(f"run_dir: {run_dir} is not an orthonormal run (no baseline_run in config.json)")
    base_dir = orth.dir.parent.parent / base
    if not (base_dir / "config.json").exists():
        raise ValueError(f"run_dir: its unconstrained run {base_dir} does not exist")
    return szt_figures.RunView(base_dir), orth


MIN_FALL = 0.05
"""nats: a decrease of I(X;T) over consecutive measured epochs smaller than this is not counted as a fall."""


def _value_at(rows, quantity, layer, epoch, **match) -> float:
    s = plotting.series(rows, quantity, layer, **match)
    hit = np.flatnonzero(s["epoch"] == epoch)
    return float(s["value"][hit[0]]) if hit.size else float("nan")


def falls(values) -> list[tuple[int, int]]:
    """Index pairs (i, j), i < j, of the maximal runs over which ``values`` strictly decreases (from a local
    maximum to the next local minimum), keeping those whose total decrease is at least :data:`MIN_FALL`."""
    v = np.asarray(values, dtype=float)
    out, i = [], 0
    while i < v.size - 1:
        if v[i + 1] < v[i]:
            j = i
            while j < v.size - 1 and v[j + 1] < v[j]:
                j += 1
            if v[i] - v[j] >= MIN_FALL:
                out.append((i, j))
            i = j
        else:
            i += 1
    return out


def layer_changes(rows: list[dict], beta: float) -> list[dict]:
    """Per hidden layer, every fall of I(X;T) (:func:`falls` of the SP estimates over the measured epochs)
    with the change, over the same epochs, of the binned entropy H(Bin_Delta(T)) at the bin side nearest beta
    (nats) and of the within/between-class distance ratio; ``significant`` when the 95% intervals of I(X;T) at
    the two ends do not overlap. Also the counts of falls during which H_bin and the ratio fall too."""
    delta = plotting.nearest_param(rows, "H_bin", "delta", beta)
    out = []
    for layer in plotting.layers_of(rows):
        s = plotting.series(rows, "I_XT", layer)
        if not s["epoch"].size:
            continue
        found = []
        for i, j in falls(s["value"]):
            e1, e2 = s["epoch"][i], s["epoch"][j]
            h1 = _value_at(rows, "H_bin", layer, e1, param=delta) if delta else float("nan")
            h2 = _value_at(rows, "H_bin", layer, e2, param=delta) if delta else float("nan")
            r1, r2 = _value_at(rows, "class_ratio", layer, e1), _value_at(rows, "class_ratio", layer, e2)
            found.append({"e1": int(e1), "e2": int(e2), "I1": float(s["value"][i]), "I2": float(s["value"][j]),
                          "dI": float(s["value"][j] - s["value"][i]), "dH": h2 - h1, "dratio": r2 - r1,
                          "significant": bool(s["ci_high"][j] < s["ci_low"][i])})
        largest = min(found, key=lambda f: f["dI"]) if found else None
        out.append({"layer": layer, "delta": delta, "falls": found, "largest": largest,
                    "total_fall": float(sum(f["dI"] for f in found)),
                    "n_H": sum(f["dH"] < 0 for f in found), "n_ratio": sum(f["dratio"] < 0 for f in found),
                    "I_last": float(s["value"][-1]), "I_max": float(np.nanmax(s["value"])),
                    "H_last": _value_at(rows, "H_bin", layer, s["epoch"][-1], param=delta) if delta else float("nan"),
                    "ratio_last": _value_at(rows, "class_ratio", layer, s["epoch"][-1])})
    return out


def comparison(run_dir: str | Path) -> dict:
    """{"unconstrained": [...], "orthonormal": [...]} of :func:`layer_changes`, plus the settings."""
    base, orth = _runs(run_dir)
    beta = float(orth.config["beta"])
    return {"beta": beta, "alpha": orth.config.get("alpha"), "base_dir": str(base.dir), "orth_dir": str(orth.dir),
            "unconstrained": layer_changes(base.rows(), beta), "orthonormal": layer_changes(orth.rows(), beta),
            "accuracy": {name: _final_acc(v.rows()) for name, v in (("unconstrained", base), ("orthonormal", orth))}}


def _final_acc(rows) -> float:
    s = plotting.series(rows, "test_acc", estimator="deterministic")
    return float(s["value"][-1]) if s["value"].size else float("nan")


def _fall_text(f: dict | None) -> str:
    if f is None:
        return "-"
    return (f"{f['e1']}->{f['e2']}: I {f['I1']:.2f}->{f['I2']:.2f} ({f['dI']:+.2f}{'*' if f['significant'] else ''}), "
            f"H_bin {f['dH']:+.2f}, ratio {f['dratio']:+.3f}")


def comparison_table(run_dir: str | Path) -> str:
    """Plain-text table (printed at the end of a run): per run and layer, the falls of I(X;T) and what the
    binned entropy and the class distance ratio did over the same epochs."""
    c = comparison(run_dir)
    d = c["unconstrained"][0]["delta"] if c["unconstrained"] else None
    lines = [(f"Compression versus clustering: falls of I(X;T) (decreases >= {MIN_FALL} nats over consecutive "
              f"measured epochs), nats; H_bin at {d}; ratio = within/between class distance"),
             (f"{'run':13} {'layer':5} {'falls':>5} {'total':>7} {'H_bin falls':>11} {'ratio falls':>11}  "
              f"largest fall (epochs: I(X;T), change of H_bin and ratio)   last: I(X;T) H_bin ratio")]
    for name in ("unconstrained", "orthonormal"):
        for r in c[name]:
            n = len(r["falls"])
            lines.append(f"{name:13} {r['layer']:5} {n:5d} {r['total_fall']:+7.2f} {r['n_H']:>7}/{n:<3} "
                         f"{r['n_ratio']:>7}/{n:<3}  {_fall_text(r['largest']):60}  {r['I_last']:.2f} "
                         f"{r['H_last']:.2f} {r['ratio_last']:.3f}")
    lines.append("* the 95% intervals of I(X;T) at the two ends of the fall do not overlap (a significant fall).")
    lines.append("test accuracy (noise off), last epoch: " + ", ".join(
        f"{k} {100 * v:.1f}%" for k, v in c["accuracy"].items()))
    return "\n".join(lines)


def results_section(run_dir: str | Path) -> str:
    """A markdown section on the orthonormal run ``run_dir`` and its unconstrained baseline, for
    docs/results.md: settings, the falls of I(X;T) with what clustering did meanwhile (nats), a reading of
    the last two hidden layers, and the figures."""
    c = comparison(run_dir)
    base, orth = Path(c["base_dir"]), Path(c["orth_dir"])
    first = c["unconstrained"][0] if c["unconstrained"] else None
    d = first["delta"].split("=")[1] if first and first["delta"] else "?"
    cfg = szt_figures.RunView(orth).config
    out = ["### Orthonormal weights suppress clustering and compression", "",
           (f"SZT noisy twin (tanh, beta = {c['beta']:g}, {cfg['epochs']} epochs, {cfg['measure']} measured "
            f"epochs, R = {cfg['replicas']} replicas), trained twice from the same initialisation and data order: "
            f"unconstrained (`{base}`) and with the Parseval retraction W <- W - {c['alpha']:g} (W W^T W - W) "
            f"after every optimiser step (`{orth}`; Cisse et al. 2017, Goldfeld et al. 2019 section 5). A *fall* "
            f"is a run of consecutive measured epochs over which the SP estimate of I(X;T) decreases, by "
            f"{MIN_FALL} nats or more in total; for each layer the table gives the number of falls, their total, "
            f"in how many of them the binned entropy H(Bin(T)) at Delta = {d} (the bin side nearest beta) and the "
            f"within/between-class distance ratio fell too, and the largest fall (* = the 95% intervals at its "
            f"two ends do not overlap). Values in nats."), "",
           "| run | layer | falls | total [nats] | H_bin falls too | ratio falls too | largest fall | last I(X;T) |",
           "|---|---|---|---|---|---|---|---|"]
    for name in ("unconstrained", "orthonormal"):
        for r in c[name]:
            n = len(r["falls"])
            out.append(f"| {name} | {r['layer']} | {n} | {r['total_fall']:+.2f} | {r['n_H']}/{n} | "
                       f"{r['n_ratio']}/{n} | {_fall_text(r['largest'])} | {r['I_last']:.2f} |")
    out += ["", _reading(c), "",
            f"![comparison]({orth / 'figures' / 'comparison.png'})",
            f"![weight spectra]({orth / 'figures' / 'weight_spectra.png'})"]
    return "\n".join(out)


def _reading(c: dict) -> str:
    """One paragraph stating what the numbers say for the last two hidden layers (no claim beyond them)."""
    parts = []
    for name in ("unconstrained", "orthonormal"):
        desc = "; ".join(f"{r['layer']}: {len(r['falls'])} falls totalling {r['total_fall']:+.2f} nats "
                         f"(H_bin fell in {r['n_H']}, the ratio in {r['n_ratio']}), largest "
                         f"{_fall_text(r['largest'])}" for r in c[name][-2:])
        parts.append(f"{name}: {desc}")
    acc = ", ".join(f"{k} {100 * v:.1f}%" for k, v in c["accuracy"].items())
    return ("Last two hidden layers - " + " | ".join(parts)
            + f". Test accuracy (noise off) at the last epoch: {acc}.")


def _checkpoint_stats(view: szt_figures.RunView, cfg: dict) -> dict:
    """Per checkpoint epoch and hidden layer: the largest and smallest singular value of the layer's
    weight, and the saturated fraction (|tanh| > 0.99) of its deterministic activations on all inputs."""
    model = mlp(cfg["widths"], cfg["activation"], seed=cfg["seed"])
    twin = NoisyTwin(model, cfg["beta"])
    names = hidden_linear_layers(model)
    epochs = view.checkpoint_epochs()
    data = load_szt()
    reps = szt_figures.representations_over_epochs(view, twin, data.x, epochs)
    out = {"epochs": np.array(epochs), "smax": [], "smin": [], "sat": []}
    for e in epochs:
        state = view.load_checkpoint(e)["model"]
        s = [torch.linalg.svdvals(state[f"{n}.weight"].double()) for n in names]
        out["smax"].append([float(v.max()) for v in s])
        out["smin"].append([float(v.min()) for v in s])
        out["sat"].append([float(np.mean(np.abs(reps[e][site]) > szt_figures.SATURATION)) for site in twin.site_names])
    for k in ("smax", "smin", "sat"):
        out[k] = np.array(out[k])
    out["sites"] = twin.site_names
    return out


def comparison_figures(run_dir: str | Path) -> list[Path]:
    """figures/comparison.png and figures/weight_spectra.png of an orthonormal run (beside its baseline)."""
    base, orth = _runs(run_dir)
    beta = float(orth.config["beta"])
    runs = (("unconstrained", base), (f"orthonormal (alpha = {orth.config.get('alpha'):g})", orth))
    stats = {name: _checkpoint_stats(v, v.config) for name, v in runs}
    rows = {name: v.rows() for name, v in runs}
    delta = plotting.nearest_param(rows["unconstrained"], "H_bin", "delta", beta)
    panels = [("I_XT", {}, "I(X;T) [nats]\n(band: 95% interval;\nopen marker: unconverged)"),
              ("H_bin", {"param": delta}, f"H(Bin(T)), Delta = {delta.split('=')[1] if delta else '?'}\n[nats]"),
              ("class_ratio", {}, "within / between class\nmean distance"),
              ("saturation", {}, "fraction of activations\nwith |tanh| > 0.99")]
    fig, axes = plt.subplots(len(panels), 2, figsize=(13, 2.7 * len(panels) + 0.8), sharex=True, sharey="row")
    for j, (name, _) in enumerate(runs):
        for i, (q, match, label) in enumerate(panels):
            ax = axes[i, j]
            for k, layer in enumerate(plotting.layers_of(rows[name])):
                if q == "saturation":
                    st = stats[name]
                    ax.plot(st["epochs"], st["sat"][:, k], "-o", ms=2.5, color=f"C{k}", label=layer)
                    continue
                s = plotting.series(rows[name], q, layer, **match)
                if not s["epoch"].size:
                    continue
                ax.plot(s["epoch"], s["value"], "-o", ms=2.5, color=f"C{k}", label=layer)
                if not np.all(np.isnan(s["ci_low"])):
                    ax.fill_between(s["epoch"], s["ci_low"], s["ci_high"], color=f"C{k}", alpha=0.18, lw=0)
                if q == "I_XT":  # unconverged estimates: their interval reaches the a-priori bound
                    bad = sorted(float(r["epoch"]) for r in rows[name] if r["quantity"] == "I_XT"
                                 and r["layer"] == layer and r["converged"] == "False")
                    hit = np.isin(s["epoch"], bad)
                    ax.plot(s["epoch"][hit], s["value"][hit], "o", ms=6, mfc="white", color=f"C{k}")
            ax.set_ylabel(label if j == 0 else "")
            ax.grid(True, which="both", alpha=0.25)
            if i == 0:
                ax.set_title(name)
        plotting.epoch_axis(axes[-1, j])
        for ax in axes[:-1, j]:
            ax.set_xlabel("")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, title="layer", fontsize=8, ncol=len(labels), loc="lower center")
    fig.suptitle(f"SZT, tanh, beta = {beta:g}: unconstrained weights (left) versus the Parseval retraction "
                 f"(right)\ncompression of I(X;T) goes with clustering (binned entropy, class distance ratio) "
                 f"and saturation")
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    paths = [plotting.save_figure(fig, orth.figures / "comparison.png", tight=False)]

    fig, axes = plt.subplots(1, 2, figsize=(14, 4.6), sharey=True)
    for ax, (name, _) in zip(axes, runs):
        st = stats[name]
        for k, site in enumerate(st["sites"]):
            ax.plot(st["epochs"], st["smax"][:, k], "-", color=f"C{k}", label=f"{site}: largest")
            ax.plot(st["epochs"], st["smin"][:, k], "--", color=f"C{k}", label=f"{site}: smallest")
        ax.axhline(1.0, color="k", ls=":", lw=1)
        ax.set_yscale("log")
        plotting.epoch_axis(ax)
        ax.set_title(name)
    axes[0].set_ylabel("singular value of the layer's weight W (log scale)")
    axes[1].legend(fontsize=7, ncol=1, title="weight into layer", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.suptitle("Singular values of the hidden layers' weights (dotted: 1, a Parseval tight frame)")
    paths.append(plotting.save_figure(fig, orth.figures / "weight_spectra.png"))
    return paths


if __name__ == "__main__":
    main()
