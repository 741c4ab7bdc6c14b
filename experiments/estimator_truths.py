"""The estimator battery of ``python -m experiments.compare_estimators`` and its ground-truth suite.

:func:`battery` applies every baseline of the information-plane literature (docs/theory.md, section 9) to one
layer with one set of hyperparameters (:class:`BatterySettings`); the comparison run calls it on the SZT
network's layers and :func:`truth_rows` calls it, unchanged, on cases whose I(X;T) is known
(:func:`ground_truth_cases`): constellations T = s(X) + Z in 1-D and 2-D (separated, crossover, merged;
:func:`estimators.ground_truth.mi_one_channel`), the two-layer noisy tanh net
(:func:`estimators.ground_truth.two_layer_tanh_mi`) and Gaussian channels in d = 1..5 (closed form). The
result is each estimator's error (estimate - truth, nats) at the same n, the same beta and the same inputs,
with what each estimator can be applied to written out (:data:`STATUS`). Everything is in nats.
"""

from __future__ import annotations

import csv
import io
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from estimators import Estimate, sp_entropy, sp_mutual_information
from estimators.baselines import (
    adaptive_binning_mi,
    adaptive_noise_kde_mi,
    discrete_mutual_information,
    fixed_binning_mi,
    kde_mutual_information,
    ksg_mi_discrete_labels,
    ksg_mutual_information,
    quantize,
    renyi_mi_labels,
    renyi_mutual_information,
)
from estimators.ground_truth import (
    Truth,
    mi_one_channel,
    mi_one_channel_labels,
    two_layer_tanh_mi,
)
from experiments.runs import atomic_write_bytes

