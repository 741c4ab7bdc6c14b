"""The spiral run: a small tanh MLP's noisy twin on a generated 2-D, 3-class spiral (Greenewald, Kingsbury,
Yu, ISIT 2023; Goldfeld et al., ICML 2019, sections 4-5; docs/theory.md, section 8).

    python -m experiments.spiral [--epochs 1500] [--measure 30] [--beta 0.05] [--m 600] [--arms 3]
                                 [--turns 1] [--noise 0.03] [--replicas 32] [--seed 0] [--threads 1]
                                 [--out runs] [--resume]

Generates the spiral (noisynet.data.spiral: ``arms`` interleaved Archimedean arms, ``m / arms`` points each,
Gaussian jitter of std ``noise``; seeded, stratified 80/20 train/test split), trains the noisy twin of the
2-8-8-4-3 tanh network (noise of std beta after every hidden layer; Adam, batch 32) and, at log-spaced
epochs, measures I(X;T_l) and I(T_l;Y) for every hidden layer on all m inputs (each once: X uniform on the
data set) with 95% intervals (R replicas per input, doubling from 8 up to 32 until the intervals are 0.1 nats
wide), plus the clustering diagnostics of the deterministic representations. The
hidden layers are at most 8 wide, so the SP estimator stays tractable. Writes runs/spiral/<run-id>/
(config.json, metrics.csv, checkpoints/, figures/: information plane, MI against epoch, clustering, accuracy,
the data set, and the layer scatter plots / activation histograms / binned entropies of
experiments.szt_figures), shows a progress bar and prints a summary table.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from experiments import arguments, parallel, plotting, summary, szt_figures, threads
from experiments.loop import train_and_measure
from experiments.runs import Run, log_schedule
from noisynet.data.spiral import Spiral, make_spiral
from noisynet.models import mlp
from noisynet.training import Trainer
from noisynet.twin import NoisyTwin

HIDDEN = (8, 8, 4)


def parser() -> argparse.ArgumentParser:
    p = arguments.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--epochs", type=int, default=1500, help="training epochs")
    p.add_argument("--measure", type=int, default=30, help="number of log-spaced measured epochs (0 included)")
    p.add_argument("--beta", type=float, default=0.05, help="noise std after every hidden layer")
    p.add_argument("--m", type=int, default=600, help="number of points (a multiple of --arms)")
    p.add_argument("--arms", type=int, default=3, help="arms = classes")
    p.add_argument("--turns", type=float, default=1.0, help="turns of each arm")
    p.add_argument("--noise", type=float, default=0.03, help="std of the points' jitter (fraction of the radius)")
    p.add_argument("--hidden", type=int, nargs="+", default=list(HIDDEN), help="hidden widths")
    p.add_argument("--seed", type=int, default=0, help="seeds data, split, initialisation, batches, noise, MC")
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--replicas", type=int, default=32,
                   help="largest R, noisy passes per input for the SP estimator (sample propagation)")
    p.add_argument("--min-replicas", type=int, default=8, help="first R tried; R doubles until the target")
    p.add_argument("--target-half-width", type=float, default=0.1,
                   help="nats: R doubles until both intervals of a layer are this narrow (0: always R = --replicas)")
    p.add_argument("--n-query", type=int, default=4,
                   help="replicas per input that own Monte Carlo queries (at most R / 4 at each R)")
    p.add_argument("--n-mc", type=int, default=2, help="Monte Carlo draws per query unit")
    threads.add_argument(p)
    parallel.add_arguments(p)
    p.add_argument("--no-extra-figures", action="store_true",
                   help="skip the scatter/histogram/binned-entropy figures of experiments.szt_figures")
    p.add_argument("--out", default="runs", help="root folder of the runs")
    p.add_argument("--run-id", default=None, help="folder name of the run (default: from the settings)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run with the same settings")
    return p


def check(args: argparse.Namespace) -> None:
    """Every option but the data set's (SystemExit naming the option); :func:`main` checks the data set's
    options by generating it, and the run's folder, before anything is written."""
    arguments.training(args)
    if args.measure < 2:
        raise SystemExit(f"--measure: got {args.measure}, expected >= 2")
    arguments.sp_settings(args)
    arguments.at_least_one(args, ("hidden",))
    parallel.check(args)
    if not (args.turns > 0 and math.isfinite(args.turns)):
        raise SystemExit(f"--turns: got {args.turns}, expected a finite number > 0")


