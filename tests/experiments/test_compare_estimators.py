"""The estimator comparison: the KDE bounds bracket the SP entropy of the same mixture, the battery on cases
with answers known by hand or by quadrature, the ground-truth table, and the command end to end on tiny
settings (every estimator written, nothing duplicated on --resume). Everything in nats."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from estimators import LayerData, default_estimators, run_battery, sp_entropy
from estimators.baselines import mixture_entropy_bounds
from estimators.ground_truth import discrete_smoothed_entropy, index_codes
from experiments import compare_estimators as ce
from experiments.estimator_truths import (
    BATTERY,
    ESTIMATORS,
    comparison_cases,
    error_tables,
    param_text,
    truth_rows,
)
from experiments.runs import read_csv

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


# ------------------------------------------------------------------------- the param column of the battery


def test_param_column_says_what_each_estimator_ran_with():
    s = torch.repeat_interleave(torch.tensor([-0.75, -0.25, 0.25, 0.75], dtype=torch.float64), 16)[:, None]
    layer = LayerData(s[:, None, :].expand(64, 8, 1), 0.005, labels=(torch.arange(64) >= 32).long(),
                      x=index_codes(64))
    text = {r.estimator: param_text(r, layer) for r in run_battery(layer, default_estimators(sp=None), generator=0)}
    assert text["binning_range"] == "n_bins=30; range=[-1, 1]"
    assert text["binning_szt"] == "SZT convention: np.digitize on 30 edges (29 bins); range=[-1, 1]"
    assert text["binning_width"] == "bin_width=0.06667; origin=0"
    assert text["kde_upper"] == "beta=0.005; mode=saxe"
    assert text["kde_adaptive_lower"] == "rel_noise=0.1 x (max - min of the layer); mode=saxe; beta=0.15"
    assert text["ksg"].startswith("k=3; max-norm")
    assert "R=8 draws per input" in text["ksg_ross"]
    assert "m=64 of 64" in text["renyi"] and "sigma_x=" in text["renyi"]
    assert text["quantized_b4"] == "bits=4; range=[-1, 1]"
    dead = LayerData(torch.zeros(64, 8, 1, dtype=torch.float64), 0.005, labels=layer.labels, x=layer.x)
    failed = {r.estimator: param_text(r, dead) for r in run_battery(dead, default_estimators(sp=None), generator=0)}
    assert failed["renyi"].startswith("alpha=1.01; width rule=silverman (inputs and layer separately); m=64 of 64 "
                                      "inputs; failed: ")
    assert failed["kde_adaptive_upper"] == ("rel_noise=0.1 x (max - min of the layer); mode=saxe; failed: t: got "
                                            "constant activations (max - min = 0), expected a positive range to "
                                            "scale the noise")
    assert "noise_std" not in " ".join([*text.values(), *failed.values()])


# --------------------------------------------------------------------------------- ground-truth table


@pytest.fixture(scope="module")
def quick_rows():
    cases = comparison_cases(0.005, gaussian_n=256, quick=True)
    return cases, truth_rows(cases, default_estimators(sp=None), seed=0)


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
    assert cell[("1-D merged", "I_XT", "binning_szt")]["value"] == pytest.approx(LN4, abs=1e-12)
    assert cell[("1-D merged", "I_XT", "kde_upper")]["param"] == "beta=0.005; mode=saxe"
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
    assert "| SZT's binning: 30 edges (29 bins) on a range |" in md and "np.digitize on the 30 edges" in md
    assert md.count("| SP 95% interval covers the truth |") == 2  # one table for I(X;T), one for I(T;Y)
    header = next(line for line in md.split("\n") if line.startswith("| estimator |"))
    assert header == "| estimator | 1-D separated | 1-D crossover | 1-D merged | Gaussian d=1 |"


# --------------------------------------------------------------------------------------- end to end

TINY = ["--epochs", "2", "--measure", "3", "--inputs", "256", "--replicas", "8", "--renyi-m", "64",
        "--bits", "4", "8", "--no-truths"]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        root = ce.main(TINY + ["--out", str(out)])
        # the command runs at --threads 1 and gives the caller's setting back
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    return out, root


def test_every_estimator_at_every_measured_epoch_and_layer(tiny_run):
    _, root = tiny_run
    for act in ("tanh", "relu"):
        rows = read_csv(root / act / "metrics.csv")
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
        rows = read_csv(root / act / "metrics.csv")
        v = {(int(r["epoch"]), r["estimator"]): r for r in rows if r["layer"] == "T1" and r["quantity"] == "I_XT"}
        for e in (0, 2):
            sp = v[(e, "sp")]
            assert float(v[(e, "kde_lower")]["value"]) <= float(sp["ci_high"]) + 1e-9
            assert float(sp["ci_low"]) <= float(v[(e, "kde_upper")]["value"]) + 1e-9


def test_quantized_and_binning_values_are_finite_sums_within_their_range(tiny_run):
    _, root = tiny_run
    rows = read_csv(root / "relu" / "metrics.csv")
    for r in rows:
        exact_sums = ("quantized_b4", "quantized_b8", "binning_range", "binning_adaptive")
        if r["estimator"] in exact_sums and r["quantity"] == "I_XT":
            assert 0.0 <= float(r["value"]) <= math.log(256) + 1e-12
    assert any(r["quantity"] == "clipped_fraction" for r in rows)
    rng = {r["param"] for r in rows if r["estimator"] == "binning_range"}
    assert all(p.startswith("n_bins=30; range=[0, ") for p in rng)  # ReLU: [0, layer max over the run]


def test_resume_adds_nothing_and_results_section(tiny_run):
    out, root = tiny_run
    before = {a: len(read_csv(root / a / "metrics.csv")) for a in ("tanh", "relu")}
    ce.main(TINY + ["--out", str(out), "--resume"])
    assert {a: len(read_csv(root / a / "metrics.csv")) for a in ("tanh", "relu")} == before
    with pytest.raises(SystemExit):
        ce.main(TINY + ["--out", str(out)])  # exists: needs --resume
    md = ce.results_section(root, relative_to=None)
    assert "information_planes_tanh.png" in md and "transfer_entropy.png" in md
    assert "| estimator | I(X;T) mean |" in md and "**tanh.**" in md and "**relu.**" in md
