"""The single noisy neuron (Goldfeld et al., ICML 2019, section 3 example; docs/theory.md, section 8).

    python -m experiments.single_neuron [--betas 0.01 0.05 0.1] [--w-min 0.001] [--w-max 100] [--n-w 41]
                                        [--replicas 16] [--n-mc 512] [--seed 0] [--out runs] [--resume]

T = tanh(w (X - 2)) + Z, Z ~ N(0, beta^2), X uniform on {-3, -1, 1, 3}, Y = 1{X = 3}. As w grows the four
noisy images first separate (I(X;T) rises towards ln 4 = 1.386 nats) and then the images of -3, -1 and 1
merge at tanh = -1 (I(X;T) falls towards h_b(1/4) = 0.5623 nats, the entropy of the merged partition).

For each beta and each w of a log-spaced grid, the neuron is built as a torch model (Linear(1, 1) with
weight w and bias -2w, then Tanh) wrapped in a :class:`noisynet.NoisyTwin`, and I(X;T) and I(T;Y) are
estimated by :func:`estimators.sp_mutual_information` on the samples of ``twin.propagate`` (each input
once, R replicas). Going through the twin rather than writing the four points tanh(w (x - 2)) by hand runs
the same path as every network measurement (twin -> sample propagation -> SP estimator) on a network
whose answer is known. No noise reaches the first layer, so the R replicas of each input coincide and the
estimator uses the closed-form conditional N(s_i, beta^2); the pooled law is the exact four-component
mixture, and the only random error is Monte Carlo. The reference is the quadrature of
:func:`estimators.ground_truth.single_neuron_mi`, independent of the estimator.

Writes runs/single_neuron/<run-id>/ (config.json, metrics.csv with ``param`` = "w=<w>", one row per
estimate and per exact value, figures/mi_vs_w.png and figures/densities.png) and prints a summary with
the number of intervals that contain the exact value.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.ticker import MaxNLocator
from scipy.stats import binom, norm
from torch import nn
from tqdm.auto import tqdm

from estimators.ground_truth import (
    SINGLE_NEURON_INPUTS,
    SINGLE_NEURON_LABELS,
    single_neuron_mi,
)
from estimators.sp_mi import sp_mutual_information
from experiments import arguments, plotting, threads
from experiments.runs import Run

SHIFT = 2.0  # T = tanh(w (X - SHIFT)): bias b = -2 w
H_B_QUARTER = -(0.25 * math.log(0.25) + 0.75 * math.log(0.75))  # h_b(1/4) = 0.5623 nats
RESOLUTION = 1e-6
"""Numerical resolution (nats) of the "agrees at every w" check. Where the images are more than ~10 beta
apart, the exact I(X;T) sits up to ~3e-8 nats below ln 4, carried by tail events of probability ~1e-8 that
no Monte Carlo sample of ~1e5 draws contains; the per-draw values are then constant to rounding and the
estimate's standard error collapses to ~1e-14. Differences below this resolution are reported, not hidden."""


def neuron_twin(w: float, beta: float, shift: float = SHIFT) -> NoisyTwin:  # noqa: F821
    """The single neuron tanh(w (x - shift)) as a float64 torch model (Linear(1, 1) -> Tanh) inside a
    :class:`noisynet.NoisyTwin` with noise std ``beta`` after the Tanh (site "T1").

    Raises:
        ValueError: w or shift not finite; beta <= 0 (from NoisyTwin).
    """
    from noisynet.twin import NoisyTwin

    if not (math.isfinite(w) and math.isfinite(shift)):
        raise ValueError(f"w, shift: got ({w!r}, {shift!r}), expected finite numbers")
    lin = nn.Linear(1, 1, dtype=torch.float64)
    with torch.no_grad():
        lin.weight.fill_(w)
        lin.bias.fill_(-shift * w)
    return NoisyTwin(nn.Sequential(lin, nn.Tanh()), beta)


def inputs() -> tuple[torch.Tensor, torch.Tensor]:
    """x: Tensor (4, 1) float64 = [-3, -1, 1, 3]; y: Tensor (4,) int64 = [0, 0, 0, 1]."""
    return (torch.tensor(SINGLE_NEURON_INPUTS, dtype=torch.float64)[:, None],
            torch.tensor(SINGLE_NEURON_LABELS, dtype=torch.int64))


