"""What ``python -m experiments.compare_estimators`` adds to the estimator battery: the labels of its
figures and tables, the ``param`` column of its rows, and its ground-truth table.

The battery itself (every estimator on one layer) is :func:`estimators.run_battery`; the cases and their truths
are the one ground-truth suite (:mod:`estimators.ground_truth`, and :mod:`noisynet.network_cases` for the
noisy network). :func:`comparison_cases` picks the cases of the comparison -- constellations T = s(X) + Z in
1-D and 2-D (separated, crossover, merged), the two-layer noisy tanh twin and Gaussian channels in d = 1..5
-- and :func:`truth_rows` runs the battery on each: every estimator's error (estimate - truth, nats) at the
same n, the same beta and the same inputs, with what each estimator can be applied to written out
(:data:`STATUS`). Everything is in nats.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from estimators import Estimator, LayerData, MIEstimate, default_estimators, run_battery
from estimators.battery import FAILED
from estimators.ground_truth import Case, channel_case, gaussian_case, sp_estimates
from experiments.runs import atomic_write_bytes
from noisynet.network_cases import two_layer_case

# estimator column of metrics.csv -> label in figures and tables, in display order
ESTIMATORS = {
    "sp": "SP (noisy twin)",
    "binning_range": "fixed binning, 30 equal bins on a range",
    "binning_szt": "SZT's binning: 30 edges (29 bins) on a range",
    "binning_width": "fixed binning, bin width 2/30",
    "binning_adaptive": "adaptive (equal-mass) binning",
    "kde_upper": "KDE upper (KL), noise std beta",
    "kde_lower": "KDE lower (BD), noise std beta",
    "kde_adaptive_upper": "adaptive-noise KDE upper",
    "kde_adaptive_lower": "adaptive-noise KDE lower",
    "ksg": "KSG (one noise draw per input)",
    "ksg_ross": "kNN, X as a label (R draws per input)",
    "renyi": "matrix-based Renyi",
    "quantized_b4": "exact, 4-bit quantized net",
    "quantized_b8": "exact, 8-bit quantized net",
    "transfer_entropy": "transfer entropy",
}
BATTERY = tuple(e.name for e in default_estimators(sp=None, bits=()))
"""The baselines the comparison runs on every layer of the SZT networks (names of :func:`default_estimators`)."""
CONVENTIONS_NOTE = (
    "Fixed binning: \"30 equal bins\" are 30 bins [e_k, e_k+1) with edges linspace(low, high, 31), the last one "
    "closed; \"SZT's binning\" is Shwartz-Ziv & Tishby's code, np.digitize on the 30 edges np.linspace(low, high, "
    "30) (29 bins; a value equal to the top edge is a symbol of its own)."
)


def _fmt(v: float) -> str:
    return f"{v:.4g}"


def param_text(r: MIEstimate, layer: LayerData) -> str:
    """The ``param`` column of a battery result on ``layer``: its hyperparameters in words, and
    "; failed: <message>" where the estimator failed (its quantities are then None)."""
    p, name = r.params, r.estimator
    if name in ("binning_range", "binning_szt") or name.startswith("quantized_b"):
        rng = f"range=[{_fmt(p['low'])}, {_fmt(p['high'])}]"
        text = (f"n_bins={p['n_bins']}; {rng}" if name == "binning_range"
                else f"SZT convention: np.digitize on {p['n_bins'] + 1} edges ({p['n_bins']} bins); {rng}"
                if name == "binning_szt" else f"bits={p['bits']}; {rng}")
    elif name == "binning_width":
        text = f"bin_width={_fmt(p['bin_width'])}; origin=0"
    elif name == "binning_adaptive":
        text = f"n_bins={p['n_bins']}; equal-mass edges per neuron"
    elif name in ("kde_upper", "kde_lower"):
        text = f"beta={_fmt(layer.beta)}; mode={p['mode']}"
    elif name.startswith("kde_adaptive"):
        text = f"rel_noise={_fmt(p['rel_noise'])} x (max - min of the layer); mode={p['mode']}"
        text += f"; beta={_fmt(p['beta'])}" if "beta" in p else ""
    elif name == "ksg":
        text = f"k={p['k']}; max-norm; I(X;T): KSG-1 on (inputs, T), I(T;Y): Ross; one noise draw per input"
    elif name == "ksg_ross":
        text = (f"k={p['k']}; max-norm; Ross (2014) with X as a label; R={layer.replicas} draws per input, terms "
                "averaged over the first draw of each")
    elif name == "renyi":
        text = (f"alpha={_fmt(p['alpha'])}; width rule={p['rule']} (inputs and layer separately); "
                f"m={min(layer.m, p['max_inputs'])} of {layer.m} inputs")
        text += f"; sigma_x={_fmt(p['sigma_x'])}; sigma_t={_fmt(p['sigma_t'])}" if "sigma_x" in p else ""
    else:
        text = "; ".join(f"{k}={v}" for k, v in p.items())
    why = r.reasons.get("I_XT", "")
    return text + (f"; {why}" if r.i_xt is None and why.startswith(FAILED) else "")


# ------------------------------------------------------------------------------------- ground truth

# what each estimator estimates on each kind of case: "=" the case's I(X;T) (or I(T;Y)); "+" computable but a
# different quantity (the table marks its error with a dagger); "n/a" not applicable.
_DETERMINISTIC = ("binning_range", "binning_szt", "binning_width", "binning_adaptive", "renyi", "quantized_b4",
                  "quantized_b8")
STATUS = {
    "layer": {**dict.fromkeys(ESTIMATORS, "="), **dict.fromkeys(_DETERMINISTIC, "+"), "kde_adaptive_upper": "+",
              "kde_adaptive_lower": "+", "transfer_entropy": "n/a"},
    "network": {**dict.fromkeys(ESTIMATORS, "+"), "sp": "=", "ksg": "=", "ksg_ross": "=", "transfer_entropy": "n/a"},
    "draws": {**dict.fromkeys(ESTIMATORS, "n/a"), "sp": "=", "kde_upper": "=", "kde_lower": "=", "ksg": "=",
              "kde_adaptive_upper": "+", "kde_adaptive_lower": "+", "renyi": "+"},
}
STATUS_NOTES = (
    "`=`: the estimator targets the case's quantity; a number marked † is computable but estimates another "
    "quantity: binning gives H(Bin(S)), the clustering of the deterministic representation at the bin scale "
    "(equal to I(X;T) only when the noisy images are fully separated or fully merged at that scale); the "
    "adaptive-noise KDE uses noise std 0.1 x range instead of beta; matrix-based Rényi is a different "
    "functional of the law (α = 1.01, Gram-matrix eigenvalues); the quantized nets give I(X; Q_b(S)); on the "
    "two-layer net, binning, KDE, Rényi and quantization see the deterministic S2 (noise off in layer 1), as "
    "the literature applies them, i.e. I(X; S2_det + Z2), not the noisy twin's I(X; T2). n/a: binning and "
    "quantization need a discrete X (the Gaussian channel's X is continuous), Ross's estimator with X as a label "
    "needs several draws per input, transfer entropy needs training epochs. " + CONVENTIONS_NOTE
)


def comparison_cases(beta: float, *, m: int = 64, gaussian_n: int = 1024, dims: Sequence[int] = (1, 2, 3, 4, 5),
                     replicas: int = 8, network_replicas: int = 32, n_mc: int = 16,
                     quick: bool = False) -> list[Case]:
    """The cases of the comparison table, from the ground-truth suite; truths by closed form or quadrature.

    * Constellations (:func:`estimators.ground_truth.channel_case`, kind "layer"), X uniform on m = 64 inputs
      (given to KSG / Rényi as 6-bit codes of the index, like SZT's 12-bit inputs), T = s(X) + Z, ``replicas``
      identical replicas per input: 1-D "separated" (s evenly on [-1, 1], spacing 6.3 beta at beta = 0.005),
      "crossover" (spacing beta), "merged" (4 groups of 16 coincident points at +-0.25, +-0.75); 2-D: an
      8 x 8 grid on [-1, 1]^2, an 8 x 8 grid of spacing beta, 4 groups at (+-0.5, +-0.5). Labels: input
      index >= m/2.
    * The two-layer noisy tanh twin (:func:`noisynet.network_cases.two_layer_case`, kind "network"): x evenly
      on [-1, 1] (m inputs, labels x > 0), T1 = tanh(3x) + Z1, T2 = tanh(2 T1) + Z2, both noise stds beta,
      ``network_replicas`` replicas per input by sample propagation.
    * Gaussian channels (:func:`estimators.ground_truth.gaussian_case`, kind "draws"): X ~ N(0, (2 beta)^2
      I_d), n = ``gaussian_n`` draws, T = X + Z, I(X;T) = (d/2) ln 5.

    SP runs on each with ``n_mc`` Monte Carlo draws per query (:func:`estimators.ground_truth.sp_estimates`).

    Args:
        beta: noise std (> 0). quick: only the 1-D constellations and d = dims[0] (for tests).
    """
    sp = {"n_mc": n_mc}
    g = int(round(math.sqrt(m)))

    def layer(name: str, pts: np.ndarray) -> Case:
        y = (np.arange(len(pts)) >= len(pts) // 2).astype(np.int64)
        return channel_case(pts, beta, name, labels=y, replicas=replicas, sp=sp, name=name)

    cases = [layer("1-D separated", np.linspace(-1, 1, m)),
             layer("1-D crossover", beta * (np.arange(m) - (m - 1) / 2)),
             layer("1-D merged", np.repeat([-0.75, -0.25, 0.25, 0.75], m // 4))]
    if not quick:
        grid = lambda v: np.stack(np.meshgrid(v, v, indexing="ij"), -1).reshape(-1, 2)  # noqa: E731
        corners = np.array([[-0.5, -0.5], [-0.5, 0.5], [0.5, -0.5], [0.5, 0.5]])
        cases += [layer("2-D separated", grid(np.linspace(-1, 1, g))),
                  layer("2-D crossover", grid(beta * (np.arange(g) - (g - 1) / 2))),
                  layer("2-D merged", np.repeat(corners, g * g // 4, axis=0))]
        xs = np.linspace(-1, 1, m)
        cases.append(two_layer_case(xs, 3.0, 0.0, 2.0, 0.0, beta, network_replicas, labels=(xs > 0).astype(np.int64),
                                    sp=sp, name="two-layer tanh"))
    for d in (dims[:1] if quick else dims):
        cases.append(gaussian_case(d, 2 * beta, beta, gaussian_n, quantity="I_XT", name=f"Gaussian d={d}", sp=sp))
    return cases


def truth_rows(cases: Sequence[Case], estimators: Sequence[Estimator], *, seed: int = 0) -> list[dict[str, Any]]:
    """Each estimator's error on each case and quantity (long format, one dict per cell; nats).

    One sample per case (:meth:`Case.sample`); on it SP (:func:`estimators.ground_truth.sp_estimates`) and the
    battery of ``estimators`` that apply to the case's kind (:data:`STATUS`).

    Keys: case, kind, quantity, truth, truth_abs_error, estimator, status ("=", "+", "n/a"), value, error
    (value - truth), ci_low, ci_high (SP only), covers (SP only: whether its 95% interval, widened by the
    truth's error bound, holds the truth), param. Estimators marked n/a, and failed ones, get value and error
    None (a failure says so in param).
    """
    gen = torch.Generator().manual_seed(seed)
    rows = []
    for c in cases:
        status = STATUS[c.kind]
        layer = c.sample(gen)
        sp = sp_estimates(c, layer, gen)
        ests = [e for e in estimators if status.get(e.name, "n/a") != "n/a"]
        found = {r.estimator: r for r in run_battery(layer, ests, generator=gen)}
        for q, truth in c.truth.items():
            for est in ESTIMATORS:
                row = {"case": c.name, "kind": c.kind, "quantity": q, "truth": truth.value,
                       "truth_abs_error": truth.abs_error, "estimator": est, "status": status[est], "value": None,
                       "error": None, "ci_low": None, "ci_high": None, "covers": None, "param": ""}
                if est == "sp":
                    e = sp[q]
                    row.update(value=e.value, ci_low=e.ci_low, ci_high=e.ci_high,
                               covers=bool(e.ci_low - truth.abs_error <= truth.value <= e.ci_high + truth.abs_error),
                               param=f"n={e.n}; n_mc={e.n_mc}")
                elif est in found:
                    e = found[est].get(q)
                    row.update(value=None if e is None else e.value, param=param_text(found[est], layer))
                if row["value"] is not None:
                    row["error"] = row["value"] - truth.value
                rows.append(row)
    return rows


def write_rows(rows: Sequence[dict[str, Any]], path: Path) -> Path:
    """Write the rows as CSV (atomically: a temporary file, then a rename)."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows({k: ("" if v is None else v) for k, v in r.items()} for r in rows)
    atomic_write_bytes(Path(path), buf.getvalue().encode())
    return Path(path)




def error_tables(rows: Sequence[dict[str, Any]]) -> str:
    """Markdown: for I(X;T) and for I(T;Y), estimators down, cases across; each cell the error
    estimate - truth in nats (3 decimals), † where the estimator targets another quantity, n/a where it does
    not apply, "failed" where it failed; the truths on top; for SP, whether its 95% interval covers the truth.
    Estimators absent from ``rows`` (an older run) are left out."""
    parts = []
    present = {r["estimator"] for r in rows}
    for q, title in (("I_XT", "I(X;T)"), ("I_TY", "I(T;Y)")):
        sel = [r for r in rows if r["quantity"] == q]
        if not sel:
            continue
        cases = list(dict.fromkeys(r["case"] for r in sel))
        cell = {(r["case"], r["estimator"]): r for r in sel}
        lines = [f"Error of each estimator on {title}, estimate - truth [nats]",
                 "", "| estimator | " + " | ".join(cases) + " |", "|---|" + "---:|" * len(cases)]
        truths = [float(cell[(c, "sp")]["truth"]) for c in cases]
        lines.append("| **truth** | " + " | ".join(f"**{t:.3f}**" for t in truths) + " |")
        for est, label in ESTIMATORS.items():
            if est not in present:
                continue
            vals = []
            for c in cases:
                r = cell.get((c, est))
                if r is None or r["status"] == "n/a":
                    vals.append("n/a")
                elif r["error"] in (None, "") or not math.isfinite(float(r["error"])):
                    vals.append("failed")
                else:
                    vals.append(f"{float(r['error']):+.3f}" + ("†" if r["status"] == "+" else ""))
            lines.append(f"| {label} | " + " | ".join(vals) + " |")
        cov = [cell[(c, "sp")]["covers"] for c in cases]
        lines.append("| SP 95% interval covers the truth | " + " | ".join(
            "yes" if str(v) == "True" else "no" for v in cov) + " |")
        parts.append("\n".join(lines))
    parts.append(STATUS_NOTES)
    return "\n\n".join(parts)
