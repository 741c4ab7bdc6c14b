"""experiments.validate's few-input study at the library's defaults (issue 13 item 4): the report's section is
derived from the run's cells, a run interrupted mid-study resumes from its cache without recomputing a
finished cell, the hard case's rare-mode mass is right, the study's options are checked, and the report's
paragraphs are filled without starting a markdown list."""

import dataclasses
import math
import re

import numpy as np
import pytest
import torch
from scipy.stats import norm

from estimators.ground_truth.coverage import RARE_MODE_NETWORK, TWO_LAYER_NETWORK, Coverage
from experiments import validate


@pytest.fixture
def tiny_grid(monkeypatch):
    """The study's grid cut to m = 4, R in {8, 16}, beta = 0.5 (seconds, not minutes)."""
    monkeypatch.setattr(validate, "FEW_M", (4,))
    monkeypatch.setattr(validate, "FEW_R", (8, 16))
    monkeypatch.setattr(validate, "FEW_BETA", (0.5,))


def test_an_interrupted_study_resumes_from_its_cache(tiny_grid, tmp_path, monkeypatch):
    real, calls, stop_after = validate.coverage_study, [], [2]

    def counted(*args, **kwargs):
        if len(calls) == stop_after[0]:
            raise KeyboardInterrupt
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(validate, "coverage_study", counted)
    cache = validate.Cache(tmp_path / "cache")
    with pytest.raises(KeyboardInterrupt):
        validate.few_inputs_study(3, 2, seed=7, cache=cache)
    assert len(list((tmp_path / "cache").glob("*.json"))) == 2  # the two finished cells, kept

    calls.clear()
    stop_after[0] = None
    grid, hard = validate.few_inputs_study(3, 2, seed=7, cache=cache)
    assert len(calls) == 2  # only the two cells not finished before the interruption
    assert [(c.m, c.replicas, c.beta, c.network, c.reps) for c in grid] == [
        (4, 8, 0.5, TWO_LAYER_NETWORK, 3), (4, 16, 0.5, TWO_LAYER_NETWORK, 3)]
    assert [(c.replicas, c.beta, c.network, c.reps) for c in hard] == [
        (8, validate.HARD_BETA, RARE_MODE_NETWORK, 2), (16, validate.HARD_BETA, RARE_MODE_NETWORK, 2)]
    # the cached cells read back equal to a fresh computation (same seeds)
    assert grid[0] == dataclasses.replace(real(4, 8, 0.5, 3, seed=7), seconds=grid[0].seconds)
    # at the defaults, m = 4, R = 16: every replica queried, n_mc raised to reach min_draws = 2048 draws
    assert (grid[1].n_query, grid[1].n_mc) == (16, 2048 // (4 * 16))


def cell(m, r, beta, covered, above, below, rmse, reps=1000, network=TWO_LAYER_NETWORK):
    return Coverage(m, r, beta, network, 0.5, 1e-9, reps, covered, above, below, rmse, 0.05, r, 4, 0.01)


def test_the_section_states_the_defaults_and_numbers_of_the_run(tiny_grid):
    grid = [cell(4, 8, 0.5, 921, 70, 9, 0.04), cell(4, 16, 0.5, 962, 30, 8, 0.01)]
    hard = [cell(4, 16, 0.2, 490, 10, 0, 0.02, 500, RARE_MODE_NETWORK),
            cell(4, 8, 0.2, 400, 99, 1, 0.03, 500, RARE_MODE_NETWORK)]
    text = " ".join(validate.few_section(grid, hard, validate.Path("validation_few_inputs.png"), 0).split())
    for setting in ("n_mc = 4", "min_draws = 2048", "level = 0.95", "tol = 0.001", "n_query = None"):
        assert setting in text
    assert "Lowest coverage 92.1% (m = 4, R = 8, beta = 0.5), highest 96.2%" in text
    assert "1 of 2 cells below the 93% floor (m = 4, R = 8, beta = 0.5: 92.1%)" in text
    assert "1 of 2 cells at or above 95%" in text
    assert "Misses: 100 above the truth, 17 below" in text
    assert "The RMSE at R = 16 is 0.25 to 0.25 times that at R = 8" in text
    assert "Coverage 80% at R = 8, 98% at R = 16: lowest 80.0% (R = 8), 99 of its 100 misses above" in text
    p = validate.minority_mass(hard[0])[0]
    assert f"it reaches the 93% floor from R = 16 (R p = {16 * p:.1f})" in text


def test_the_rare_mode_mass_is_the_fraction_of_t1_beyond_the_tanh_centre():
    """p of the hard case against a simulation of T1 = tanh(w1 x + b1) + beta Z1 (4 million draws per input):
    the largest fraction, over the inputs, of T1 on the other side of -b2 / w2 from the noiseless value."""
    c = cell(4, 32, 0.2, 1, 0, 0, 0.0, network=RARE_MODE_NETWORK)
    p, x = validate.minority_mass(c)
    w1, b1, w2, b2 = RARE_MODE_NETWORK
    g = torch.Generator().manual_seed(0)
    fractions = []
    for xi in np.linspace(-1.5, 1.5, 4):
        a = math.tanh(w1 * xi + b1)
        t1 = a + 0.2 * torch.randn(4_000_000, generator=g, dtype=torch.float64)
        fractions.append(float(((w2 * t1 + b2 > 0) != (w2 * a + b2 > 0)).double().mean()))
    assert x == 0.5 and p == pytest.approx(max(fractions), abs=5e-4)  # 6 standard errors at p = 0.07
    assert p == pytest.approx(norm.cdf(-(6 * math.tanh(0.5) - 1) / 1.2), rel=1e-12)


@pytest.mark.parametrize("argv, option", [(["--few-reps", "1"], "--few-reps"), (["--hard-reps", "0"], "--hard-reps"),
                                          (["--few-reps", "x"], "--few-reps")])
def test_the_study_options_are_checked_first(argv, option, tmp_path, monkeypatch):
    monkeypatch.setattr(validate, "_validate", lambda args: pytest.fail("the arguments were accepted"))
    with pytest.raises(SystemExit) as info:
        validate.main([*argv, "--out", str(tmp_path / "out")])
    assert isinstance(info.value.code, str) and "\n" not in info.value.code and option in info.value.code
    assert not (tmp_path / "out").exists()


def test_quick_runs_fewer_sets_unless_told(monkeypatch, tmp_path):
    seen = []
    monkeypatch.setattr(validate, "_validate", lambda args: seen.append((args.few_reps, args.hard_reps)))
    out = str(tmp_path / "out")
    validate.main(["--out", out])
    validate.main(["--quick", "--out", out])
    validate.main(["--quick", "--few-reps", "30", "--hard-reps", "20", "--out", out])
    assert seen == [(1000, 500), (200, 100), (30, 20)]


def test_reflow_fills_paragraphs_and_keeps_tables():
    para = "T1 = tanh(w1 x " + "+ b1) " * 30 + "and 2. then - 3"
    table = "| a | b |\n|---:|---:|\n| 1 | 2 |"
    out = validate.reflow(f"# Title\n\n{para}\n\n{table}\n\n![f](figures/x.png)")
    blocks = out.rstrip("\n").split("\n\n")
    assert blocks[0] == "# Title" and blocks[2] == table and blocks[3] == "![f](figures/x.png)"
    lines = blocks[1].split("\n")
    assert len(lines) > 1 and all(len(line) <= 110 for line in lines)
    assert " ".join(lines) == " ".join(para.split())
    assert not any(re.match(r"([-+*>#]|\d+[.)]) ", line) for line in lines)