def w_param(w: float) -> str:
    return f"w={w:.10g}"


def measure(w: float, beta: float, *, replicas: int = 16, n_mc: int = 512, seed: int = 0,
            level: float = 0.95) -> list[dict]:
    """SP estimates and exact values of I(X;T) and I(T;Y) of the single neuron at one (w, beta), as rows.

    Args:
        w: the weight (float, finite). beta: noise std (> 0). replicas: R >= 2 passes per input (all
            query units: n_query = R). n_mc: Monte Carlo draws per query unit. seed: seeds the propagation
            and the Monte Carlo. level: the intervals' nominal coverage.

    Returns:
        four dicts with keys in experiments.rows.COLUMNS (epoch 0, layer "T1", param "w=<w>"): estimator
        "sp" for I_XT and I_TY (value, 95% interval, std_error, nats) and estimator "quadrature" (the exact
        value, interval = value -/+ its quadrature error bound).

    Raises:
        ValueError: bad w, beta, replicas or n_mc (from the twin and the estimator).
    """
    x, y = inputs()
    twin = neuron_twin(w, beta)
    t0 = time.perf_counter()
    s = twin.propagate(x, replicas, generator=seed)["T1"]  # (4, R, 1), replicas identical
    info = sp_mutual_information(s, beta, y, n_mc=n_mc, n_query=replicas, generator=seed + 1, level=level)
    seconds = time.perf_counter() - t0
    exact = single_neuron_mi(w, beta, shift=SHIFT)
    base = {"epoch": 0, "layer": "T1", "layer_dim": 1, "param": w_param(w), "unit": "nat", "beta": float(beta)}
    rows = []
    for q, est in (("I_XT", info.i_xt), ("I_TY", info.i_ty)):
        rows.append({**base, "quantity": q, "estimator": "sp", "value": est.value, "ci_low": est.ci_low,
                     "ci_high": est.ci_high, "std_error": est.std_error, "n": est.n, "n_mc": est.n_mc,
                     "seconds": seconds if q == "I_XT" else 0.0, "converged": est.diagnostics.get("converged")})
    for q, v, e in (("I_XT", exact.i_xt, exact.i_xt_error), ("I_TY", exact.i_ty, exact.i_ty_error)):
        rows.append({**base, "quantity": q, "estimator": "quadrature", "value": float(v),
                     "ci_low": float(v - e), "ci_high": float(v + e)})
    return rows


# ---------------------------------------------------------------------------------------------- CLI


def parser() -> argparse.ArgumentParser:
    p = arguments.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--betas", type=float, nargs="+", default=[0.01, 0.05, 0.1], help="noise stds")
    p.add_argument("--w-min", type=float, default=1e-3, help="smallest weight w (> 0)")
    p.add_argument("--w-max", type=float, default=100.0, help="largest weight w")
    p.add_argument("--n-w", type=int, default=41, help="number of log-spaced weights")
    p.add_argument("--replicas", type=int, default=16, help="R: passes per input (all are query units)")
    p.add_argument("--n-mc", type=int, default=512, help="Monte Carlo draws per query unit")
    p.add_argument("--level", type=float, default=0.95, help="nominal coverage of each interval")
    p.add_argument("--curve-points", type=int, default=120, help="weights on each exact (quadrature) curve")
    p.add_argument("--seed", type=int, default=0)
    threads.add_argument(p)
    p.add_argument("--out", default="runs", help="root folder of the runs")
    p.add_argument("--run-id", default=None, help="folder name of the run (default: from the settings)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run with the same settings")
    return p


