"""A sweep of the SZT run over seeds, activations and noise levels, each run a Ray task.

    python -m experiments.sweep [--seeds 0 1 ... 7] [--activations tanh relu linear] [--betas 0.005]
                                [--epochs 3000] [--workers N] [--address HOST:PORT] [--out runs] [--name NAME]
                                [--resume] [any other experiments.szt option, e.g. --no-extra-figures]

Every (seed, activation, beta) is one ``experiments.szt`` run with those settings, writing the usual
``<out>/szt/<run-id>/`` (its own config.json, metrics.csv, checkpoints and figures; its printed output goes to
``<out>/sweeps/<name>/logs/<run-id>.log``). The runs are Ray tasks on this machine (they write the files) and
their measurement tasks go wherever Ray places them: this machine's cores (``--workers``, default all of
them), or a cluster (``--address``, see experiments.parallel). ``--workers 1`` runs them one after the other
in this process, without Ray. A progress bar counts the measured epochs of all runs.

``--resume`` continues a sweep: a run whose every scheduled epoch has all its rows and whose figures exist is
skipped (checked from its files, not assumed), any other existing run is resumed with ``experiments.szt``'s
``--resume`` (which verifies every epoch and measures again what is missing), and the rest start. Without
``--resume``, an existing sweep or run folder is an error, before anything is written.

At the end, ``<out>/sweeps/<name>/`` holds config.json, summary.csv (one row per run, layer and measured
epoch, with the run's settings as columns), compression.csv (the compression statistics per activation,
beta and layer) and figures/ (per activation and beta: I(X;T) and I(T;Y) of every layer against epoch, median
over seeds with the inter-quartile band; the information planes of all seeds overlaid): see
``experiments.sweep_summary``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from tqdm.auto import tqdm

from experiments import arguments, parallel, szt, sweep_summary
from experiments.loop import epoch_complete, last_quantity
from experiments.runs import Run, atomic_write_bytes, check_run_id, log_schedule, read_csv

ACTIVATIONS = ("tanh", "relu", "linear")
SEEDS = tuple(range(8))
SET_HERE = ("--seed", "--activation", "--beta", "--epochs", "--out", "--run-id", "--resume", "--workers",
            "--address", "--threads")


def parser() -> argparse.ArgumentParser:
    p = arguments.ArgumentParser(
        description=__doc__.split("\n\n")[0], allow_abbrev=False,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        epilog="Any other option of experiments.szt (--measure, --replicas, --no-extra-figures, ...) is passed to "
               "every run.")
    p.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS), help="one run per seed (and activation, beta)")
    p.add_argument("--activations", nargs="+", choices=ACTIVATIONS, default=list(ACTIVATIONS))
    p.add_argument("--betas", type=float, nargs="+", default=[0.005], help="noise stds (not variances)")
    p.add_argument("--epochs", type=int, default=3000, help="training epochs of every run")
    parallel.add_arguments(p)
    p.add_argument("--threads", type=int, default=1, help="torch and BLAS threads of every run and task")
    p.add_argument("--out", default="runs", help="root folder: runs in <out>/szt/, the sweep in <out>/sweeps/")
    p.add_argument("--name", default=None, help="folder name of the sweep (default: from the settings)")
    p.add_argument("--resume", action="store_true", help="continue the sweep: skip finished runs, resume the others")
    return p


def _ranges(seeds: list[int]) -> str:
    """0 1 2 3 5 -> "0-3.5"."""
    parts, i = [], 0
    while i < len(seeds):
        j = i
        while j + 1 < len(seeds) and seeds[j + 1] == seeds[j] + 1:
            j += 1
        parts.append(str(seeds[i]) if i == j else f"{seeds[i]}-{seeds[j]}")
        i = j + 1
    return ".".join(parts)


class Plan:
    """The runs of a sweep, checked: their szt arguments, run ids and folders (nothing written)."""

    def __init__(self, args: argparse.Namespace, passed: list[str]) -> None:
        self.out = Path(args.out).resolve()
        self.runs = []  # (argv, run_dir, schedule)
        for beta in args.betas:
            for act in args.activations:
                for seed in args.seeds:
                    argv = [*passed, "--seed", str(seed), "--activation", act, "--beta", repr(beta),
                            "--epochs", str(args.epochs), "--out", str(self.out), "--threads", str(args.threads),
                            "--workers", str(parallel.workers(args))]
                    if args.address is not None:
                        argv += ["--address", args.address]
                    run_args = szt.parser().parse_args(argv)
                    szt.check(run_args)
                    run_id, config = szt.run_settings(run_args)
                    run_dir = self.out / "szt" / run_id
                    exists = (run_dir / "config.json").exists()
                    if exists and not args.resume:
                        raise SystemExit(f"--resume: run {run_dir} exists: pass --resume to use it in the sweep (its "
                                         "settings are checked), or choose another --out")
                    try:
                        Run.check(self.out, "szt", run_id, config, resume=exists)
                    except ValueError as err:
                        raise arguments.as_option(err) from None
                    self.runs.append((argv + (["--resume"] if exists else []), run_dir,
                                      log_schedule(args.epochs, config["measure"])))


def measured_epochs(run_dir: Path) -> tuple[int, int]:
    """(scheduled epochs with all their rows, scheduled epochs) of a szt run, read from its files; (0, 0) while
    it has no readable config.json and metrics.csv."""
    try:
        cfg = json.loads((run_dir / "config.json").read_text())
        rows = read_csv(run_dir / "metrics.csv")
    except (OSError, ValueError):
        return 0, 0
    sites = [f"T{i}" for i in range(1, len(cfg["widths"]) - 1)]
    final = last_quantity(True, not cfg.get("no_diagnostics", False))
    schedule = log_schedule(cfg["epochs"], cfg["measure"])
    return sum(epoch_complete(rows, e, sites, final) for e in schedule), len(schedule)


def run_finished(run_dir: Path) -> bool:
    """Whether a szt run has all its rows at every scheduled epoch and its figures (read from its files)."""
    done, total = measured_epochs(run_dir)
    return total > 0 and done == total and (run_dir / "figures" / "information_plane.png").exists()


@arguments.command
def main(argv: list[str] | None = None) -> Path:
    """Run the sweep (module docstring); returns its folder ``<out>/sweeps/<name>``."""
    args, passed = parser().parse_known_args(argv)
    for flag in passed:
        if flag.split("=")[0] in SET_HERE:
            raise SystemExit(f"{flag.split('=')[0]}: set by the sweep for each run (use --seeds, --activations, "
                             "--betas, --epochs, --workers, --address, --threads, --out)")
    if len(set(args.seeds)) != len(args.seeds):
        raise SystemExit(f"--seeds: got {args.seeds}, expected distinct seeds")
    arguments.at_least_one(args, ("epochs", "threads"))
    parallel.check(args)
    plan = Plan(args, passed)
    name = args.name or (f"e{args.epochs}_{'-'.join(args.activations)}_beta{'-'.join(f'{b:g}' for b in args.betas)}"
                         f"_seeds{_ranges(sorted(args.seeds))}")
    try:
        check_run_id(name)
    except ValueError as err:
        raise arguments.as_option(err, {"run_id": "name"}) from None
    sweep_dir = plan.out / "sweeps" / name
    config = {"seeds": args.seeds, "activations": args.activations, "betas": args.betas, "epochs": args.epochs,
              "szt_options": passed, "runs": [str(d.relative_to(plan.out)) for _, d, _ in plan.runs]}
    if (sweep_dir / "config.json").exists():
        if not args.resume:
            raise SystemExit(f"--resume: sweep {sweep_dir} exists: pass --resume to continue it, or choose another "
                             "--name")
        old = json.loads((sweep_dir / "config.json").read_text())
        if old != config:
            raise SystemExit(f"--resume: the settings of {sweep_dir} differ in "
                             f"{sorted(k for k in set(old) | set(config) if old.get(k) != config.get(k))}; resume with "
                             "the same settings or choose another --name")
    (sweep_dir / "logs").mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(sweep_dir / "config.json", json.dumps(config, indent=2, sort_keys=True).encode())
    t0 = time.perf_counter()
    failed = execute(plan, sweep_dir, args)
    paths = sweep_summary.write(sweep_dir, [d for _, d, _ in plan.runs if run_finished(d)])
    print(f"\nSweep {sweep_dir}: {len(plan.runs)} runs, {len(failed)} failed, wall time "
          f"{(time.perf_counter() - t0) / 60:.1f} min")
    print(sweep_summary.compression_text(sweep_dir))
    for p in paths:
        print(f"  {p}")
    if failed:
        raise SystemExit("runs failed: " + "; ".join(f"{d.name}: {err}" for d, err in failed)
                         + f" (logs in {sweep_dir / 'logs'}; rerun with --resume)")
    return sweep_dir


def execute(plan: Plan, sweep_dir: Path, args: argparse.Namespace) -> list[tuple[Path, str]]:
    """Run every unfinished run of ``plan`` (Ray tasks, or one after the other in this process with
    --workers 1); returns the failed ones with their errors."""
    todo = [(argv, d, s) for argv, d, s in plan.runs if not run_finished(d)]
    running = {d for _, d, _ in todo}
    done = {d: measured_epochs(d)[0] if d in running else len(s) for _, d, s in plan.runs}
    total = sum(len(s) for *_, s in plan.runs)
    bar = tqdm(total=total, initial=sum(done.values()), desc=f"sweep {sweep_dir.name}", unit="epoch",
               dynamic_ncols=True, file=sys.stderr)
    finished, failed = len(plan.runs) - len(todo), []

    def progress() -> None:
        before = bar.n
        for _, d, _ in todo:
            n = measured_epochs(d)[0]
            if n != done[d]:
                bar.update(n - done[d])
                done[d] = n
        text = f"runs {finished}/{len(plan.runs)} done" + (f", {len(failed)} failed" if failed else "")
        if text != bar.postfix or bar.n != before:
            bar.set_postfix_str(text, refresh=True)

    def log(d: Path) -> Path:
        return sweep_dir / "logs" / f"{d.name}.log"

    progress()
    if parallel.in_process(args):
        for argv, d, _ in todo:
            err = parallel.run_command("experiments.szt", argv, str(log(d)))
            finished += err is None
            failed += [(d, err)] if err else []
            progress()
    else:
        with parallel.started(args):
            pool = parallel.RunPool(cap=parallel.task_cap(args))
            for argv, d, _ in todo:
                pool.submit(d, "experiments.szt", argv, log(d))
            while pool.pending:
                for d, err in pool.finished(timeout=2.0):
                    finished += err is None
                    failed += [(d, err)] if err else []
                progress()
    bar.close()
    return failed


if __name__ == "__main__":
    main()
