"""Every information-plane estimator of the literature on the same SZT runs, beside the SP estimate.

    python -m experiments.compare_estimators [--activation tanh relu] [--epochs 1000] [--measure 7]
                                             [--beta 0.005] [--seed 0] [--out runs] [--resume] ...

For each activation, trains the noisy twin of the 12-10-7-5-4-3-2 SZT network exactly as
``python -m experiments.szt`` does (same building blocks: Trainer, NoisyTwin, the train-and-measure loop with
its SP rows and checkpoints; SP's R grows from 8 to at most 32 replicas per input here, 128 in szt, until both
intervals are 0.1 nats narrow) and then, at the same measured epochs and on the same inputs (all 4096 by
default, each once), runs the estimator battery (:func:`estimators.run_battery`, the baselines of
:func:`estimators.default_estimators`; docs/theory.md, section 9) on every hidden layer: fixed binning (30
equal bins on [-1, 1] for tanh, on [0, the layer's maximum over all measured epochs] for ReLU; Shwartz-Ziv &
Tishby's own convention, np.digitize on 30 edges = 29 bins, on the same range; and a fixed bin width 2/30),
adaptive equal-mass binning, the KDE upper/lower bounds with the twin's noise std beta and the adaptive-noise
variant, KSG (and its discrete-X version with 8 noise draws per input), matrix-based Renyi (Silverman widths,
on a fixed subsample of 1024 inputs); trains two quantization-aware nets (4 and 8 bits, same seed, data,
optimiser, batch order and epochs, no noise) for the exact quantized I(X;T) and I(T;Y); and computes the
transfer entropy between consecutive layers across consecutive measured epochs on binarised activations
(a > 0). Everything goes to the activation's metrics.csv (column ``estimator``; hyperparameters in ``param``).

The ground-truth suite (:mod:`estimators.ground_truth`, cases picked by
:func:`experiments.estimator_truths.comparison_cases`) gives every estimator's error where I(X;T) is known.
Writes ``runs/compare_estimators/<run-id>/``: config.json, ground_truth.csv, summary.json,
figures/information_planes_<activation>.png, figures/transfer_entropy.png, and per activation a run folder
``<activation>/`` (config.json, metrics.csv, checkpoints/, figures/ with the SP figures of the szt run).
:func:`results_section` turns a finished run into markdown for docs/results.md. Runs single-threaded by
default (the networks are tiny; on a shared 2-core machine threads only contend). The default (1000 epochs,
7 log-spaced measured epochs 0, 1, 4, 16, 63, 251, 1000, both activations) took 13 minutes of wall time
(10 minutes of CPU) on a 2-core machine shared with other jobs; 1000 epochs are fewer than szt's 3000 to
leave room for every estimator at every measured epoch within 30 minutes.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import torch  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

from estimators import Estimator, LayerData, default_estimators, run_battery  # noqa: E402
from estimators.baselines import transfer_entropy  # noqa: E402
from estimators.battery import BIN_WIDTH  # noqa: E402
from experiments import arguments, parallel, plotting, summary, threads  # noqa: E402
from experiments.compare_report import (  # noqa: E402,F401
    QUANTITIES,
    final_table,
    information_planes,
    results_section,
    transfer_entropy_figure,
)
from experiments.estimator_truths import (  # noqa: E402
    comparison_cases,
    error_tables,
    param_text,
    truth_rows,
    write_rows,
)
from experiments.loop import train_and_measure  # noqa: E402
from experiments.runs import COLUMNS, Run, atomic_write_bytes, log_schedule, read_csv  # noqa: E402
from experiments.szt import WIDTHS  # noqa: E402
from noisynet.data import load_szt  # noqa: E402
from noisynet.models import mlp  # noqa: E402
from noisynet.quantize import (  # noqa: E402
    MAX_BITS,
    DeterministicModel,
    Quantize,
    quantized_information,
    quantized_mlp,
)
from noisynet.training import Trainer  # noqa: E402
from noisynet.twin import NoisyTwin  # noqa: E402

EXPERIMENT = "compare_estimators"


def parser() -> argparse.ArgumentParser:
    p = arguments.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    a = p.add_argument
    a("--activation", nargs="+", choices=("tanh", "relu"), default=["tanh", "relu"])
    a("--epochs", type=int, default=1000, help="training epochs of every network")
    a("--measure", type=int, default=7, help="log-spaced measured epochs (epoch 0 included)")
    a("--beta", type=float, default=0.005, help="noise std after every hidden layer of the twin")
    a("--seed", type=int, default=0)
    a("--lr", type=float, default=4e-4)
    a("--batch-size", type=int, default=256)
    a("--replicas", type=int, default=32, help="largest R for the SP estimator (szt: 128; 32 here for time)")
    a("--min-replicas", type=int, default=8, help="first R tried for SP; R doubles until the target")
    a("--target-half-width", type=float, default=0.1, help="nats: SP's R doubles until both intervals are this "
                                                          "narrow (0: always R = --replicas)")
    a("--n-query", type=int, default=2)
    a("--n-mc", type=int, default=1)
    a("--bits", type=int, nargs="+", default=[4, 8], help="quantization-aware nets (bits per activation)")
    a("--n-bins", type=int, default=30)
    a("--ksg-k", type=int, default=3)
    a("--ksg-replicas", type=int, default=8, help="noise draws per input for the discrete-X kNN estimator")
    a("--kde-rel-noise", type=float, default=0.1)
    a("--renyi-m", type=int, default=1024, help="inputs (seeded subsample) for matrix-based Renyi: O(m^3)")
    a("--renyi-rule", choices=("silverman", "median", "wickstrom"), default="silverman")
    a("--inputs", type=int, default=4096, help="measure on the first N inputs (4096 = all; fewer: quick checks)")
    a("--no-truths", action="store_true", help="skip the ground-truth suite")
    a("--quick-truths", action="store_true", help="a small ground-truth suite (1-D cases, d = 1)")
    a("--threads", type=int, default=1, help="torch and BLAS threads")
    parallel.add_arguments(p)
    a("--out", default="runs")
    a("--run-id", default=None, help="default: beta<beta>_seed<seed>_e<epochs>")
    a("--resume", action="store_true", help="continue an interrupted run with the same settings")
    return p


def _row(epoch: int, layer: str, dim, quantity: str, estimator: str, param: str, value: float, *,
         unit: str = "nat", beta=None, n=None, seconds=None) -> dict:
    row = dict.fromkeys(COLUMNS)
    row.update(epoch=epoch, layer=layer, layer_dim=dim, quantity=quantity, estimator=estimator, param=param,
               value="" if value is None or not math.isfinite(value) else value, unit=unit, beta=beta, n=n,
               seconds=seconds)
    return row


def _key(r: dict) -> tuple:
    return (int(r["epoch"]), str(r["layer"]), r["quantity"], r["estimator"])


def _append_new(run: Run, rows: list[dict]) -> None:
    """Append the rows whose (epoch, layer, quantity, estimator) is not yet in metrics.csv (resume)."""
    have = {_key(r) for r in run.rows()}
    new = [r for r in rows if _key(r) not in have]
    if new:
        run.append(new)


@arguments.command
def main(argv: Sequence[str] | None = None) -> Path:
    args = parser().parse_args(argv)
    check(args)
    with threads.limited(args.threads), parallel.measurer(args) as measurer:  # restored afterwards
        return _main(args, measurer)


def check(args: argparse.Namespace) -> None:
    """Every option, and the run's folder, before anything is written (SystemExit naming the option)."""
    arguments.training(args)
    arguments.at_least_one(args, ("inputs", "renyi_m", "ksg_k", "n_bins"))
    if args.measure < 2:
        raise SystemExit(f"--measure: got {args.measure}, expected >= 2 (epoch 0 and the last)")
    arguments.sp_settings(args)
    if not 2 <= args.inputs <= 4096:
        raise SystemExit(f"--inputs: got {args.inputs}, expected 2 .. 4096")
    if args.ksg_replicas <= args.ksg_k:
        raise SystemExit(f"--ksg-replicas: got {args.ksg_replicas}, expected more than --ksg-k = {args.ksg_k}")
    arguments.positive(args, ("kde_rel_noise",))
    arguments.distinct(args, "activation")
    arguments.distinct(args, "bits")
    if not all(1 <= b <= MAX_BITS for b in args.bits):
        raise SystemExit(f"--bits: got {args.bits}, expected integers in 1 .. {MAX_BITS}")
    parallel.check(args)
    arguments.run_folder(args.out, EXPERIMENT, *_settings(args), resume=args.resume)


