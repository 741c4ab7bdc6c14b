"""Validate the SP estimator and its intervals against ground truth, and compare it with generic estimators.

    python -m experiments.validate [--reps 500] [--few-reps 1000] [--hard-reps 500] [--out docs] [--quick]
                                   [--threads 1]

Each finished case is kept in ``runs/validate/`` (``--cache``): an interrupted run, started again with the
same settings, resumes where it stopped (delete the folder after changing an estimator: the cache knows the
settings, not the code).

Writes ``docs/validation.md``: for every case of the ground-truth suite (:func:`estimators.ground_truth.suite`
and the noisy-network cases of :func:`noisynet.network_cases.suite`) and every quantity it knows, the mean
estimate, bias, RMSE, mean interval width and the fraction of 95% intervals containing the truth over
``--reps`` independent repetitions (and, where the centres are the law itself, the coverage of the rigorous
Poincare interval); then the coverage of ``sp_mutual_information`` at its default settings on few inputs,
where the estimate's sampling law is skewed (:func:`estimators.ground_truth.coverage.coverage_study` over
m x R x beta, ``--few-reps`` replica sets per cell, and a hard case with a rare mode, ``--hard-reps``), with
the figure ``docs/figures/validation_few_inputs.png``; then the error against n of SP, KSG
(Kozachenko-Leonenko) and a KDE with a cross-validated bandwidth on cases of the same suite, the last two run
on samples of S + Z, with the figure ``docs/figures/validation_error_vs_n.png``. The closing sentences are
derived from the run's results.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import math
import re
import textwrap
from pathlib import Path

import numpy as np
import torch
from matplotlib.ticker import NullFormatter
from scipy.stats import binomtest, norm
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KernelDensity
from tqdm.auto import tqdm

from estimators import sp_entropy, sp_mutual_information
from estimators.baselines.ksg import ksg_entropy
from estimators.ground_truth import Case, CaseResult, gaussian_case, run_case, sampled_atoms_case, suite
from estimators.ground_truth.coverage import (
    RARE_MODE_NETWORK,
    TWO_LAYER_NETWORK,
    Coverage,
    coverage_study,
    few_inputs,
)
from experiments import arguments, threads
from experiments.plotting import plt, save_figure
from experiments.runs import atomic_write_bytes
from noisynet import network_cases

FLOOR = 0.93  # the coverage floor for every 95% interval
METHODS = ("SP", "KSG", "KDE (CV bandwidth)")  # the estimators of the comparison, SP first

# few inputs at the defaults (issue 13 item 4): the grid, and the hard case (a rare, well separated mode)
FEW_M, FEW_R, FEW_BETA = (4, 6), (32, 64, 128, 256), (0.05, 0.1, 0.5)
HARD_M, HARD_BETA = 4, 0.2


def coverage_se(reps: int) -> float:
    """One standard error (percentage points) of the observed coverage of a correct 95% interval over ``reps``
    repetitions: 100 sqrt(0.95 x 0.05 / reps)."""
    return 100 * math.sqrt(0.0475 / reps)


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
    """Error of SP (on S, beta known), KSG and tuned KDE (on S + Z) against the truth h(S + Z) for each
    comparison case and n, over ``reps`` repetitions (seeded ``seed + 1000 r + n``).

    Returns:
        {(case name, n): {method of METHODS: (bias, RMSE)}}, nats.
    """
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
                errs = {method: [] for method in METHODS}
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


def few_inputs_study(reps: int, hard_reps: int, seed: int = 0,
                     cache: Cache | None = None) -> tuple[list[Coverage], list[Coverage]]:
    """``sp_mutual_information`` at its defaults on few inputs: :func:`coverage_study` on the grid FEW_M x
    FEW_R x FEW_BETA (the suite's two-layer network, ``reps`` replica sets per cell) and on the hard case
    (RARE_MODE_NETWORK, m = HARD_M, beta = HARD_BETA, R in FEW_R, ``hard_reps`` sets). Each finished cell is
    kept in ``cache``. Returns (grid cells, hard-case cells)."""
    cache = cache or Cache(None)
    grid = [(m, r, beta, TWO_LAYER_NETWORK, reps) for m in FEW_M for r in FEW_R for beta in FEW_BETA]
    hard = [(HARD_M, r, HARD_BETA, RARE_MODE_NETWORK, hard_reps) for r in FEW_R]
    done: list[Coverage] = []
    with tqdm(total=sum(c[-1] for c in grid + hard), desc="few inputs at the defaults", unit="rep") as bar:
        for m, r, beta, network, n in grid + hard:
            key = f"few m={m} R={r} beta={beta} network={network} reps={n} seed={seed}"
            if (found := cache.get(key)) is not None:
                done.append(Coverage(**(found | {"network": tuple(found["network"])})))
                bar.update(n)
                continue
            bar.set_postfix_str(f"m={m} R={r} beta={beta}")
            c = coverage_study(m, r, beta, n, seed=seed, network=network, progress=bar.update)
            cache.put(key, dataclasses.asdict(c))
            done.append(c)
    return done[:len(grid)], done[len(grid):]


def sp_defaults() -> dict:
    """The defaults of ``sp_mutual_information`` that set its interval (read from its signature)."""
    params = inspect.signature(sp_mutual_information).parameters
    return {k: params[k].default for k in ("n_mc", "min_draws", "n_query", "level", "tol")}


def minority_mass(c: Coverage) -> tuple[float, float]:
    """(p, x): the largest probability, over the inputs x, that T1 falls on the other side of layer 2's tanh
    centre (-b2 / w2) than its noiseless value tanh(w1 x + b1), so that S2 changes sign: the mass of the
    minority mode of S2 | x."""
    w1, b1, w2, b2 = c.network
    xs = few_inputs(c.m).numpy()
    p = norm.cdf(-np.abs(w2 * np.tanh(w1 * xs + b1) + b2) / (abs(w2) * c.beta))
    return float(p.max()), float(xs[p.argmax()])


def few_table(cells: list[Coverage], *, rare_mode: bool = False) -> str:
    """Markdown: one row per few-input cell (nats; coverage in %, time in seconds per replica set); with
    ``rare_mode``, also R p, the expected number of replicas in the minority mode (:func:`minority_mass`)."""
    head = "| m | R | beta | truth | coverage (95%) | misses above / below | RMSE | mean half-width | n_query | n_mc |"
    head += (" R p |" if rare_mode else "") + " s / rep |"
    lines = [head, "|" + "---:|" * (head.count("|") - 1)]
    for c in cells:
        flag = "" if c.coverage >= FLOOR else f" **below {100 * FLOOR:.0f}%**"
        extra = f" {c.replicas * minority_mass(c)[0]:.1f} |" if rare_mode else ""
        lines.append(f"| {c.m} | {c.replicas} | {c.beta:g} | {c.truth:.4f} | {100 * c.coverage:.1f}%{flag} | "
                     f"{c.above} / {c.below} | {c.rmse:.4f} | {c.half_width:.4f} | {c.n_query} | {c.n_mc} |"
                     f"{extra} {c.seconds:.3f} |")
    return "\n".join(lines)


def few_figure(grid: list[Coverage], hard: list[Coverage], path: Path) -> Path:
    """Coverage against R per m (one panel each) and beta, with exact (Clopper-Pearson) 95% intervals of the
    coverage; the hard case on its m's panel; the nominal 95% and the 93% floor."""
    fig, axes = plt.subplots(1, len(FEW_M), figsize=(5.2 * len(FEW_M), 4.2), sharey=True, squeeze=False)
    low = min(c.coverage for c in grid + hard)
    for ax, m in zip(axes[0], FEW_M):
        series = [(f"beta = {b:g}", [c for c in grid if c.m == m and c.beta == b], "-o") for b in FEW_BETA]
        if m == HARD_M:
            series.append((f"hard case: rare mode, {network_label(RARE_MODE_NETWORK)}, beta = {HARD_BETA:g}",
                           hard, "--ks"))
        for k, (label, cells, style) in enumerate(series):
            rs = np.array([c.replicas for c in cells]) * 2 ** (0.04 * (k - (len(series) - 1) / 2))  # side by side
            cov = np.array([100 * c.coverage for c in cells])
            ci = np.array([binomtest(c.covered, c.reps).proportion_ci(0.95) for c in cells]) * 100
            ax.errorbar(rs, cov, yerr=[cov - ci[:, 0], ci[:, 1] - cov], fmt=style, ms=4, capsize=3,
                        label=f"{label} ({cells[0].reps} sets)")
        ax.axhline(95, color="0.3", lw=0.8, label="nominal 95%")
        ax.axhline(100 * FLOOR, color="tab:red", lw=0.8, ls=":", label=f"floor {100 * FLOOR:.0f}%")
        ax.set_xscale("log", base=2)
        ax.set_xticks(FEW_R, [str(r) for r in FEW_R])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("R (replicas per input)")
        ax.set_title(f"m = {m} inputs", fontsize=10)
        ax.grid(True, alpha=0.25)
    axes[0][0].set_ylabel("coverage of the 95% interval of I(X;T2) [%]")
    axes[0][0].set_ylim(min(85.0, 100 * low - 5), 100.5)
    fig.legend(*axes[0][0].get_legend_handles_labels(), loc="lower center", ncol=3, fontsize=8)
    fig.suptitle("sp_mutual_information at its defaults, few inputs: coverage (exact 95% binomial intervals)")
    fig.tight_layout(rect=(0, 0.13, 1, 1))
    return save_figure(fig, path, tight=False)


def network_label(network) -> str:
    """"(w1, b1, w2, b2) = (...)", the weights of a two-layer chain
    (:func:`estimators.ground_truth.coverage.two_layer_samples`)."""
    return "(w1, b1, w2, b2) = (" + ", ".join(f"{v:g}" for v in network) + ")"


def few_section(grid: list[Coverage], hard: list[Coverage], fig: Path, seed: int) -> str:
    """The report's section "Few inputs at the defaults"; every number in it comes from the cells or from the
    library (its defaults, the law of the hard case)."""
    d = sp_defaults()
    reps = grid[0].reps
    low, high = min(grid, key=lambda c: c.coverage), max(grid, key=lambda c: c.coverage)
    below = [c for c in grid if c.coverage < FLOOR]
    at_nominal = sum(c.coverage >= 0.95 for c in grid)
    falls = [max(cells, key=lambda c: c.replicas).rmse / min(cells, key=lambda c: c.replicas).rmse
             for m in FEW_M for b in FEW_BETA for cells in [[c for c in grid if c.m == m and c.beta == b]]]
    floor_text = (f"every cell at or above the {100 * FLOOR:.0f}% floor" if not below else
                  f"{len(below)} of {len(grid)} cells below the {100 * FLOOR:.0f}% floor (" +
                  ", ".join(f"m = {c.m}, R = {c.replicas}, beta = {c.beta:g}: {100 * c.coverage:.1f}%"
                            for c in below) + ")")
    hard = sorted(hard, key=lambda c: c.replicas)
    first = hard[0]
    p, x_rare = minority_mass(first)
    w1, b1, w2, b2 = first.network
    s_rare = math.tanh(w2 * math.tanh(w1 * x_rare + b1) + b2)
    hard_low = min(hard, key=lambda c: c.coverage)
    reach = next((c for c in hard if c.coverage >= FLOOR), None)
    reached = (f"it reaches the {100 * FLOOR:.0f}% floor from R = {reach.replicas} (R p = {reach.replicas * p:.1f})"
               if reach else
               f"it stays below the {100 * FLOOR:.0f}% floor up to R = {hard[-1].replicas} "
               f"(R p = {hard[-1].replicas * p:.1f})")
    return f"""## Few inputs at the defaults

`sp_mutual_information(samples, beta)` with nothing else set, i.e. at the library's defaults n_mc =
{d["n_mc"]}, min_draws = {d["min_draws"]}, level = {d["level"]}, tol = {d["tol"]:g} and n_query = {d["n_query"]}
(the rule: min(R, max(min(8, R // 4), ceil(min_draws / (m n_mc)))) query units per input, n_mc then raised
so that m n_query n_mc >= min_draws; the table gives what they came to). The case: layer 2 of the chain
T1 = tanh(w1 x + b1) + beta Z1, S2 = tanh(w2 T1 + b2), T2 = S2 + beta Z2 with
{network_label(TWO_LAYER_NETWORK)} (the suite's two-layer network), X uniform on m points of [-1.5, 1.5],
R replicas of S2 per input drawn directly (`estimators.ground_truth.coverage`); few inputs make the
estimate's sampling law skewed (docs/theory.md, section 6, "Skewed units"). Truth: quadrature
(`two_layer_tanh_mi`), independent of the estimator. {reps} replica sets per cell (seeds {seed} to
{seed + reps - 1}, the same in every cell): a correct 95% interval shows 95 +- {coverage_se(reps):.1f}%
coverage (one standard error). "misses above / below": intervals entirely above / below the truth.

{few_table(grid)}

Lowest coverage {100 * low.coverage:.1f}% (m = {low.m}, R = {low.replicas}, beta = {low.beta:g}), highest
{100 * high.coverage:.1f}%: {floor_text}; {at_nominal} of {len(grid)} cells at or above 95%. Misses:
{sum(c.above for c in grid)} above the truth, {sum(c.below for c in grid)} below. The RMSE at
R = {FEW_R[-1]} is {min(falls):.2f} to {max(falls):.2f} times that at R = {FEW_R[0]} (per m and beta).

![coverage at the defaults on few inputs](figures/{fig.name})

**Hard case, the known limit: a conditional law with a rare mode.** {network_label(RARE_MODE_NETWORK)},
m = {first.m}, beta = {first.beta:g}, the same defaults, {first.reps} replica sets per R. At x = {x_rare:g}, T1
falls on the other side of tanh's centre with probability p = {p:.3f} ("R p" below: the expected number of
replicas there; the centre is T1 = -b2 / w2 = {-b2 / w2:.2f}), and S2 then changes sign: more than
{abs(s_rare):.2f} ({abs(s_rare) / first.beta:.1f} beta) from its noiseless value {s_rare:.2f}, a mode apart from
the rest. Replicas that all miss a mode cannot show
it (all R miss it with probability (1 - p)^R = {(1 - p) ** first.replicas:.2f} at R = {first.replicas}), and
the estimate of I(X;T) is then too high with a small standard error:

{few_table(hard, rare_mode=True)}

Coverage {", ".join(f"{100 * c.coverage:.0f}% at R = {c.replicas}" for c in hard)}: lowest
{100 * hard_low.coverage:.1f}% (R = {hard_low.replicas}), {hard_low.above} of its
{hard_low.above + hard_low.below} misses above the truth; {reached}. Coverage on such laws needs R p of at
least a few for the rarest mode that matters; the {100 * FLOOR:.0f}% floor is claimed for the grid above, not
for them.
"""


def coverage_table(results: list[CaseResult]) -> str:
    """Markdown: one row per quantity of a suite case (nats; coverages in %, time in seconds per repetition)."""
    lines = ["| case | truth | mean | bias | RMSE | mean width | coverage (95%) | rigorous coverage | converged | s / rep |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        flag = "" if r.coverage >= FLOOR else f" **below {100 * FLOOR:.0f}%**"
        rig = "-" if r.rigorous_coverage is None else f"{100 * r.rigorous_coverage:.1f}%"
        conv = "-" if r.converged is None else f"{100 * r.converged:.0f}%"
        lines.append(f"| {r.quantity}: {r.case} | {r.truth:.4f} | {r.mean:.4f} | {r.bias:+.4f} | {r.rmse:.4f} | "
                     f"{r.width:.4f} | "
                     f"{100 * r.coverage:.1f}%{flag} | {rig} | {conv} | {r.seconds:.2f} |")
    return "\n".join(lines)


def comparison_table(res: dict, ns: list[int]) -> str:
    """Markdown: bias / RMSE (nats) of each method per comparison case and n."""
    lines = ["| case | n | " + " | ".join(f"{m} bias / RMSE" for m in METHODS) + " |",
             "|---|---:|" + "---:|" * len(METHODS)]
    for name in COMPARISON:
        for n in ns:
            row = res[(name, n)]
            lines.append(f"| {name} | {n} | " + " | ".join(f"{row[m][0]:+.3f} / {row[m][1]:.3f}" for m in METHODS) + " |")
    return "\n".join(lines)


def rmse_slope(res: dict, ns: list[int], name: str, method: str) -> float:
    """Fitted slope of log RMSE against log n."""
    return float(np.polyfit(np.log(ns), np.log([res[(name, n)][method][1] for n in ns]), 1)[0])


def slope_table(res: dict, ns: list[int]) -> str:
    """Markdown: :func:`rmse_slope` of each method per comparison case."""
    lines = ["| case | " + " | ".join(METHODS) + " |", "|---|" + "---:|" * len(METHODS)]
    for name in COMPARISON:
        lines.append(f"| {name} | " + " | ".join(f"{rmse_slope(res, ns, name, m):+.2f}" for m in METHODS) + " |")
    return "\n".join(lines)


def comparison_summary(res: dict, ns: list[int], unsettled: list[CaseResult]) -> str:
    """Where SP wins and where it does not, from the comparison at the largest n (and the coverage suite's
    cases whose nested diagnostic did not settle)."""
    n = ns[-1]
    win, lose = [], []
    for name in COMPARISON:
        row = res[(name, n)]
        best = min(METHODS[1:], key=lambda k: row[k][1])
        ratio = row[best][1] / row["SP"][1]
        (win if ratio > 1 else lose).append((name, best, ratio, row["SP"]))
    text = f"Where SP wins and where it does not, at n = {n}: "
    if win:
        text += ("SP's RMSE is the smallest of the three on " + "; ".join(
            f"{name} (the better generic estimator, {best}, has {ratio:.1f} times SP's RMSE; SP's fitted slope "
            f"{rmse_slope(res, ns, name, 'SP'):+.2f})" for name, best, ratio, _ in win) +
            ": the generic estimators pay for not knowing beta. ")
    if lose:
        text += ("It is not on " + "; ".join(
            f"{name}, where {best}'s RMSE is {ratio:.2f} times SP's and SP's bias is {sp[0]:+.2f} nats "
            f"({100 * sp[0] ** 2 / sp[1] ** 2:.0f}% of its mean squared error)" for name, best, ratio, sp in lose) +
            ". ")
    if biased := [name for name, _, _, sp in lose if sp[0] < 0 and sp[0] ** 2 > 0.5 * sp[1] ** 2]:
        text += (f"On {' and '.join(biased)} SP's error is mostly its downward bias: its pooled mixture entropy is "
                 "biased down where n is far below e^d (docs/theory.md, sections 4 and 11), and there SP is the "
                 "wrong tool unless n grows. ")
    if unsettled:
        text += ("Its nested diagnostic says so in the coverage suite: " + "; ".join(
            f"{r.case} settled in {100 * r.converged:.0f}% of repetitions, and its interval, widened to the "
            f"a-priori bound, covered {100 * r.coverage:.1f}%" for r in unsettled) + ".")
    return text.strip()


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


def reflow(markdown: str, width: int = 110) -> str:
    """Fill every paragraph of ``markdown`` to ``width`` columns; tables, headings and images unchanged. A
    token that would start a list or a heading at the start of a line ("+ b2", "- 1", "1. ") stays on the line
    before."""
    def fill(paragraph: str) -> str:
        glued = re.sub(r" (?=(?:[-+*>#]|\d+[.)]) )", "\0", " ".join(paragraph.split()))
        return textwrap.fill(glued, width, break_long_words=False, break_on_hyphens=False).replace("\0", " ")

    blocks = markdown.strip().split("\n\n")
    return "\n\n".join(b if b.startswith(("|", "#", "![")) else fill(b) for b in blocks) + "\n"


@arguments.command
def main(argv: list[str] | None = None) -> Path:
    p = arguments.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--reps", type=int, default=500,
                   help="repetitions per suite case (500: a 95%% interval's coverage then has a standard error "
                        "of 1 point, so the 93%% floor tests the interval, not the luck of the draw)")
    p.add_argument("--few-reps", type=int, default=None,
                   help="replica sets per cell of the few-input study at the defaults (default 1000, --quick 200)")
    p.add_argument("--hard-reps", type=int, default=None,
                   help="replica sets per R of its hard case, a rare mode (default 500, --quick 100)")
    p.add_argument("--compare-reps", type=int, default=10, help="repetitions per (case, n) of the comparison")
    p.add_argument("--out", default="docs", help="folder for validation.md and figures/")
    p.add_argument("--quick", action="store_true", help="the quick suite and a short comparison (minutes)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cache", default="runs/validate",
                   help="folder keeping each finished case, so that a rerun resumes ('' to keep nothing)")
    threads.add_argument(p)
    args = p.parse_args(argv)
    args.few_reps = args.few_reps if args.few_reps is not None else (200 if args.quick else 1000)
    args.hard_reps = args.hard_reps if args.hard_reps is not None else (100 if args.quick else 500)
    arguments.at_least(args, ("reps", "few_reps", "hard_reps", "compare_reps"), 2)
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
    grid, hard = few_inputs_study(args.few_reps, args.hard_reps, args.seed, cache)
    few_fig = few_figure(grid, hard, out / "figures" / "validation_few_inputs.png")
    ns = [250, 500, 1000, 2000] if args.quick else [250, 500, 1000, 2000, 4000]
    res = compare(ns, args.compare_reps, args.seed, cache)
    fig = comparison_figure(res, ns, out / "figures" / "validation_error_vs_n.png")
    worst = min(results, key=lambda r: r.coverage)
    minutes = sum({r.case: r.seconds * r.reps for r in results}.values()) / 60  # a case's quantities share its time
    few_minutes = sum(c.seconds * c.reps for c in grid + hard) / 60
    unsettled = [r for r in results if r.converged is not None and r.converged < 0.5]
    unsettled_text = "".join(f"; {r.quantity}: {r.case} settled in {100 * r.converged:.0f}% of repetitions, its bias "
                             f"{r.bias:+.2f} nats, its coverage {100 * r.coverage:.1f}%" for r in unsettled)
    text = f"""# Validation of the SP estimator against ground truth

Produced by `python -m experiments.validate{' --quick' if args.quick else ''}` ({args.reps} repetitions per suite
case, {args.few_reps} replica sets per few-input cell, {args.hard_reps} per cell of its hard case, seed
{args.seed}). The coverage cases took {minutes:.0f} minutes of computation and the few-input study
{few_minutes:.0f} minutes (the tables give each case's seconds per repetition); finished cases are kept in
`{args.cache}` and read, not rerun, by a later pass with the same settings. All values in nats. With
{args.reps} repetitions a correct 95% interval shows 95 +- {coverage_se(args.reps):.1f}% coverage (one
standard error); the floor is {100 * FLOOR:.0f}%.

## Coverage of the 95% intervals

Each case of the ground-truth suite (`estimators.ground_truth`; the noisy-network cases in
`noisynet.network_cases`) draws fresh samples (or fresh Monte Carlo noise where the centres are the law itself) in
every repetition and knows its truth, from closed forms or quadrature with its own error bound, computed
independently of the estimator; a row is one quantity of a case. "coverage" is the fraction of 95%
intervals containing the truth; "rigorous coverage" that of the Chebyshev interval from the Poincare bound
on the Monte Carlo variance (only where the centres are the law, so that Monte Carlo is the only error);
"converged" the fraction of repetitions whose nested-subsample diagnostic found the estimate settled (where
it was not, the interval extends to the a-priori bound{unsettled_text}).

{coverage_table(results)}

Lowest coverage: {100 * worst.coverage:.1f}% ({worst.quantity}: {worst.case}). Floor required: {100 * FLOOR:.0f}%.

{few_section(grid, hard, few_fig, args.seed)}

## SP against generic estimators

SP uses the samples of S and the known beta; KSG (Kozachenko-Leonenko, k = 3) and a Gaussian KDE with a
cross-validated bandwidth (leave-one-out resubstitution) only see samples of S + Z (one noise draw per
sample), as a generic estimator would. Bias / RMSE over {args.compare_reps} repetitions:

{comparison_table(res, ns)}

![error against n](figures/{fig.name})

Fitted slope of log RMSE against log n (the parametric rate is -0.5):

{slope_table(res, ns)}

{comparison_summary(res, ns, unsettled)}
"""
    out.mkdir(parents=True, exist_ok=True)
    path = out / "validation.md"
    path.write_text(reflow(text))
    print(coverage_table(results))
    print(few_table(grid))
    print(few_table(hard, rare_mode=True))
    print(comparison_table(res, ns))
    print(f"wrote {path}, {few_fig} and {fig}")
    return path


if __name__ == "__main__":
    main()
