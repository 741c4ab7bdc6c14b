"""Validate the SP estimator and its intervals against ground truth, and compare it with generic estimators.

    python -m experiments.validate [--reps 500] [--out docs] [--quick] [--threads 1]

Each finished case is kept in ``runs/validate/`` (``--cache``): an interrupted run, started again with the
same settings, resumes where it stopped (delete the folder after changing an estimator: the cache knows the
settings, not the code).

Writes ``docs/validation.md``: for every case of the ground-truth suite (:func:`estimators.ground_truth.suite`
and the noisy-network cases of :func:`noisynet.network_cases.suite`) and every quantity it knows, the mean
estimate, bias, RMSE, mean interval width and the fraction of 95% intervals containing the truth over
``--reps`` independent repetitions (and, where the centres are the law itself, the coverage of the rigorous
Poincare interval); then the error against n of SP, KSG (Kozachenko-Leonenko) and a KDE with a
cross-validated bandwidth on cases of the same suite, the last two run on samples of S + Z, with the figure
``docs/figures/validation_error_vs_n.png``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from pathlib import Path

import numpy as np
import torch
from matplotlib.ticker import NullFormatter
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KernelDensity
from tqdm.auto import tqdm

from estimators import sp_entropy
from estimators.baselines.ksg import ksg_entropy
from estimators.ground_truth import Case, CaseResult, gaussian_case, run_case, sampled_atoms_case, suite
from experiments import arguments, threads
from experiments.plotting import plt, save_figure
from experiments.runs import atomic_write_bytes
from noisynet import network_cases

FLOOR = 0.93  # the coverage floor for every 95% interval


def kde_entropy(t: np.ndarray, *, folds: int = 5) -> float:
    """Resubstitution (leave-one-out) entropy of a Gaussian KDE whose bandwidth is chosen by cross-validated
    log-likelihood (scikit-learn GridSearchCV over 16 widths, 0.03 to 3 times the mean coordinate std).
    t: (n, d) samples of S + Z. Nats. The generic estimator a user without the known beta would reach for."""
    n, d = t.shape
    s = float(t.std(axis=0).mean())
    grid = GridSearchCV(KernelDensity(kernel="gaussian"), {"bandwidth": s * np.logspace(-1.5, 0.5, 16)}, cv=folds)
    grid.fit(t)
    h = grid.best_params_["bandwidth"]
    log_f = KernelDensity(bandwidth=h).fit(t).score_samples(t)
    # leave-one-out: remove each point's own kernel, K_h(0) = (2 pi h^2)^(-d/2), from n f(x_i)
    log_k0 = -0.5 * d * math.log(2 * math.pi * h * h)
    loo = np.log(np.maximum(np.exp(log_f + math.log(n)) - math.exp(log_k0), 1e-300)) - math.log(n - 1)
    return float(-loo.mean())


COMPARISON = {
    # name: n -> a case of the ground-truth suite with n draws of S (its truth "h")
    "Gaussian S, d=1": lambda n: gaussian_case(1, 1.0, 0.5, n),
    "Gaussian S, d=3": lambda n: gaussian_case(3, 1.0, 0.5, n),
    "Gaussian S, d=10": lambda n: gaussian_case(10, 1.0, 0.5, n),
    "16 atoms on [-1,1], beta=0.05": lambda n: sampled_atoms_case(np.linspace(-1, 1, 16)[:, None], 0.05, n,
                                                                  "16 points on [-1, 1]"),
}


def cases(size: str) -> list[Case]:
    """The coverage suite: the cases of :mod:`estimators.ground_truth` and the noisy-network cases."""
    return suite(size) + network_cases.suite(size)


class Cache:
    """Finished measurements of one validation run, one JSON file each, so that an interrupted run resumes
    where it stopped. The key holds every setting that changes the result, not the code: after changing an
    estimator, delete the folder."""

    def __init__(self, folder: Path | None):
        self.folder = folder

    def _path(self, key: str) -> Path | None:
        return None if self.folder is None else self.folder / (re.sub(r"[^A-Za-z0-9.=_-]+", "_", key) + ".json")

    def get(self, key: str):
        path = self._path(key)
        return json.loads(path.read_text()) if path is not None and path.exists() else None

    def put(self, key: str, value) -> None:
        if (path := self._path(key)) is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(path, json.dumps(value).encode())


def compare(ns: list[int], reps: int, seed: int = 0, cache: Cache | None = None) -> dict:
    """RMSE of SP (on S, beta known), KSG and tuned KDE (on S + Z) for each comparison case and n."""
    out, cache = {}, cache or Cache(None)
    total = len(COMPARISON) * len(ns) * reps
    with tqdm(total=total, desc="SP vs KSG vs KDE", unit="fit") as bar:
        for name, make in COMPARISON.items():
            for n in ns:
                key = f"compare {name} n={n} reps={reps} seed={seed}"
                if (done := cache.get(key)) is not None:
                    out[(name, n)] = {k: tuple(v) for k, v in done.items()}
                    bar.update(reps)
                    continue
                case = make(n)
                truth = case.truth["h"].value
                errs = {"SP": [], "KSG": [], "KDE (CV bandwidth)": []}
                for r in range(reps):
                    g = torch.Generator().manual_seed(seed + 1000 * r + n)
                    layer = case.sample(g)
                    s, t = layer.samples[:, 0], layer.noisy(g)[:, 0].numpy()
                    errs["SP"].append(sp_entropy(s, layer.beta, n_mc=4, generator=g).value - truth)
                    errs["KSG"].append(ksg_entropy(t, k=3).value - truth)
                    errs["KDE (CV bandwidth)"].append(kde_entropy(t) - truth)
                    bar.update()
                out[(name, n)] = {k: (float(np.mean(v)), float(np.sqrt(np.mean(np.square(v))))) for k, v in errs.items()}
                cache.put(key, out[(name, n)])
    return out


def coverage_table(results: list[CaseResult]) -> str:
    lines = ["| case | truth | mean | bias | RMSE | mean width | coverage (95%) | rigorous coverage | converged | s / rep |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        flag = "" if r.coverage >= FLOOR else " **below 93%**"
        rig = "-" if r.rigorous_coverage is None else f"{100 * r.rigorous_coverage:.1f}%"
        conv = "-" if r.converged is None else f"{100 * r.converged:.0f}%"
        lines.append(f"| {r.quantity}: {r.case} | {r.truth:.4f} | {r.mean:.4f} | {r.bias:+.4f} | {r.rmse:.4f} | "
                     f"{r.width:.4f} | "
                     f"{100 * r.coverage:.1f}%{flag} | {rig} | {conv} | {r.seconds:.2f} |")
    return "\n".join(lines)


def comparison_table(res: dict, ns: list[int]) -> str:
    methods = ["SP", "KSG", "KDE (CV bandwidth)"]
    lines = ["| case | n | " + " | ".join(f"{m} bias / RMSE" for m in methods) + " |",
             "|---|---:|" + "---:|" * len(methods)]
    for name in COMPARISON:
        for n in ns:
            row = res[(name, n)]
            lines.append(f"| {name} | {n} | " + " | ".join(f"{row[m][0]:+.3f} / {row[m][1]:.3f}" for m in methods) + " |")
    return "\n".join(lines)


def slope_table(res: dict, ns: list[int]) -> str:
    methods = ["SP", "KSG", "KDE (CV bandwidth)"]
    lines = ["| case | " + " | ".join(methods) + " |", "|---|" + "---:|" * len(methods)]
    for name in COMPARISON:
        cells = []
        for m in methods:
            y = np.log([res[(name, n)][m][1] for n in ns])
            cells.append(f"{np.polyfit(np.log(ns), y, 1)[0]:+.2f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def comparison_figure(res: dict, ns: list[int], path: Path) -> Path:
    fig, axes = plt.subplots(1, len(COMPARISON), figsize=(4.2 * len(COMPARISON), 4), squeeze=False)
    for ax, name in zip(axes[0], COMPARISON):
        for m, style in (("SP", "-o"), ("KSG", "--s"), ("KDE (CV bandwidth)", ":^")):
            ax.plot(ns, [res[(name, n)][m][1] for n in ns], style, label=m)
        ref = res[(name, ns[0])]["SP"][1]
        ax.plot(ns, [ref * math.sqrt(ns[0] / n) for n in ns], color="0.6", lw=0.8, label="slope n^-1/2")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(ns, [str(n) for n in ns])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("n (samples)")
        ax.set_ylabel("RMSE of h(S+Z) [nats]")
        ax.set_title(name, fontsize=10)
        ax.grid(True, which="both", alpha=0.25)
    axes[0][0].legend(fontsize=8)
    fig.suptitle("Error against sample size: SP (beta known) vs generic estimators on S + Z")
    return save_figure(fig, path)


@arguments.command
def main(argv: list[str] | None = None) -> Path:
    p = arguments.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--reps", type=int, default=500,
                   help="repetitions per suite case (500: a 95%% interval's coverage then has a standard error "
                        "of 1 point, so the 93%% floor tests the interval, not the luck of the draw)")
    p.add_argument("--compare-reps", type=int, default=10, help="repetitions per (case, n) of the comparison")
    p.add_argument("--out", default="docs", help="folder for validation.md and figures/")
    p.add_argument("--quick", action="store_true", help="the quick suite and a short comparison (minutes)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cache", default="runs/validate",
                   help="folder keeping each finished case, so that a rerun resumes ('' to keep nothing)")
    threads.add_argument(p)
    args = p.parse_args(argv)
    arguments.at_least(args, ("reps", "compare_reps"), 2)
    arguments.at_least_one(args, ("threads",))
    arguments.seed(args)
    arguments.folder(args.out, "out")  # before the computation, not after it
    if args.cache:
        arguments.folder(args.cache, "cache")
    with threads.limited(args.threads):
        return _validate(args)


def _validate(args) -> Path:
    out = Path(args.out)
    cache = Cache(Path(args.cache) if args.cache else None)
    todo = cases("quick" if args.quick else "full")
    results = []
    with tqdm(total=len(todo) * args.reps, desc="coverage suite", unit="rep") as bar:
        for case in todo:
            bar.set_postfix_str(case.name[:40])
            key = f"case {case.name} reps={args.reps} seed={args.seed}"
            if (done := cache.get(key)) is not None:
                results += [CaseResult(**r) for r in done]
                bar.update(args.reps)
                continue
            found = run_case(case, args.reps, seed=args.seed, progress=bar.update)
            cache.put(key, [dataclasses.asdict(r) for r in found])
            results += found
    ns = [250, 500, 1000, 2000] if args.quick else [250, 500, 1000, 2000, 4000]
    res = compare(ns, args.compare_reps, args.seed, cache)
    fig = comparison_figure(res, ns, out / "figures" / "validation_error_vs_n.png")
    worst = min(results, key=lambda r: r.coverage)
    minutes = sum({r.case: r.seconds * r.reps for r in results}.values()) / 60  # a case's quantities share its time
    text = f"""# Validation of the SP estimator against ground truth