def plot_data(data: Spiral, path: Path, title: str) -> Path:
    """The spiral: training and test points coloured by class (axes in input units)."""
    fig, ax = plt.subplots(figsize=(6, 6))
    x, y = data.x.numpy(), data.y.numpy()
    for k in range(int(y.max()) + 1):
        for idx, marker, part in ((data.train.numpy(), "o", "train"), (data.test.numpy(), "x", "test")):
            sel = idx[y[idx] == k]
            ax.scatter(x[sel, 0], x[sel, 1], s=12, marker=marker, color=f"C{k}", alpha=0.8,
                       label=f"class {k}, {part} ({sel.size})")
    ax.set_xlabel("x_1 (input units)")
    ax.set_ylabel("x_2 (input units)")
    ax.set_aspect("equal")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(True, alpha=0.25)
    ax.set_title(title, fontsize=9)
    return plotting.save_figure(fig, path)


@arguments.command
def main(argv: list[str] | None = None) -> Run:
    """Parse ``argv`` and run with torch and the BLAS pools limited to --threads (restored afterwards)."""
    args = parser().parse_args(argv)
    check(args)
    try:
        data = make_spiral(args.m, arms=args.arms, turns=args.turns, noise=args.noise, seed=args.seed)
    except ValueError as err:  # names the argument: m, arms, noise (an option of the same name)
        raise arguments.as_option(err) from err
    widths = [2, *args.hidden, args.arms]
    config = {k: v for k, v in vars(args).items()
              if k not in ("out", "run_id", "no_extra_figures", "threads", *parallel.EXECUTION)}
    config.update(widths=widths, experiment="spiral", data=data.params)
    run_id = args.run_id or f"tanh_beta{args.beta:g}_m{args.m}_seed{args.seed}_e{args.epochs}"
    arguments.run_folder(args.out, "spiral", run_id, config, resume=args.resume)
    with threads.limited(args.threads), parallel.measurer(args) as measurer:
        return _run(args, data, run_id, config, measurer)


def _run(args: argparse.Namespace, data: Spiral, run_id: str, config: dict, measurer) -> Run:
    widths = config["widths"]
    run = Run(args.out, "spiral", run_id, config, resume=args.resume)
    twin = NoisyTwin(mlp(widths, "tanh", seed=args.seed), args.beta)
    trainer = Trainer(twin, data.x[data.train], data.y[data.train], data.x[data.test], data.y[data.test],
                      lr=args.lr, batch_size=args.batch_size, seed=args.seed)
    flow = {"replicas": args.replicas, "min_replicas": args.min_replicas,
            "target_half_width": args.target_half_width or None, "n_mc": args.n_mc, "n_query": args.n_query,
            "diagnostics": True}
    t0 = time.perf_counter()
    train_and_measure(run, trainer, twin, data.x, data.y, log_schedule(args.epochs, args.measure),
                      seed=args.seed, flow=flow, desc=f"spiral {run_id}", measurer=measurer)
    rows = run.rows()
    title = (f"spiral ({args.arms} arms, m = {args.m}), tanh {'-'.join(map(str, widths))}, "
             f"beta = {args.beta:g}, seed {args.seed}")
    refs = {"I_XT": {f"ln {args.m}": math.log(args.m)},
            "I_TY": {"H(Y)": summary.label_entropy(data.y)}}
    d = data.params
    data_title = (f"spiral data set: m = {d['m']}, {d['arms']} arms, {d['turns']:g} turns, radius {d['radius']:g},\n"
                  f"jitter std {d['noise']:g} x radius, {100 * d['test_fraction']:g}% test (stratified), seed {d['seed']}")
    figs = [plot_data(data, run.figures / "data.png", data_title),
            plotting.information_plane(rows, run.figures / "information_plane.png", title),
            plotting.mi_vs_epoch(rows, run.figures / "mi_vs_epoch.png", title, references=refs),
            plotting.clustering(rows, run.figures / "clustering.png", title, beta=args.beta),
            plotting.accuracy(rows, run.figures / "accuracy.png", title)]
    if not args.no_extra_figures:
        figs += szt_figures.make_figures(run, twin, data.x, data.y, title=title, beta=args.beta)
    print(summary.table(rows, time.perf_counter() - t0, run.dir, figs))
    return run


if __name__ == "__main__":
    main()