def _settings(args: argparse.Namespace) -> tuple[str, dict]:
    """The run id and the config.json of the run ``args`` describe (the activations are not in it: each has
    its own folder)."""
    run_id = args.run_id or f"beta{args.beta:g}_seed{args.seed}_e{args.epochs}"
    skip = ("out", "run_id", "resume", "activation", "threads", *parallel.EXECUTION)
    return run_id, {k: v for k, v in vars(args).items() if k not in skip}


def _main(args: argparse.Namespace, measurer) -> Path:
    t0 = time.perf_counter()
    run_id, config = _settings(args)
    root = Path(args.out) / EXPERIMENT / run_id
    cfg_path = root / "config.json"
    (root / "figures").mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(cfg_path, json.dumps(config, indent=2, sort_keys=True).encode())
    truth_path = root / "ground_truth.csv"
    if not args.no_truths and not truth_path.exists():
        print("ground-truth suite ...", flush=True)
        cases = comparison_cases(args.beta, replicas=args.ksg_replicas, quick=args.quick_truths)
        write_rows(truth_rows(cases, baselines(args, (-1.0, 1.0), bits=args.bits), seed=args.seed), truth_path)
    rows_by_act = {act: run_activation(root, act, args, measurer) for act in args.activation}
    y = load_szt().y[: args.inputs]
    figs = [information_planes(rows, root / "figures" / f"information_planes_{act}.png",
                               f"SZT, {act}, beta = {args.beta:g}: every estimator on the same network, epochs "
                               f"and inputs", act, m=len(y), h_y=summary.label_entropy(y))
            for act, rows in rows_by_act.items()]
    figs.append(transfer_entropy_figure(rows_by_act, root / "figures" / "transfer_entropy.png"))
    seconds = time.perf_counter() - t0
    old = json.loads((root / "summary.json").read_text()) if (root / "summary.json").exists() else {}
    atomic_write_bytes(root / "summary.json", json.dumps(
        {"wall_seconds": seconds + old.get("wall_seconds", 0.0) * args.resume,
         "activations": sorted(set(old.get("activations", [])) | set(args.activation))}, indent=2).encode())
    print(f"\nResults in {root}  (wall time {seconds / 60:.1f} min)")
    for act, rows in rows_by_act.items():
        print(f"\n{act}: " + final_table(rows))
    if truth_path.exists():
        print("\n" + error_tables(read_csv(truth_path)).split("\n\n`=`")[0])
    for f in figs:
        print(f"  figure: {f}")
    return root