Produced by `python -m experiments.validate{' --quick' if args.quick else ''}` ({args.reps} repetitions per case,
seed {args.seed}). The coverage cases took {minutes:.0f} minutes of computation (the
table gives each case's seconds per repetition); finished cases are kept in `{args.cache}` and read, not rerun,
by a later pass with the same settings. All values in nats. With 500 repetitions a correct 95% interval
shows 95 +- 1% coverage; the floor is 93%.

## Coverage of the 95% intervals

Each case of the ground-truth suite (`estimators.ground_truth`; the noisy-network cases in
`noisynet.network_cases`) draws fresh samples (or fresh Monte Carlo noise where the centres are the law itself) in
every repetition and knows its truth, from closed forms or quadrature with its own error bound, computed
independently of the estimator; a row is one quantity of a case. "coverage" is the fraction of 95%
intervals containing the truth; "rigorous coverage" that of the Chebyshev interval from the Poincare bound
on the Monte Carlo variance (only where the centres are the law, so that Monte Carlo is the only error);
"converged" the fraction of repetitions whose nested-subsample diagnostic found the estimate settled (where
it was not, the interval extends to the a-priori bound: see the d = 10 Gaussian, where n = 1000 is far
below e^d and the estimate is biased down by more than a nat, yet the interval covers).

{coverage_table(results)}

Lowest coverage: {100 * worst.coverage:.1f}% ({worst.case}). Floor required: {100 * FLOOR:.0f}%.

## SP against generic estimators

SP uses the samples of S and the known beta; KSG (Kozachenko-Leonenko, k = 3) and a Gaussian KDE with a
cross-validated bandwidth (leave-one-out resubstitution) only see samples of S + Z (one noise draw per
sample), as a generic estimator would. Bias / RMSE over {args.compare_reps} repetitions:

{comparison_table(res, ns)}

![error against n](figures/{fig.name})

Fitted slope of log RMSE against log n (the parametric rate is -0.5):

{slope_table(res, ns)}

Where SP wins and where it does not: on a discrete law (the atoms) and in low dimension, SP's error falls
at least at the parametric rate and is the smallest of the three; the generic estimators pay for not knowing
beta. In d = 10, n is far below e^d and SP's pooled mixture entropy is biased down by more than a nat
(docs/theory.md, sections 4 and 11), while KSG's error is an order of magnitude smaller: there SP is the wrong tool
unless n grows, and its nested diagnostic says so (the d = 10 row of the coverage table: not converged, the
interval widened to the a-priori bound, and covering).
"""
    out.mkdir(parents=True, exist_ok=True)
    path = out / "validation.md"
    path.write_text(text)
    print(coverage_table(results))
    print(comparison_table(res, ns))
    print(f"wrote {path} and {fig}")
    return path


if __name__ == "__main__":
    main()