def check(args: argparse.Namespace) -> None:
    """Every option (SystemExit naming the option); :func:`main` checks the run's folder."""
    arguments.betas(args, "betas")
    arguments.seed(args)
    arguments.at_least_one(args, ("threads",))
    if not (0 < args.w_min < args.w_max and math.isfinite(args.w_max)):
        raise SystemExit(f"--w-min, --w-max: got ({args.w_min}, {args.w_max}), expected 0 < w-min < w-max")
    if args.n_w < 2 or args.curve_points < 2:
        raise SystemExit(f"--n-w, --curve-points: got ({args.n_w}, {args.curve_points}), expected >= 2")
    if args.replicas < 2 or args.n_mc < 1:
        raise SystemExit(f"--replicas, --n-mc: got ({args.replicas}, {args.n_mc}), expected >= 2 and >= 1")
    if not 0 < args.level < 1:
        raise SystemExit(f"--level: got {args.level}, expected a probability in (0, 1)")


def _keep_complete(run: Run) -> set[tuple[str, str]]:
    """(beta, param) pairs whose four rows are all written; rows of an incomplete pair are dropped."""
    rows = run.rows()
    count: dict[tuple[str, str], int] = {}
    for r in rows:
        count[(r["beta"], r["param"])] = count.get((r["beta"], r["param"]), 0) + 1
    done = {k for k, c in count.items() if c == 4}
    run.discard_rows(lambda r: (r["beta"], r["param"]) not in done)
    return done


@arguments.command
def main(argv: list[str] | None = None) -> Run:
    """Parse ``argv`` and run with torch and the BLAS pools limited to --threads (restored afterwards)."""
    args = parser().parse_args(argv)
    check(args)
    arguments.run_folder(args.out, "single_neuron", *run_settings(args), resume=args.resume)
    with threads.limited(args.threads):
        return _run(args)


def run_settings(args: argparse.Namespace) -> tuple[str, dict]:
    """The run id and the config.json of the run ``args`` describe."""
    config = {k: v for k, v in vars(args).items() if k not in ("out", "run_id", "curve_points", "threads")}
    config.update(experiment="single_neuron", shift=SHIFT, inputs=SINGLE_NEURON_INPUTS.tolist(),
                  labels=SINGLE_NEURON_LABELS.tolist())
    run_id = args.run_id or (f"beta{'-'.join(f'{b:g}' for b in args.betas)}_w{args.w_min:g}-{args.w_max:g}"
                             f"_n{args.n_w}_seed{args.seed}")
    return run_id, config


def _run(args: argparse.Namespace) -> Run:
    grid = np.logspace(math.log10(args.w_min), math.log10(args.w_max), args.n_w)
    run_id, config = run_settings(args)
    run = Run(args.out, "single_neuron", run_id, config, resume=args.resume)
    done = _keep_complete(run)
    t0 = time.perf_counter()
    jobs = [(bi, b, wi, float(w)) for bi, b in enumerate(args.betas) for wi, w in enumerate(grid)]
    bar = tqdm(jobs, desc=f"single_neuron {run_id}", unit="estimate", dynamic_ncols=True)
    for bi, beta, wi, w in bar:
        if (str(float(beta)), w_param(w)) in done:  # csv writes str(float)
            continue
        rows = measure(w, beta, replicas=args.replicas, n_mc=args.n_mc, level=args.level,
                       seed=args.seed * 1_000_003 + bi * 10_007 + wi)
        run.append(rows)  # the four rows of a pair in one write
        bar.set_postfix_str(f"beta={beta:g} w={w:.3g} I(X;T)={rows[0]['value']:.3f}", refresh=False)
    bar.close()
    rows = run.rows()
    curves = exact_curves(args.betas, (args.w_min, args.w_max), args.curve_points)
    figs = [plot_mi_vs_w(rows, run.figures / "mi_vs_w.png", curves, args.level),
            plot_densities(run.figures / "densities.png", curves)]
    print(summary(rows, args.level, time.perf_counter() - t0, run.dir, figs))
    return run


# --------------------------------------------------------------------------------------- analysis


