"""The SZT information-plane run (Goldfeld et al., ICML 2019, section 5; Shwartz-Ziv & Tishby 2017).

    python -m experiments.szt [--epochs 3000] [--beta 0.005] [--activation tanh] [--seed 0] [--out runs]
                              [--resume] [--run-id ID] [--replicas 128] [--target-half-width 0.1] ...

Trains the noisy twin of the 12-10-7-5-4-3-2 network on the bundled SZT data (Adam, lr 4e-4, batch 256, 80/20
split, noise of std beta after every hidden layer) and, at log-spaced epochs, measures I(X;T_l) and
I(T_l;Y) for every hidden layer on all 4096 inputs (each once) with 95% intervals, plus the clustering
diagnostics. Writes runs/szt/<run-id>/ (config.json, metrics.csv, checkpoints/, figures/), shows a progress
bar, and prints where the results are and a summary table. ``--epochs 10000`` gives the paper's schedule
(100 measured epochs).
"""

from __future__ import annotations

import argparse
import math
import time

from experiments import arguments, parallel, plotting, summary, szt_figures, threads
from experiments.loop import train_and_measure
from experiments.runs import Run, log_schedule
from noisynet.data import load_szt
from noisynet.models import mlp
from noisynet.training import Trainer
from noisynet.twin import NoisyTwin

WIDTHS = (12, 10, 7, 5, 4, 3, 2)


def parser(description: str = __doc__) -> argparse.ArgumentParser:
    p = arguments.ArgumentParser(description=description.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--epochs", type=int, default=3000, help="training epochs (10000: the paper's schedule)")
    p.add_argument("--measure", type=int, default=None,
                   help="number of log-spaced measured epochs (default: 40, or 100 from 10000 epochs)")
    p.add_argument("--beta", type=float, default=0.005, help="noise std after every hidden layer")
    p.add_argument("--activation", choices=("tanh", "relu", "linear"), default="tanh")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lr", type=float, default=4e-4)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--replicas", type=int, default=128,
                   help="largest R, noisy passes per input for the SP estimator (sample propagation)")
    p.add_argument("--min-replicas", type=int, default=8, help="first R tried; R doubles until the target")
    p.add_argument("--target-half-width", type=float, default=0.1,
                   help="nats: R doubles until both intervals of a layer are this narrow (0: always R = --replicas)")
    p.add_argument("--n-query", type=int, default=2, help="replicas per input that own Monte Carlo queries")
    p.add_argument("--n-mc", type=int, default=1, help="Monte Carlo draws per query unit")
    p.add_argument("--no-diagnostics", action="store_true", help="skip the clustering diagnostics")
    p.add_argument("--no-extra-figures", action="store_true",
                   help="skip the layer scatter, activation histogram and binned-entropy figures")
    p.add_argument("--out", default="runs", help="root folder of the runs")
    p.add_argument("--run-id", default=None, help="folder name of the run (default: from the settings)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run with the same settings")
    threads.add_argument(p)
    parallel.add_arguments(p)
    return p


def check(args: argparse.Namespace) -> None:
    """Every option (SystemExit naming the option); the run's folder is checked by :func:`main`."""
    arguments.training(args)
    arguments.sp_settings(args)
    if args.measure is not None and args.measure < 2:
        raise SystemExit(f"--measure: got {args.measure}, expected >= 2 (epoch 0 and the last)")
    parallel.check(args)


def run_settings(args: argparse.Namespace, experiment: str = "szt", orthonormal: bool = False,
                 extra_config: dict | None = None) -> tuple[str, dict]:
    """The run id and the config.json of the run ``args`` describe (``orthonormal``: trained with a
    retraction after every step; ``extra_config`` is stored too)."""
    measure = args.measure or (100 if args.epochs >= 10_000 else 40)
    config = {k: v for k, v in vars(args).items()
              if k not in ("out", "run_id", "no_extra_figures", "threads", *parallel.EXECUTION)}
    config.update(measure=measure, widths=list(WIDTHS), experiment=experiment, orthonormal=orthonormal,
                  **(extra_config or {}))
    run_id = args.run_id or f"{args.activation}_beta{args.beta:g}_seed{args.seed}_e{args.epochs}"
    return run_id, config


@arguments.command
def main(argv: list[str] | None = None, *, after_step=None, experiment: str = "szt",
         extra_config: dict | None = None, title_prefix: str = "SZT") -> Run:
    """Run the experiment with command-line arguments ``argv``; ``after_step`` is passed to the Trainer
    (e.g. a Parseval retraction), ``experiment`` names the runs/ subfolder, ``extra_config`` is stored in
    config.json (and checked on resume), ``title_prefix`` starts the figure titles."""
    args = parser().parse_args(argv)
    check(args)
    run_id, config = run_settings(args, experiment, after_step is not None, extra_config)
    arguments.run_folder(args.out, experiment, run_id, config, resume=args.resume)
    with threads.limited(args.threads), parallel.measurer(args) as measurer:
        return _main(args, after_step, experiment, extra_config, title_prefix, measurer)


def _main(args: argparse.Namespace, after_step, experiment: str, extra_config: dict | None,
          title_prefix: str, measurer) -> Run:
    run_id, config = run_settings(args, experiment, after_step is not None, extra_config)
    measure = config["measure"]
    run = Run(args.out, experiment, run_id, config, resume=args.resume)
    data = load_szt()
    twin = NoisyTwin(mlp(WIDTHS, args.activation, seed=args.seed), args.beta)
    trainer = Trainer(twin, data.x[data.train], data.y[data.train], data.x[data.test], data.y[data.test],
                      lr=args.lr, batch_size=args.batch_size, seed=args.seed, after_step=after_step)
    flow = {"replicas": args.replicas, "min_replicas": args.min_replicas,
            "target_half_width": args.target_half_width or None, "n_mc": args.n_mc, "n_query": args.n_query,
            "diagnostics": not args.no_diagnostics}
    t0 = time.perf_counter()
    train_and_measure(run, trainer, twin, data.x, data.y, log_schedule(args.epochs, measure),
                      seed=args.seed, flow=flow, desc=f"{experiment} {run_id}", measurer=measurer)
    rows = run.rows()
    title = f"{title_prefix}, {args.activation}, beta = {args.beta:g}, seed {args.seed}"
    refs = {"I_XT": {"ln 4096": math.log(4096)}, "I_TY": {"H(Y)": summary.label_entropy(data.y)}}
    figs = [plotting.information_plane(rows, run.figures / "information_plane.png", title),
            plotting.mi_vs_epoch(rows, run.figures / "mi_vs_epoch.png", title, references=refs),
            plotting.accuracy(rows, run.figures / "accuracy.png", title)]
    if not args.no_diagnostics:
        figs.append(plotting.clustering(rows, run.figures / "clustering.png", title, beta=args.beta))
    if not args.no_extra_figures:
        figs += szt_figures.make_figures(run, twin, data.x, data.y, title=title, beta=args.beta)
    print(summary.table(rows, time.perf_counter() - t0, run.dir, figs))
    return run


if __name__ == "__main__":
    main()
