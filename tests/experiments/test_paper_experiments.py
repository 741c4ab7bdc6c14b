"""The paper's experiments: the single noisy neuron against quadrature, the spiral generator, and smoke tests
of every command at the smallest settings (files, figures and the printed summary)."""

import math

import numpy as np
import pytest
import torch

from estimators.ground_truth import SINGLE_NEURON_INPUTS, single_neuron_mi
from experiments import orthonormal, single_neuron, spiral, szt, szt_figures
from experiments.runs import Run
from noisynet.data import SZT, load_szt
from noisynet.data.spiral import make_spiral

# ------------------------------------------------------------------------------------ single neuron


def test_neuron_twin_images_are_tanh_of_the_shifted_inputs():
    x, _ = single_neuron.inputs()
    s = single_neuron.neuron_twin(0.7, 0.05).propagate(x, 3, generator=0)["T1"]
    expected = np.tanh(0.7 * (SINGLE_NEURON_INPUTS - 2.0))
    assert s.shape == (4, 3, 1)
    assert torch.equal(s, s[:, :1].expand(-1, 3, -1))  # no noise reaches layer 1: identical replicas
    assert np.allclose(s[:, 0, 0].numpy(), expected, atol=1e-15, rtol=0)  # w x + b = w (x - 2) up to rounding


@pytest.mark.parametrize("w,beta", [(0.004, 0.01), (0.3, 0.05), (2.0, 0.01), (1.0, 0.1), (30.0, 0.05)])
def test_single_neuron_estimates_contain_the_quadrature_value(w, beta):
    rows = single_neuron.measure(w, beta, replicas=16, n_mc=256, seed=7)
    exact = single_neuron_mi(w, beta)
    by = {(r["quantity"], r["estimator"]): r for r in rows}
    for q, truth, err in (("I_XT", exact.i_xt, exact.i_xt_error), ("I_TY", exact.i_ty, exact.i_ty_error)):
        est = by[(q, "sp")]
        assert est["ci_low"] - err - single_neuron.RESOLUTION <= truth <= est["ci_high"] + err + single_neuron.RESOLUTION
        assert est["ci_high"] - est["ci_low"] < 0.05  # and the interval says something
        assert by[(q, "quadrature")]["value"] == pytest.approx(float(truth), abs=0)
    assert all(r["param"] == single_neuron.w_param(w) for r in rows)


def test_single_neuron_limits_by_closed_form():
    # the limits the experiment's summary quotes: ln 4 (separated) and h_b(1/4) (three images merged)
    assert single_neuron.H_B_QUARTER == pytest.approx(0.5623351446188083, abs=1e-15)
    rows = single_neuron.measure(100.0, 0.01, replicas=4, n_mc=64, seed=0)
    assert rows[0]["value"] == pytest.approx(single_neuron.H_B_QUARTER, abs=1e-6)
    rows = single_neuron.measure(0.3, 0.01, replicas=4, n_mc=64, seed=0)
    assert rows[0]["value"] == pytest.approx(math.log(4), abs=1e-6)


def test_single_neuron_command_smoke_and_resume(tmp_path, capsys):
    argv = ["--betas", "0.05", "0.1", "--n-w", "3", "--replicas", "4", "--n-mc", "32", "--curve-points", "12",
            "--out", str(tmp_path)]
    run = single_neuron.main(argv)
    rows = run.rows()
    assert len(rows) == 2 * 3 * 4  # betas x weights x (I_XT, I_TY) x (sp, quadrature)
    assert {r["param"] for r in rows} == {single_neuron.w_param(w) for w in np.logspace(-3, 2, 3)}
    for name in ("mi_vs_w", "densities"):
        assert (run.figures / f"{name}.png").stat().st_size > 10_000
    out = capsys.readouterr().out
    assert "contain the exact value" in out and str(run.dir) in out
    again = single_neuron.main(argv + ["--resume"])  # nothing left to do: no duplicates
    assert len(again.rows()) == len(rows)


def test_single_neuron_resume_drops_the_rows_of_a_weight_cut_short(tmp_path):
    run = Run(tmp_path, "single_neuron", "r", {"k": 1})
    full = [{"epoch": 0, "layer": "T1", "quantity": q, "estimator": e, "param": "w=1", "beta": 0.1, "value": 0.5}
            for q in ("I_XT", "I_TY") for e in ("sp", "quadrature")]
    cut = [{**r, "param": "w=2"} for r in full[:3]]  # the fourth row never written
    run.append(full + cut)
    assert single_neuron._keep_complete(run) == {("0.1", "w=1")}
    assert [(r["param"], r["quantity"], r["estimator"]) for r in run.rows()] == [
        ("w=1", r["quantity"], r["estimator"]) for r in full]


def test_density_weights_show_the_three_regimes():
    ws, ex = single_neuron.exact_curves([0.05], (1e-3, 100.0), n=41)[0.05]
    (r1, w1), (r2, w2), (r3, w3) = single_neuron.density_weights(ws, ex.i_xt)
    assert (r1, r2, r3) == ("overlapping", "most separated", "merged") and w1 < w2 < w3 == pytest.approx(100.0)
    ex = single_neuron_mi(np.array([w1, w2, w3]), 0.05)
    assert ex.i_xt[1] > 1.3 and ex.i_xt[0] < 0.6 and abs(ex.i_xt[2] - single_neuron.H_B_QUARTER) < 1e-9


# ------------------------------------------------------------------------------------------- spiral