def table(rows: list[dict], quantity: str, beta: float) -> dict[str, np.ndarray]:
    """Estimates and exact values of one quantity at one beta, sorted by w: arrays w, value, ci_low,
    ci_high, std_error (the estimates) and exact, exact_error (quadrature)."""
    def pick(est: str) -> dict[str, dict]:
        return {r["param"]: r for r in rows if r["quantity"] == quantity and r["estimator"] == est
                and math.isclose(float(r["beta"]), beta, rel_tol=1e-12)}
    sp, ex = pick("sp"), pick("quadrature")
    keys = sorted(set(sp) & set(ex), key=lambda p: float(p.split("=")[1]))
    f = lambda rs, k: np.array([float(rs[p][k]) for p in keys])
    return {"w": np.array([float(p.split("=")[1]) for p in keys]), "value": f(sp, "value"),
            "ci_low": f(sp, "ci_low"), "ci_high": f(sp, "ci_high"), "std_error": f(sp, "std_error"),
            "exact": f(ex, "value"), "exact_error": f(ex, "value") - f(ex, "ci_low")}


def coverage(rows: list[dict], betas, level: float) -> dict[str, dict]:
    """Per quantity: n estimates, how many intervals contain the exact value (within its quadrature error),
    the binomial 95% range expected at nominal ``level``, and the same for simultaneous (Bonferroni)
    intervals over all n estimates, widened by :data:`RESOLUTION`, with the largest miss (nats) and the
    (beta, w, estimate - exact, z) of every estimate outside its simultaneous interval."""
    out = {}
    for q in ("I_XT", "I_TY"):
        tabs = [table(rows, q, b) for b in betas]
        v = np.concatenate([t["value"] for t in tabs])
        lo, hi = np.concatenate([t["ci_low"] for t in tabs]), np.concatenate([t["ci_high"] for t in tabs])
        se = np.concatenate([t["std_error"] for t in tabs])
        ex, ee = np.concatenate([t["exact"] for t in tabs]), np.concatenate([t["exact_error"] for t in tabs])
        n = v.size
        inside = (lo <= ex + ee) & (ex - ee <= hi)
        z, zs = norm.ppf(0.5 + level / 2), norm.ppf(1 - (1 - level) / (2 * max(n, 1)))
        # simultaneous interval: the same margins, z widened from the pointwise to the Bonferroni quantile
        slo, shi = lo - (zs - z) * se - RESOLUTION, hi + (zs - z) * se + RESOLUTION
        sim = (slo <= ex + ee) & (ex - ee <= shi)
        miss = np.maximum(np.maximum(lo - (ex + ee), (ex - ee) - hi), 0.0)
        ws = np.concatenate([t["w"] for t in tabs])
        bs = np.concatenate([np.full(t["w"].size, b) for b, t in zip(betas, tabs)])
        exceptions = [(float(bs[k]), float(ws[k]), float(v[k] - ex[k]), float((v[k] - ex[k]) / se[k]) if se[k] > 0
                       else float("inf")) for k in np.flatnonzero(~sim)]
        out[q] = {"n": n, "inside": int(inside.sum()), "expected": (int(binom.ppf(0.025, n, level)),
                                                                    int(binom.ppf(0.975, n, level))),
                  "simultaneous_inside": int(sim.sum()), "z_simultaneous": float(zs),
                  "largest_miss": float(miss.max()) if n else 0.0, "exceptions": exceptions,
                  "max_abs_error": float(np.abs(v - ex).max()) if n else 0.0}
    return out


