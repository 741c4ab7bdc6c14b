"""The estimator comparison: the KDE bounds bracket the SP entropy of the same mixture, the battery on cases
with answers known by hand or by quadrature, the ground-truth table, and the command end to end on tiny
settings (every estimator written, nothing duplicated on --resume). Everything in nats."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from estimators import sp_entropy
from estimators.baselines import mixture_entropy_bounds
from estimators.ground_truth import discrete_smoothed_entropy
from experiments import compare_estimators as ce
from experiments.estimator_truths import (
    BATTERY,
    ESTIMATORS,
    BatterySettings,
    battery,
    error_tables,
    ground_truth_cases,
    read_rows,
    truth_rows,
)

LN2, LN4 = math.log(2.0), math.log(4.0)


# ------------------------------------------------- acceptance: KDE bounds bracket the SP mixture entropy

MIXTURES = {
    "1-D crossover": (np.linspace(0.0, 0.06, 7)[:, None], 0.02),
    "1-D near-separated": (np.array([[0.0], [0.05], [0.11], [0.3]]), 0.02),
    "2-D random": (np.random.default_rng(0).uniform(-1, 1, size=(9, 2)) * 0.1, 0.04),
    "3-D clusters": (np.repeat(np.random.default_rng(1).normal(size=(3, 3)), 4, axis=0)
                     + 0.01 * np.random.default_rng(2).normal(size=(12, 3)), 0.03),
}


@pytest.mark.parametrize("name", list(MIXTURES))
def test_kde_bounds_bracket_the_sp_entropy_of_the_same_mixture(name):
    centres, s = MIXTURES[name]
    lo, hi = mixture_entropy_bounds(centres, s)
    sp = sp_entropy(torch.as_tensor(centres), s, population=True, n_mc=4000, generator=7)
    slack = 4.0 * sp.std_error  # Monte Carlo error only: the SP value is unbiased for this mixture's entropy
    assert lo.value - slack - sp.margin_high <= sp.value <= hi.value + slack + sp.margin_low
    if centres.shape[1] <= 2:  # an independent check of both by quadrature
        truth = discrete_smoothed_entropy(centres, s)
        assert lo.value - 1e-9 <= truth.value <= hi.value + 1e-9
        assert abs(sp.value - truth.value) <= slack + truth.abs_error


def test_the_bracket_test_has_teeth():
    # where the bounds are far apart, SP sits strictly inside with room to spare (a swap of KL and BD fails)
    centres, s = MIXTURES["1-D crossover"]
    lo, hi = mixture_entropy_bounds(centres, s)
    sp = sp_entropy(torch.as_tensor(centres), s, population=True, n_mc=4000, generator=7)
    assert hi.value - lo.value > 0.1
    assert lo.value + 10 * sp.std_error < sp.value < hi.value - 10 * sp.std_error


# ------------------------------------------------------------------------- the battery on known answers


def merged_layer(beta: float = 0.005):
    """64 inputs in 4 coincident groups at -0.75, -0.25, 0.25, 0.75 (groups >> beta apart), two classes of
    two groups: I(X;T) = ln 4 and I(T;Y) = ln 2 up to e^-(0.5/beta)^2/8-sized overlaps."""
    s = torch.repeat_interleave(torch.tensor([-0.75, -0.25, 0.25, 0.75], dtype=torch.float64), 16)[:, None]
    y = (torch.arange(64) >= 32).long()
    x = ((torch.arange(64)[:, None] >> torch.arange(5, -1, -1)) & 1).double()
    t_rep = s[:, None, :] + beta * torch.randn(64, 8, 1, generator=torch.Generator().manual_seed(0),
                                               dtype=torch.float64)
    return x, s, y, t_rep


def test_battery_on_merged_groups_gives_ln4_and_ln2():
    x, s, y, t_rep = merged_layer()
    found = {(m.estimator, m.quantity): m for m in battery(x, s, y, 0.005, t_rep=t_rep)}
    assert {e for e, _ in found} == set(BATTERY)
    for est in ("binning_range", "binning_width", "binning_adaptive", "kde_upper", "kde_lower"):
        assert found[(est, "I_XT")].value == pytest.approx(LN4, abs=1e-9), est
        assert found[(est, "I_TY")].value == pytest.approx(LN2, abs=1e-9), est
    # kNN with X as a label on 8 draws per input: consistent, not exact (psi-function bias of a few 0.01)
    assert found[("ksg_ross", "I_XT")].value == pytest.approx(LN4, abs=0.1)
    assert found[("ksg_ross", "I_TY")].value == pytest.approx(LN2, abs=0.05)
    assert found[("binning_range", "I_XT")].param == "n_bins=30; range=[-1, 1]"
    assert "noise_std=0.005" in found[("kde_upper", "I_XT")].param
    assert "sigma_x=" in found[("renyi", "I_XT")].param and "m=64 of 64" in found[("renyi", "I_XT")].param


def test_battery_reports_failures_instead_of_hiding_them():
    x, s, y, t_rep = merged_layer()
    dead = torch.zeros_like(s)  # a dead layer: zero range, identical rows
    found = {(m.estimator, m.quantity): m for m in battery(x, dead, y, 0.005, t_rep=t_rep)}
    for est in ("kde_adaptive_upper", "renyi"):
        assert math.isnan(found[(est, "I_XT")].value)
        assert "failed: t:" in found[(est, "I_XT")].param or "failed: x:" in found[(est, "I_XT")].param
    assert found[("binning_range", "I_XT")].value == 0.0  # one bin: H = 0, computed, not failed
    with pytest.raises(ValueError, match="^include"):
        battery(x, s, y, 0.005, t_rep=t_rep, include=["bogus"])
    with pytest.raises(ValueError, match="^t_rep"):
        battery(x, s, y, 0.005, t_rep=t_rep[:10])


def test_renyi_subsample_is_fixed_and_stated():
    x, s, y, t_rep = merged_layer()
    a = battery(x, s, y, 0.005, t_rep=t_rep, settings=BatterySettings(renyi_m=32), include=["renyi"])
    b = battery(x, s, y, 0.005, t_rep=t_rep, settings=BatterySettings(renyi_m=32), include=["renyi"])
    assert [m.value for m in a] == [m.value for m in b]
    assert "m=32 of 64" in a[0].param


# --------------------------------------------------------------------------------- ground-truth table


@pytest.fixture(scope="module")
def quick_rows():
    cases = ground_truth_cases(0.005, seed=0, gaussian_n=256, quick=True)
    return cases, truth_rows(cases)


def test_truths_are_the_known_values(quick_rows):
    cases, _ = quick_rows
    by = {c.name: c for c in cases}
    assert by["1-D merged"].truth["I_XT"].value == pytest.approx(LN4, abs=1e-9)
    assert by["1-D merged"].truth["I_TY"].value == pytest.approx(LN2, abs=1e-9)
    assert by["Gaussian d=1"].truth["I_XT"].value == pytest.approx(0.5 * math.log(5.0), abs=1e-15)
    sep = by["1-D separated"].truth["I_XT"].value  # spacing 6.3 beta: just below ln 64
    assert math.log(64) - 0.01 < sep < math.log(64)


def test_truth_rows_errors_statuses_and_brackets(quick_rows):
    _, rows = quick_rows
    cell = {(r["case"], r["quantity"], r["estimator"]): r for r in rows}
    assert {r["estimator"] for r in rows} == set(ESTIMATORS)
    for case in ("1-D separated", "1-D crossover", "1-D merged"):
        truth = cell[(case, "I_XT", "sp")]["truth"]
        # exact mixture: the KDE bounds bracket the truth, SP is within Monte Carlo error and covers it
        lower, upper = cell[(case, "I_XT", "kde_lower")]["value"], cell[(case, "I_XT", "kde_upper")]["value"]
        assert lower <= truth + 1e-9 <= upper + 2e-9
        assert abs(cell[(case, "I_XT", "sp")]["error"]) < 0.05 and cell[(case, "I_XT", "sp")]["covers"]
        assert cell[(case, "I_XT", "binning_range")]["status"] == "+"
        assert cell[(case, "I_XT", "transfer_entropy")]["value"] is None
    g = ("Gaussian d=1", "I_XT")
    assert cell[g + ("binning_range",)]["status"] == "n/a" and cell[g + ("binning_range",)]["value"] is None
    assert cell[g + ("ksg",)]["status"] == "=" and abs(cell[g + ("ksg",)]["error"]) < 0.3
    merged = cell[("1-D merged", "I_XT", "quantized_b4")]
    assert merged["value"] == pytest.approx(LN4, abs=1e-12)  # 4 groups on 4 distinct 4-bit levels
    for r in rows:
        if r["value"] is not None:
            assert r["error"] == pytest.approx(r["value"] - r["truth"], abs=1e-15)


def test_error_table_markdown(quick_rows):
    _, rows = quick_rows
    md = error_tables(rows)
    assert "| **truth** |" in md and "n/a" in md and "†" in md
    assert md.count("| SP 95% interval covers the truth |") == 2  # one table for I(X;T), one for I(T;Y)
    header = next(line for line in md.split("\n") if line.startswith("| estimator |"))
    assert header == "| estimator | 1-D separated | 1-D crossover | 1-D merged | Gaussian d=1 |"


# --------------------------------------------------------------------------------------- end to end

TINY = ["--epochs", "2", "--measure", "3", "--inputs", "256", "--replicas", "8", "--renyi-m", "64",
        "--bits", "4", "8", "--no-truths"]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    root = ce.main(TINY + ["--out", str(out)])
    return out, root


def test_every_estimator_at_every_measured_epoch_and_layer(tiny_run):
    _, root = tiny_run
    for act in ("tanh", "relu"):
        rows = read_rows(root / act / "metrics.csv")
        keys = {(int(r["epoch"]), r["layer"], r["quantity"], r["estimator"]) for r in rows}
        assert len(keys) == len(rows)  # nothing duplicated
        for e in (0, 2):
            for layer in ("T1", "T2", "T3", "T4", "T5"):
                for est in ("sp",) + BATTERY + ("quantized_b4", "quantized_b8"):
                    for q in ("I_XT", "I_TY"):
                        assert (e, layer, q, est) in keys, (act, e, layer, q, est)
        te = [r for r in rows if r["quantity"] in ("TE", "TE_total")]
        assert {r["layer"] for r in te} == {"T1->T2", "T2->T1", "T2->T3", "T3->T2", "T3->T4", "T4->T3",
                                             "T4->T5", "T5->T4"}
        assert all(float(r["value"]) >= -1e-12 for r in te)
        assert any(r["quantity"] == "test_acc" and r["estimator"] == "quantized_b4" for r in rows)
        assert (root / "figures" / f"information_planes_{act}.png").stat().st_size > 0
    assert (root / "figures" / "transfer_entropy.png").stat().st_size > 0


def test_first_layer_sp_lies_between_the_kde_bounds(tiny_run):
    # T1 = S1 + Z with S1 a function of X: SP's I(X;T1) is the exact mixture's, which the KDE bounds
    # (same noise std) bracket; SP's Monte Carlo error is within its interval
    _, root = tiny_run
    for act in ("tanh", "relu"):
        rows = read_rows(root / act / "metrics.csv")
        v = {(int(r["epoch"]), r["estimator"]): r for r in rows if r["layer"] == "T1" and r["quantity"] == "I_XT"}
        for e in (0, 2):
            sp = v[(e, "sp")]
            assert float(v[(e, "kde_lower")]["value"]) <= float(sp["ci_high"]) + 1e-9
            assert float(sp["ci_low"]) <= float(v[(e, "kde_upper")]["value"]) + 1e-9


def test_quantized_and_binning_values_are_finite_sums_within_their_range(tiny_run):
    _, root = tiny_run
    rows = read_rows(root / "relu" / "metrics.csv")
    for r in rows:
        exact_sums = ("quantized_b4", "quantized_b8", "binning_range", "binning_adaptive")
        if r["estimator"] in exact_sums and r["quantity"] == "I_XT":
            assert 0.0 <= float(r["value"]) <= math.log(256) + 1e-12
    assert any(r["quantity"] == "clipped_fraction" for r in rows)
    rng = {r["param"] for r in rows if r["estimator"] == "binning_range"}
    assert all(p.startswith("n_bins=30; range=[0, ") for p in rng)  # ReLU: [0, layer max over the run]


def test_resume_adds_nothing_and_results_section(tiny_run):
    out, root = tiny_run
    before = {a: len(read_rows(root / a / "metrics.csv")) for a in ("tanh", "relu")}
    ce.main(TINY + ["--out", str(out), "--resume"])
    assert {a: len(read_rows(root / a / "metrics.csv")) for a in ("tanh", "relu")} == before
    with pytest.raises(SystemExit):
        ce.main(TINY + ["--out", str(out)])  # exists: needs --resume
    md = ce.results_section(root, relative_to=None)
    assert "information_planes_tanh.png" in md and "transfer_entropy.png" in md
    assert "| estimator | I(X;T) mean |" in md and "**tanh.**" in md and "**relu.**" in md