def baselines(args: argparse.Namespace, bin_range: tuple[float, float], bits: Sequence[int] = ()) -> tuple[
        Estimator, ...]:
    """The battery's baselines configured from the command line (no SP: the training loop measures it), with
    fixed bins on ``bin_range`` and, for each of ``bits``, the exact MI of the layer quantized to it."""
    return default_estimators(sp=None, bin_range=bin_range, n_bins=args.n_bins, kde_rel_noise=args.kde_rel_noise,
                              k=args.ksg_k, renyi_rule=args.renyi_rule, renyi_max_inputs=args.renyi_m,
                              seed=args.seed, bits=tuple(bits))


def run_activation(root: Path, act: str, args: argparse.Namespace, measurer=None) -> list[dict]:
    """Train and measure one activation's twin (SP; ``measurer`` as in experiments.loop.train_and_measure),
    then the baselines, the quantized nets and the transfer entropy at the same epochs; returns the run's rows."""
    cfg = {k: v for k, v in vars(args).items()
           if k not in ("out", "run_id", "resume", "activation", "threads", *parallel.EXECUTION)}
    cfg.update(activation=act, widths=list(WIDTHS), experiment=EXPERIMENT)
    run = Run(root.parent, root.name, act, cfg, resume=args.resume and (root / act / "config.json").exists())
    data = load_szt()
    x, y = data.x[: args.inputs], data.y[: args.inputs]
    twin = NoisyTwin(mlp(WIDTHS, act, seed=args.seed), args.beta)
    trainer = Trainer(twin, data.x[data.train], data.y[data.train], data.x[data.test], data.y[data.test],
                      lr=args.lr, batch_size=args.batch_size, seed=args.seed)
    schedule = log_schedule(args.epochs, args.measure)
    flow = {"replicas": args.replicas, "min_replicas": args.min_replicas,
            "target_half_width": args.target_half_width or None, "n_mc": args.n_mc, "n_query": args.n_query,
            "diagnostics": False}
    train_and_measure(run, trainer, twin, x, y, schedule, seed=args.seed, flow=flow, desc=f"{act} twin (SP)",
                      measurer=measurer)
    reps = baseline_pass(run, twin, x, y, schedule, args)
    for bits in args.bits:
        quantized_pass(run, act, bits, data, x, y, schedule, args)
    te_pass(run, reps, schedule)
    rows = run.rows()
    sp = [r for r in rows if r["estimator"] in ("sp", "deterministic", "noisy")]
    title = f"SZT, {act}, beta = {args.beta:g}, seed {args.seed} (noisy twin, SP)"
    refs = {"I_XT": {f"ln {len(x)}": math.log(len(x))}, "I_TY": {"H(Y)": summary.label_entropy(y)}}
    plotting.information_plane(sp, run.figures / "information_plane.png", title)
    plotting.mi_vs_epoch(sp, run.figures / "mi_vs_epoch.png", title, references=refs)
    plotting.accuracy(sp, run.figures / "accuracy.png", title)
    return rows