def summary(rows: list[dict], level: float, seconds: float, run_dir: Path, figures) -> str:
    """The printed summary: the exact curve's shape per beta and how the estimates cover it."""
    rows = list(rows)
    betas = sorted({float(r["beta"]) for r in rows})
    lines = [f"Results in {run_dir}  (wall time {seconds / 60:.1f} min)", "",
             "Single noisy neuron T = tanh(w (X - 2)) + Z; values in nats; ln 4 = 1.3863, h_b(1/4) = 0.5623",
             (f"{'beta':>6}  {'max exact I(X;T) at w':>24}  {'ln4 - max':>9}  {'exact at largest w':>18}  "
              f"{'- 0.5623':>9}  {'I(X;T) in CI':>12}  {'I(T;Y) in CI':>12}")]
    for b in betas:
        t, u = table(rows, "I_XT", b), table(rows, "I_TY", b)
        if not t["w"].size:
            continue
        k = int(np.argmax(t["exact"]))
        cx = np.sum((t["ci_low"] <= t["exact"] + t["exact_error"]) & (t["exact"] - t["exact_error"] <= t["ci_high"]))
        cy = np.sum((u["ci_low"] <= u["exact"] + u["exact_error"]) & (u["exact"] - u["exact_error"] <= u["ci_high"]))
        lines.append(f"{b:6g}  {t['exact'][k]:12.4f} at {t['w'][k]:<8.3g}  {math.log(4) - t['exact'][k]:9.2e}  "
                     f"{t['exact'][-1]:9.4f} (w={t['w'][-1]:<5.3g})  {t['exact'][-1] - H_B_QUARTER:9.2e}  "
                     f"{cx:>5}/{t['w'].size:<6}  {cy:>5}/{u['w'].size:<6}")
    cov = coverage(rows, betas, level)
    lines.append("")
    for q, name in (("I_XT", "I(X;T)"), ("I_TY", "I(T;Y)")):
        c = cov[q]
        lines.append(f"{name}: {c['inside']}/{c['n']} {100 * level:g}% intervals contain the exact value "
                     f"(at nominal coverage expect {c['expected'][0]}..{c['expected'][1]}); simultaneous "
                     f"(Bonferroni, z = {c['z_simultaneous']:.2f}, +{RESOLUTION:g} nats) intervals: "
                     f"{c['simultaneous_inside']}/{c['n']}; largest |estimate - exact| = {c['max_abs_error']:.2e}")
        for b, w, diff, z in c["exceptions"]:
            lines.append(f"    outside its simultaneous interval: beta = {b:g}, w = {w:.4g}: estimate - exact = "
                         f"{diff:+.2e} nats = {z:+.1f} standard errors (images almost separated: the few noise "
                         f"draws in the overlap make the CLT standard error unreliable)")
    lines.append("")
    lines += [f"  figure: {f}" for f in figures]
    lines.append(f"  metrics: {Path(run_dir) / 'metrics.csv'} (param = w; estimator sp or quadrature)")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------- figures


def exact_curves(betas, w_range, n: int = 120) -> dict[float, tuple[np.ndarray, object]]:
    """{beta: (ws, SingleNeuronMI)}: the exact curves by quadrature on ``n`` log-spaced weights."""
    ws = np.logspace(math.log10(w_range[0]), math.log10(w_range[1]), n)
    return {b: (ws, single_neuron_mi(ws, b, shift=SHIFT)) for b in betas}