def test_spiral_is_deterministic_balanced_and_documented():
    a, b, c = make_spiral(90, seed=3), make_spiral(90, seed=3), make_spiral(90, seed=4)
    assert torch.equal(a.x, b.x) and torch.equal(a.train, b.train) and torch.equal(a.test, b.test)
    assert not torch.equal(a.x, c.x)
    assert a.x.shape == (90, 2) and a.x.dtype == torch.float32 and a.y.dtype == torch.int64
    assert torch.bincount(a.y).tolist() == [30, 30, 30]
    assert torch.bincount(a.y[a.test]).tolist() == [6, 6, 6]  # stratified 80/20
    assert sorted(torch.cat([a.train, a.test]).tolist()) == list(range(90))
    # without noise the points are the documented constellation: r = u, theta = 2 pi (turns u + a / arms)
    p = make_spiral(30, noise=0.0, turns=1.5).x.double().numpy()
    u = np.arange(1, 11) / 10
    theta = 2 * np.pi * (1.5 * u + 1 / 3)
    assert np.allclose(p[1::3], np.column_stack([u * np.cos(theta), u * np.sin(theta)]), atol=1e-6)


@pytest.mark.parametrize("kw,name", [({"m": 91}, "m"), ({"arms": 1}, "arms"), ({"noise": -1.0}, "noise"),
                                     ({"test_fraction": 1.0}, "test_fraction"), ({"turns": 0.0}, "turns")])
def test_spiral_bad_input(kw, name):
    with pytest.raises(ValueError, match=name):
        make_spiral(**{"m": 90, **kw})


def test_spiral_command_smoke(tmp_path, capsys):
    run = spiral.main(["--epochs", "1", "--measure", "2", "--m", "60", "--replicas", "8", "--n-query", "2",
                       "--no-extra-figures", "--out", str(tmp_path)])
    rows = run.rows()
    ixt = [r for r in rows if r["quantity"] == "I_XT"]
    assert {r["layer"] for r in ixt} == {"T1", "T2", "T3"} and {r["epoch"] for r in ixt} == {"0", "1"}
    assert all(float(r["ci_low"]) <= float(r["value"]) <= float(r["ci_high"]) for r in ixt)
    assert not (run.figures / "layer_scatter.png").exists()  # --no-extra-figures
    for name in ("data", "information_plane", "mi_vs_epoch", "clustering", "accuracy"):
        assert (run.figures / f"{name}.png").stat().st_size > 10_000, name
    out = capsys.readouterr().out
    assert "I(X;T)" in out and str(run.dir) in out


# --------------------------------------------------------------------- SZT figures and orthonormal


def test_falls_are_the_decreasing_runs_of_at_least_min_fall():
    v = [1.0, 3.0, 2.0, 2.5, 1.0, 0.99, 1.2, 1.18]
    # 3 -> 2 (1 nat), 2.5 -> 1 -> 0.99 (1.51 nats); 1.2 -> 1.18 is below MIN_FALL = 0.05
    assert orthonormal.falls(v) == [(1, 2), (3, 5)]
    assert orthonormal.falls([1.0, 1.0, 2.0]) == [] and orthonormal.falls([]) == []


def test_chosen_epochs():
    assert szt_figures.chosen_epochs([0, 1, 2, 5, 14, 40, 200, 1000, 3000]) == [0, 14, 200, 3000]
    assert szt_figures.chosen_epochs([0, 1, 3]) == [0, 1, 3]


@pytest.fixture
def small_szt(monkeypatch):
    """SZT cut to its first 128 inputs (with their part of the split), so the commands run in seconds."""
    import noisynet.data

    full = load_szt()
    keep = 128
    small = SZT(full.x[:keep], full.y[:keep], full.train[full.train < keep], full.test[full.test < keep])
    for module in (szt, orthonormal, noisynet.data):
        monkeypatch.setattr(module, "load_szt", lambda: small)
    return small


def test_orthonormal_command_and_szt_figures_smoke(tmp_path, capsys, small_szt):
    argv = ["--epochs", "1", "--measure", "2", "--replicas", "8", "--no-extra-figures", "--out", str(tmp_path)]
    run = orthonormal.main(argv)
    assert run.config["alpha"] == orthonormal.DEFAULT_ALPHA and run.config["orthonormal"] is True
    base = tmp_path / "szt" / orthonormal.baseline_id(orthonormal.parser().parse_args(argv))
    assert run.config["baseline_run"] == f"szt/{base.name}" and orthonormal._complete(base)
    for name in ("comparison", "weight_spectra", "clustering", "information_plane"):
        assert (run.figures / f"{name}.png").stat().st_size > 10_000, name
    out = capsys.readouterr().out
    assert "Compression versus clustering" in out and "orthonormal" in out
    md = orthonormal.results_section(run.dir)
    assert md.startswith("### ") and md.count("| orthonormal |") == 5 and md.count("| unconstrained |") == 5
    c = orthonormal.comparison(run.dir)
    for r in c["unconstrained"] + c["orthonormal"]:
        assert all(f["e1"] < f["e2"] and f["dI"] <= -orthonormal.MIN_FALL for f in r["falls"])
    # the scatter / histogram / binned-entropy figures, by the standalone command on the finished baseline
    paths = szt_figures.main([str(base)])
    assert [p.name for p in paths] == ["layer_scatter.png", "activation_histograms.png", "binned_entropy.png"]
    assert all(p.stat().st_size > 10_000 for p in paths)