def baseline_pass(run: Run, twin: NoisyTwin, x, y, schedule: list[int], args) -> dict:
    """The battery at every measured epoch from the checkpoints; returns {epoch: {site: S_l (m, d)}}."""
    reps = {}
    for e in schedule:
        twin.model.load_state_dict(run.load_checkpoint(e)["model"])
        reps[e] = {k: v.double() for k, v in twin.representations(x).items()}
    act = run.config["activation"]
    if act == "tanh":
        ranges = dict.fromkeys(twin.site_names, (-1.0, 1.0))
    else:  # ReLU: [0, the layer's maximum over every measured epoch]; one bin width if the layer is dead
        ranges = {s: (0.0, max(max(float(reps[e][s].max()) for e in schedule), BIN_WIDTH))
                  for s in twin.site_names}
    estimators = {s: baselines(args, ranges[s]) for s in twin.site_names}
    have = {_key(r) for r in run.rows()}
    xd = x.double()
    todo_by_epoch = {e: [s for s in twin.site_names
                         if any((e, s, q, est.name) not in have for est in estimators[s] for q in QUANTITIES)]
                     for e in schedule}
    bar = tqdm(total=sum(map(len, todo_by_epoch.values())), desc=f"{act} baselines", unit="layer",
               dynamic_ncols=True)
    for e, todo in todo_by_epoch.items():
        if not todo:
            continue
        twin.model.load_state_dict(run.load_checkpoint(e)["model"])
        gen = torch.Generator().manual_seed(args.seed * 100_003 + e + 17)
        s_rep = twin.propagate(x, args.ksg_replicas, generator=gen, sites=todo)
        for site in todo:
            s = reps[e][site]
            layer = LayerData(s_rep[site].double(), args.beta, labels=y, x=xd, s=s)
            rows = []
            for r in run_battery(layer, estimators[site], generator=gen):
                param = param_text(r, layer)
                for q in QUANTITIES:
                    est = r.get(q)
                    rows.append(_row(e, site, s.shape[1], q, r.estimator, param, None if est is None else est.value,
                                     beta=args.beta, n=s.shape[0],
                                     seconds=None if est is None else est.diagnostics["seconds"]))
            _append_new(run, rows)
            bar.set_postfix_str(f"epoch {e} {site}", refresh=False)
            bar.update(1)
    bar.close()
    return reps