# estimator column of metrics.csv -> label in figures and tables, in display order
ESTIMATORS = {
    "sp": "SP (noisy twin)",
    "binning_range": "fixed binning, 30 bins on a range",
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
BATTERY = ("binning_range", "binning_width", "binning_adaptive", "kde_upper", "kde_lower", "kde_adaptive_upper",
           "kde_adaptive_lower", "ksg", "ksg_ross", "renyi")


@dataclass(frozen=True)
class BatterySettings:
    """Hyperparameters of the battery (one set for the SZT run and the ground-truth suite).

    n_bins: bins per neuron (fixed range and adaptive; Shwartz-Ziv & Tishby: 30). bin_width: the fixed-width
    grid's side (origin 0; 2/30 = the width of 30 bins on [-1, 1]). kde_mode: "saxe" (Saxe et al.'s I(T;Y)
    estimates) or "bracket". kde_rel_noise: adaptive-noise KDE std as a fraction of the layer's activation
    range. ksg_k: neighbours. renyi_rule: kernel-width rule (:func:`estimators.baselines.kernel_width`),
    applied to the inputs and to the layer separately; renyi_alpha: order; renyi_m: inputs used by the
    matrix-based Renyi estimator (a fixed seeded subsample when m is larger: its eigendecompositions cost
    O(m^3)). seed: seeds that subsample.
    """

    n_bins: int = 30
    bin_width: float = 2.0 / 30.0
    kde_mode: str = "saxe"
    kde_rel_noise: float = 0.1
    ksg_k: int = 3
    renyi_rule: str = "silverman"
    renyi_alpha: float = 1.01
    renyi_m: int = 1024
    seed: int = 0


@dataclass(frozen=True)
class Measurement:
    """One estimate: ``value`` in nats (NaN when the estimator failed; ``param`` then says why)."""

    estimator: str
    quantity: str
    value: float
    param: str
    seconds: float
    estimate: Estimate | None = field(default=None, compare=False)


def _fmt(v: float) -> str:
    return f"{v:.4g}"


def battery(
    x: torch.Tensor,
    s: torch.Tensor,
    labels: torch.Tensor | None,
    beta: float,
    *,
    t_rep: torch.Tensor,
    bin_range: tuple[float, float] = (-1.0, 1.0),
    settings: BatterySettings = BatterySettings(),
    include: Iterable[str] = BATTERY,
) -> list[Measurement]:
    """Every baseline estimator on one layer, X uniform over the m inputs (each once).

    * ``binning_range``: :func:`fixed_binning_mi` of s, ``n_bins`` on ``bin_range``; ``binning_width``: bin
      side ``bin_width``, origin 0; ``binning_adaptive``: :func:`adaptive_binning_mi`, ``n_bins`` equal-mass
      bins per neuron (Shwartz-Ziv & Tishby 2017; Chelombiev et al. 2019).
    * ``kde_upper`` / ``kde_lower``: :func:`kde_mutual_information` of s with noise std ``beta`` (the twin's);
      ``kde_adaptive_*``: :func:`adaptive_noise_kde_mi`, std = kde_rel_noise x (max - min of s)
      (Kolchinsky & Tracey 2017, Saxe et al. 2018; Chelombiev et al. 2019).
    * ``ksg``: I(X;T) by KSG estimator 1 on (x, t_rep[:, 0]) and I(T;Y) by Ross (2014) on t_rep[:, 0] (one
      noise draw per input; Kraskov et al. 2004). ``ksg_ross``: both by Ross's estimator on all R draws per
      input, X entering as a discrete label (the input's index) with R samples each; the per-point terms are
      averaged over the first draw of each input (``query``), the neighbour searches use all m R draws.
    * ``renyi``: :func:`renyi_mutual_information` of (x, s) and :func:`renyi_mi_labels` of s, Gaussian kernels
      with widths by ``renyi_rule`` (Giraldo et al. 2015; Wickstrom et al. 2019), on at most ``renyi_m``
      inputs (a seeded subsample, the same for every call with the same m and seed).

    Args:
        x: Tensor (m, d_x), the network inputs. s: Tensor (m, d), the deterministic representation (noise off).
        labels: Tensor (m,) int64 class labels, or None (I(X;T) only; the binning estimators need labels).
        beta: the twin's noise std (> 0).
        t_rep: Tensor (m, R, d), noisy samples T = S + Z of the layer given each input (R >= 1; ``ksg_ross``
            needs R > ksg_k).
        bin_range: (low, high) of ``binning_range``; must contain every value of s.
        settings: the hyperparameters. include: which of :data:`BATTERY` to compute.

    Returns:
        Measurements (nats), I_XT then I_TY per estimator. A ValueError inside an estimator (e.g. a dead layer
        with zero range, duplicate samples for kNN) gives NaN values and "failed: <message>" in ``param``: it
        is reported, not hidden.

    Raises:
        ValueError: x, s, t_rep or labels with mismatched numbers of rows; an unknown name in ``include``.
    """
    include = list(include)
    unknown = [e for e in include if e not in BATTERY]
    if unknown:
        raise ValueError(f"include: got {unknown}, expected names from {BATTERY}")
    m = s.shape[0]
    for name, t in (("x", x), ("t_rep", t_rep), ("labels", labels)):
        if t is not None and t.shape[0] != m:
            raise ValueError(f"{name}: got {t.shape[0]} rows, expected {m} (one per input, as s)")
    st = settings
    qs = ("I_XT", "I_TY") if labels is not None else ("I_XT",)
    out: list[Measurement] = []

    def group(names: Sequence[str], param: str, fn: Callable[[], dict[tuple[str, str], Estimate]]) -> None:
        names = [n for n in names if n in include]
        if not names:
            return
        t0 = time.perf_counter()
        try:
            res, note = fn(), ""
        except ValueError as err:
            res, note = {}, f"; failed: {err}"
        dt = time.perf_counter() - t0
        for n in names:
            for q in qs:
                e = res.get((n, q))
                extra = e.params.get("_param", "") if e is not None else ""
                out.append(Measurement(n, q, float(e.value) if e is not None else math.nan,
                                       param + extra + note, dt, e))

    def plane(name: str, point) -> dict:
        return {(name, "I_XT"): point.I_XT, (name, "I_TY"): point.I_TY}

    if labels is not None:
        lo, hi = bin_range
        group(["binning_range"], f"n_bins={st.n_bins}; range=[{_fmt(lo)}, {_fmt(hi)}]",
              lambda: plane("binning_range", fixed_binning_mi(s, labels, n_bins=st.n_bins, low=lo, high=hi)))
        group(["binning_width"], f"bin_width={_fmt(st.bin_width)}; origin=0",
              lambda: plane("binning_width", fixed_binning_mi(s, labels, bin_width=st.bin_width)))
        group(["binning_adaptive"], f"n_bins={st.n_bins}; equal-mass edges per neuron",
              lambda: plane("binning_adaptive", adaptive_binning_mi(s, labels, n_bins=st.n_bins)))

    def kde(prefix: str, res: dict[str, Estimate]) -> dict:
        return {(f"{prefix}_{side}", q): res[f"{q}_{side}"] for side in ("upper", "lower") for q in qs}

    group(["kde_upper", "kde_lower"], f"noise_std={_fmt(beta)}; mode={st.kde_mode}",
          lambda: kde("kde", kde_mutual_information(s, labels, beta, mode=st.kde_mode)))

    def adaptive() -> dict:
        res = adaptive_noise_kde_mi(s, labels, st.kde_rel_noise, mode=st.kde_mode)
        note = f"; noise_std={_fmt(res['I_XT_upper'].params['noise_std'])}"
        return {k: _with_param(e, note) for k, e in kde("kde_adaptive", res).items()}

    group(["kde_adaptive_upper", "kde_adaptive_lower"],
          f"rel_noise={_fmt(st.kde_rel_noise)} x (max - min of the layer); mode={st.kde_mode}", adaptive)

    t_one = t_rep[:, 0]

    def ksg() -> dict:
        res = {("ksg", "I_XT"): ksg_mutual_information(x, t_one, k=st.ksg_k)}
        if labels is not None:
            res[("ksg", "I_TY")] = ksg_mi_discrete_labels(t_one, labels, k=st.ksg_k)
        return res

    group(["ksg"], f"k={st.ksg_k}; max-norm; I(X;T): KSG-1 on (inputs, T), I(T;Y): Ross; one noise draw per input",
          ksg)

    def ross() -> dict:
        r = t_rep.shape[1]
        flat = t_rep.reshape(m * r, -1)
        first = np.arange(m) * r  # average the terms over one draw per input (neighbours among all m R)
        res = {("ksg_ross", "I_XT"): ksg_mi_discrete_labels(flat, torch.arange(m).repeat_interleave(r),
                                                            k=st.ksg_k, query=first)}
        if labels is not None:
            res[("ksg_ross", "I_TY")] = ksg_mi_discrete_labels(flat, labels.repeat_interleave(r), k=st.ksg_k,
                                                               query=first)
        return res

    group(["ksg_ross"], f"k={st.ksg_k}; max-norm; Ross (2014) with X as a label; R={t_rep.shape[1]} draws per "
                        f"input, terms averaged over the first draw of each", ross)

    def renyi() -> dict:
        idx = renyi_subsample(m, st.renyi_m, st.seed)
        xs, ss = x[idx], s[idx]
        ixt = renyi_mutual_information(xs, ss, st.renyi_rule, st.renyi_rule, alpha=st.renyi_alpha)
        note = f"; sigma_x={_fmt(ixt.params['sigma_x'])}; sigma_t={_fmt(ixt.params['sigma_y'])}"
        res = {("renyi", "I_XT"): _with_param(ixt, note)}
        if labels is not None:
            res[("renyi", "I_TY")] = _with_param(renyi_mi_labels(ss, labels[idx], st.renyi_rule,
                                                                 alpha=st.renyi_alpha), note)
        return res

    group(["renyi"], f"alpha={_fmt(st.renyi_alpha)}; width rule={st.renyi_rule} (inputs and layer separately); "
                     f"m={min(m, st.renyi_m)} of {m} inputs", renyi)
    return out


def _with_param(e: Estimate, note: str) -> Estimate:
    """The estimate with ``note`` stored for the param column (a copy; the original is not touched)."""
    return Estimate(**{**e.__dict__, "params": {**e.params, "_param": note}})


def renyi_subsample(m: int, size: int, seed: int) -> torch.Tensor:
    """Indices (min(m, size),) int64: all m inputs in order, or the first ``size`` of a seeded permutation."""
    if m <= size:
        return torch.arange(m)
    return torch.randperm(m, generator=torch.Generator().manual_seed(seed))[:size].sort().values


# ------------------------------------------------------------------------------------- ground truth

# what each estimator estimates on each kind of case: "=" the case's I(X;T) (or I(T;Y)); "+" computable but a
# different quantity (the table marks its error with a dagger); "n/a" not applicable.
STATUS = {
    "layer": {**dict.fromkeys(ESTIMATORS, "="), "binning_range": "+", "binning_width": "+",
              "binning_adaptive": "+", "kde_adaptive_upper": "+", "kde_adaptive_lower": "+", "renyi": "+",
              "quantized_b4": "+", "quantized_b8": "+", "transfer_entropy": "n/a"},
    "network": {**dict.fromkeys(ESTIMATORS, "+"), "sp": "=", "ksg": "=", "ksg_ross": "=", "transfer_entropy": "n/a"},
    "continuous": {**dict.fromkeys(ESTIMATORS, "n/a"), "sp": "=", "kde_upper": "=", "kde_lower": "=", "ksg": "=",
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
    "needs several draws per input, transfer entropy needs training epochs."
)


@dataclass
class Case:
    """A ground-truth case: X uniform over the m rows of ``x`` (kinds "layer", "network") or m i.i.d. draws
    of a continuous X ("continuous"); s the deterministic layer, t_rep noisy samples (m, R, d); truths and
    the SP estimates (nats)."""

    name: str
    kind: str
    x: torch.Tensor
    s: torch.Tensor
    labels: torch.Tensor | None
    t_rep: torch.Tensor
    truth: dict[str, Truth]
    sp: dict[str, Estimate]
    beta: float
    bin_range: tuple[float, float] = (-1.0, 1.0)


def _binary_codes(m: int) -> torch.Tensor:
    """(m, ceil(log2 m)) float: the binary code of each input's index, as SZT's 12-bit inputs."""
    n = max(1, math.ceil(math.log2(m)))
    return ((torch.arange(m)[:, None] >> torch.arange(n - 1, -1, -1)) & 1).double()


def _layer_case(name: str, pts: np.ndarray, labels: np.ndarray, beta: float, gen: torch.Generator,
                replicas: int, n_mc: int) -> Case:
    s = torch.as_tensor(pts, dtype=torch.float64).reshape(len(pts), -1)
    m, d = s.shape
    y = torch.as_tensor(labels)
    sp = sp_mutual_information(s[:, None, :].expand(m, 2, d).contiguous(), beta, y, n_mc=n_mc, generator=gen)
    t_rep = s[:, None, :] + beta * torch.randn(m, replicas, d, generator=gen, dtype=torch.float64)
    truth = {"I_XT": mi_one_channel(pts, beta), "I_TY": mi_one_channel_labels(pts, labels, beta)}
    return Case(name, "layer", _binary_codes(m), s, y, t_rep, truth, {"I_XT": sp.i_xt, "I_TY": sp.i_ty}, beta)


def ground_truth_cases(beta: float, *, seed: int = 0, m: int = 64, gaussian_n: int = 1024,
                       dims: Sequence[int] = (1, 2, 3, 4, 5), replicas: int = 8, sp_replicas: int = 32,
                       n_mc: int = 16, quick: bool = False) -> list[Case]:
    """The cases, their truths (closed form or quadrature, never sampling) and the SP estimates.

    * Constellations, X uniform on m = 64 inputs (inputs given to KSG / Rényi as 6-bit codes of the index,
      like SZT's 12-bit inputs), T = s(X) + Z: 1-D "separated" (s evenly on [-1, 1], spacing 6.3 beta at
      beta = 0.005), "crossover" (spacing beta), "merged" (4 groups of 16 coincident points at +-0.25,
      +-0.75); 2-D: an 8 x 8 grid on [-1, 1]^2, an 8 x 8 grid of spacing beta, 4 groups at (+-0.5, +-0.5).
      Labels: input index >= m/2. SP: the exact mixture (closed-form conditionals), Monte Carlo error only.
    * Two-layer noisy tanh net (:func:`two_layer_tanh_mi`): x evenly on [-1, 1] (m inputs, labels x > 0),
      T1 = tanh(3x) + Z1, T2 = tanh(2 T1) + Z2, both noise stds beta; SP by sample propagation
      (``sp_replicas`` replicas per input).
    * Gaussian channels: X ~ N(0, (2 beta)^2 I_d), n = ``gaussian_n`` draws, T = X + Z,
      I(X;T) = (d/2) ln 5; SP: h(T) by :func:`sp_entropy` on the draws, minus h(Z).

    Args:
        beta: noise std (> 0). seed: seeds all sampling. m: inputs of the constellations and the two-layer
        net. gaussian_n: draws of the Gaussian X. dims: Gaussian dimensions. replicas: noisy draws per input
        for the kNN estimators. sp_replicas, n_mc: SP settings. quick: only the 1-D constellations and d = 1
        (for tests).

    Returns:
        list of Case.
    """
    gen = torch.Generator().manual_seed(seed)
    half = (np.arange(m) >= m // 2).astype(np.int64)
    g = int(round(math.sqrt(m)))
    sep1, cross1 = np.linspace(-1, 1, m), beta * (np.arange(m) - (m - 1) / 2)
    merged1 = np.repeat([-0.75, -0.25, 0.25, 0.75], m // 4)
    cases = [_layer_case("1-D separated", sep1, half, beta, gen, replicas, n_mc),
             _layer_case("1-D crossover", cross1, half, beta, gen, replicas, n_mc),
             _layer_case("1-D merged", merged1, half, beta, gen, replicas, n_mc)]
    if not quick:
        grid = lambda v: np.stack(np.meshgrid(v, v, indexing="ij"), -1).reshape(-1, 2)  # noqa: E731
        corners = np.array([[-0.5, -0.5], [-0.5, 0.5], [0.5, -0.5], [0.5, 0.5]])
        for name, pts in (("2-D separated", grid(np.linspace(-1, 1, g))),
                          ("2-D crossover", grid(beta * (np.arange(g) - (g - 1) / 2))),
                          ("2-D merged", np.repeat(corners, len(grid(np.arange(g))) // 4, axis=0))):
            cases.append(_layer_case(name, pts, (np.arange(len(pts)) >= len(pts) // 2).astype(np.int64), beta,
                                     gen, replicas, n_mc))
        cases.append(_two_layer_case(m, beta, gen, replicas, sp_replicas, n_mc))
    for d in (dims[:1] if quick else dims):
        cases.append(_gaussian_case(d, gaussian_n, beta, gen, n_mc))
    return cases


def _two_layer_case(m: int, beta: float, gen: torch.Generator, replicas: int, sp_replicas: int, n_mc: int) -> Case:
    w1, b1, w2, b2 = 3.0, 0.0, 2.0, 0.0
    xp = np.linspace(-1, 1, m)
    y = (xp > 0).astype(np.int64)
    tl = two_layer_tanh_mi(xp, w1, b1, w2, b2, beta, beta, y)
    x = torch.as_tensor(xp)[:, None]
    a = torch.tanh(w1 * x + b1)

    def layer2(r: int) -> torch.Tensor:  # pre-noise S2 given each input, (m, r, 1)
        return torch.tanh(w2 * (a[:, None, :] + beta * torch.randn(m, r, 1, generator=gen, dtype=torch.float64)) + b2)

    sp = sp_mutual_information(layer2(sp_replicas), beta, torch.as_tensor(y), n_mc=n_mc, generator=gen)
    t_rep = layer2(replicas) + beta * torch.randn(m, replicas, 1, generator=gen, dtype=torch.float64)
    return Case("two-layer tanh", "network", x, torch.tanh(w2 * a + b2), torch.as_tensor(y), t_rep,
                {"I_XT": tl.i_xt, "I_TY": tl.i_ty}, {"I_XT": sp.i_xt, "I_TY": sp.i_ty}, beta)


def _gaussian_case(d: int, n: int, beta: float, gen: torch.Generator, n_mc: int) -> Case:
    x = 2 * beta * torch.randn(n, d, generator=gen, dtype=torch.float64)
    h_z = 0.5 * d * math.log(2 * math.pi * math.e * beta**2)
    h = sp_entropy(x, beta, n_mc=n_mc, generator=gen)
    sp = h - Estimate.from_normal(h_z, 0.0)
    t_rep = x[:, None, :] + beta * torch.randn(n, 1, d, generator=gen, dtype=torch.float64)
    truth = Truth(0.5 * d * math.log(5.0), 0.0, "closed form (d/2) ln(1 + 4 beta^2 / beta^2)")
    return Case(f"Gaussian d={d}", "continuous", x, x, None, t_rep, {"I_XT": truth}, {"I_XT": sp}, beta)


def truth_rows(cases: Sequence[Case], settings: BatterySettings = BatterySettings(),
               bits: Sequence[int] = (4, 8)) -> list[dict[str, Any]]:
    """Each estimator's error on each case and quantity (long format, one dict per cell; nats).

    Keys: case, kind, quantity, truth, truth_abs_error, estimator, status ("=", "+", "n/a"), value, error
    (value - truth), ci_low, ci_high (SP only), covers (SP only: whether its 95% interval holds the truth),
    param. Estimators marked n/a get value and error None.
    """
    rows = []
    for c in cases:
        status = STATUS[c.kind]
        include = [e for e in BATTERY if status[e] != "n/a"]
        found = {(r.estimator, r.quantity): r for r in battery(
            c.x, c.s, c.labels, c.beta, t_rep=c.t_rep,
            bin_range=c.bin_range, settings=settings, include=include)}
        for b in bits:
            if status[f"quantized_b{b}"] == "n/a":
                continue
            codes = quantize(c.s, b, *c.bin_range)
            point = discrete_mutual_information(codes, c.labels)
            for q, e in (("I_XT", point.I_XT), ("I_TY", point.I_TY)):
                found[(f"quantized_b{b}", q)] = Measurement(f"quantized_b{b}", q, e.value,
                                                            f"bits={b}; range=[{_fmt(c.bin_range[0])}, "
                                                            f"{_fmt(c.bin_range[1])}]", 0.0, e)
        for q, truth in c.truth.items():
            for est in ESTIMATORS:
                row = {"case": c.name, "kind": c.kind, "quantity": q, "truth": truth.value,
                       "truth_abs_error": truth.abs_error, "estimator": est, "status": status[est], "value": None,
                       "error": None, "ci_low": None, "ci_high": None, "covers": None, "param": ""}
                if est == "sp":
                    e = c.sp[q]
                    row.update(value=e.value, ci_low=e.ci_low, ci_high=e.ci_high,
                               covers=bool(e.ci_low - truth.abs_error <= truth.value <= e.ci_high + truth.abs_error),
                               param=f"n={e.n}; n_mc={e.n_mc}")
                elif (est, q) in found:
                    r = found[(est, q)]
                    row.update(value=r.value, param=r.param)
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


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def error_tables(rows: Sequence[dict[str, Any]]) -> str:
    """Markdown: for I(X;T) and for I(T;Y), estimators down, cases across; each cell the error
    estimate - truth in nats (3 decimals), † where the estimator targets another quantity, n/a where it does
    not apply; the truths on top; for SP, whether its 95% interval covers the truth."""
    parts = []
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