def plot_mi_vs_w(rows, path: Path, curves: dict, level: float = 0.95) -> Path:
    """I(X;T) and I(T;Y) against w: exact curves (quadrature; ``curves`` from :func:`exact_curves`), SP
    estimates with their intervals, and the estimate minus the exact value with its interval (where the
    intervals are visible)."""
    rows = list(rows)
    betas = list(curves)
    fig, axes = plt.subplots(2, 2, figsize=(13, 8.5), sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for col, (q, name) in enumerate((("I_XT", "I(X;T)"), ("I_TY", "I(T;Y)"))):
        top, bottom = axes[0, col], axes[1, col]
        for i, b in enumerate(betas):
            c = colours[i % len(colours)]
            ws, ex = curves[b]
            top.plot(ws, ex.i_xt if q == "I_XT" else ex.i_ty, "-", color=c, lw=1.4,
                     label=f"exact (quadrature), beta = {b:g}")
            t = table(rows, q, b)
            if not t["w"].size:
                continue
            err = np.vstack([t["value"] - t["ci_low"], t["ci_high"] - t["value"]])
            top.errorbar(t["w"], t["value"], yerr=err, fmt="o", ms=3.5, mfc="none", color=c, capsize=2,
                         lw=0.8, label=f"SP estimate, beta = {b:g}")
            bottom.errorbar(t["w"] * (1.0 + 0.04 * (i - 1)), t["value"] - t["exact"], yerr=err, fmt="o", ms=3,
                            color=c, capsize=2, lw=0.8, label=f"beta = {b:g}")
        refs = [(math.log(4), "ln 4 = 1.386 (images separated)"),
                (H_B_QUARTER, "h_b(1/4) = 0.562 (three images merged)")] if q == "I_XT" else \
               [(H_B_QUARTER, "H(Y) = h_b(1/4) = 0.562")]
        for v, lab in refs:
            top.axhline(v, color="k", ls=":", lw=1)
            top.annotate(lab, (0.01, v), xycoords=("axes fraction", "data"), va="bottom", fontsize=8)
        top.set_ylabel(f"{name} [nats]")
        top.set_title(f"{name}: SP estimate ({100 * level:g}% interval) over the exact curve")
        top.legend(fontsize=7, ncol=2, loc="lower right")
        bottom.axhline(0.0, color="k", lw=0.8)
        bottom.set_ylabel(f"estimate - exact [nats]\n(error bar: {100 * level:g}% interval)")
        bottom.set_xlabel("weight w (log scale)")
        bottom.legend(fontsize=7, ncol=3, loc="lower right")
        for ax in (top, bottom):
            ax.set_xscale("log")
            ax.grid(True, which="both", alpha=0.25)
    fig.suptitle("Single noisy neuron T = tanh(w (X - 2)) + N(0, beta^2), X uniform on {-3, -1, 1, 3}, "
                 "Y = 1{X = 3}")
    return plotting.save_figure(fig, path)


def density_weights(ws: np.ndarray, i_xt: np.ndarray) -> list[tuple[str, float]]:
    """Three weights that show the regimes, from an exact curve I(X;T)(w) on the increasing grid ``ws``:
    "overlapping" (the first w where I(X;T) reaches 0.5 nats, or the smallest w), "separated" (the maximum
    of I(X;T): "most separated") and "merged" (the largest w)."""
    peak = int(np.argmax(i_xt))
    rising = np.flatnonzero(i_xt[: peak + 1] >= 0.5)
    before = ws[rising[0]] if rising.size and rising[0] < peak else ws[0]
    return [("overlapping", float(before)), ("most separated", float(ws[peak])), ("merged", float(ws[-1]))]


def plot_densities(path: Path, curves: dict) -> Path:
    """The four noisy images N(tanh(w (x - 2)), beta^2), each with weight 1/4, and their mixture (the law
    of T), at three weights per beta (:func:`density_weights` of the exact ``curves``): images overlapping,
    separated, and merged at -1."""
    betas = list(curves)
    xs = SINGLE_NEURON_INPUTS
    t = np.linspace(-1.35, 1.35, 20001)
    fig, axes = plt.subplots(len(betas), 3, figsize=(14, 3.2 * len(betas) + 0.6), squeeze=False)
    colours = ["tab:blue", "tab:orange", "tab:green", "tab:red"]
    for i, b in enumerate(betas):
        for j, (regime, w) in enumerate(density_weights(curves[b][0], curves[b][1].i_xt)):
            ax = axes[i, j]
            centres = np.tanh(w * (xs - SHIFT))
            comps = np.array([0.25 * norm.pdf(t, c, b) for c in centres])
            for k, (x, c) in enumerate(zip(xs, centres)):
                ax.plot(t, comps[k], "--", color=colours[k], lw=1.1,
                        label=f"x = {x:g} (class {int(SINGLE_NEURON_LABELS[k])}): image {c:+.3f}")
            ax.plot(t, comps.sum(0), "-", color="k", lw=1.0, alpha=0.8, label="mixture: density of T")
            ex = single_neuron_mi(w, b, shift=SHIFT)
            ax.set_title(f"beta = {b:g}, w = {w:.3g} ({regime}): I(X;T) = {float(ex.i_xt):.3f} nats", fontsize=9)
            ax.set_xlabel("t, value of the noisy neuron T")
            ax.set_ylabel("density [1 / unit of t]")
            ax.legend(fontsize=6.5, loc="upper center")
            ax.set_ylim(0, comps.sum(0).max() * 1.45)
            ax.set_xlim(max(-1.35, centres.min() - 8 * b), min(1.35, centres.max() + 8 * b))
            ax.xaxis.set_major_locator(MaxNLocator(6))
            ax.grid(True, alpha=0.25)
    fig.suptitle("The four noisy images of the single neuron (Gaussians of std beta, weight 1/4 each) and "
                 "their mixture\n(each panel's t range: the images +- 8 beta)")
    return plotting.save_figure(fig, path)


if __name__ == "__main__":
    main()