def quantized_pass(run: Run, act: str, bits: int, data, x, y, schedule: list[int], args) -> None:
    """Train the quantization-aware net (Lorenzen et al.; no noise) and write its exact I(X;T), I(T;Y), the
    fraction of clipped activations and its accuracies at every measured epoch."""
    est = f"quantized_b{bits}"
    n_layers = len(WIDTHS) - 2
    have = {_key(r) for r in run.rows()}
    need = {(e, f"T{i + 1}", q, est) for e in schedule for i in range(n_layers) for q in QUANTITIES}
    if need <= have:
        return
    net = quantized_mlp(WIDTHS, act, bits, seed=args.seed)
    trainer = Trainer(DeterministicModel(net), data.x[data.train], data.y[data.train], data.x[data.test],
                      data.y[data.test], lr=args.lr, batch_size=args.batch_size, seed=args.seed, noise=False)
    quantizers = [m for m in net if isinstance(m, Quantize)]
    for e in tqdm(schedule, desc=f"{act} {bits}-bit net", unit="measured epoch", dynamic_ncols=True):
        while trainer.epoch < e:
            trainer.train_epoch()
        t0 = time.perf_counter()
        info = quantized_information(net, x, y)
        dt = time.perf_counter() - t0
        rows = []
        for (site, point), q in zip(info.items(), quantizers):
            dim = WIDTHS[int(site[1:])]
            rng = f"range=[{q.low:g}, {q.high:.4g}]" + ("" if q.fixed_high is not None else " (tracked)")
            param = f"bits={bits}; {rng}; no noise; Lorenzen et al. 2022"
            rows += [_row(e, site, dim, "I_XT", est, param, point.i_xt.value, n=len(x), seconds=dt),
                     _row(e, site, dim, "I_TY", est, param, point.i_ty.value, n=len(x)),
                     _row(e, site, dim, "clipped_fraction", est, param, q.n_clipped / (len(x) * dim),
                          unit="fraction", n=len(x))]
        for quantity, v in trainer.evaluate().items():
            rows.append(_row(e, "", "", quantity, est, f"bits={bits}", v,
                             unit="nat" if quantity.endswith("loss") else "fraction"))
        _append_new(run, rows)


def te_pass(run: Run, reps: dict, schedule: list[int]) -> None:
    """Transfer entropy TE_{T_l -> T_l+1} (and the reverse, as a reference for the plug-in bias) between
    binarised layers (a > 0), per consecutive pair of measured epochs and over all of them (Moldovan et al.)."""
    sites = list(reps[schedule[0]])
    rows = []
    for a_site, b_site in zip(sites[:-1], sites[1:]):
        for src, dst in ((a_site, b_site), (b_site, a_site)):
            a = torch.stack([reps[e][src] for e in schedule])
            b = torch.stack([reps[e][dst] for e in schedule])
            name = f"{src}->{dst}"
            for i in range(len(schedule) - 1):
                te = transfer_entropy(a[i: i + 2], b[i: i + 2], threshold=0.0)
                rows.append(_row(schedule[i + 1], name, "", "TE", "transfer_entropy",
                                 f"binarised a > 0; history 1; epochs {schedule[i]}->{schedule[i + 1]}", te.value,
                                 n=te.n))
            te = transfer_entropy(a, b, threshold=0.0)
            rows.append(_row(schedule[-1], name, "", "TE_total", "transfer_entropy",
                             f"binarised a > 0; history 1; all {len(schedule)} measured epochs", te.value, n=te.n))
    _append_new(run, rows)


if __name__ == "__main__":
    main()
