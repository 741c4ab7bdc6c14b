"""One estimator protocol: every estimator of I(X;T) and I(T;Y) in ``estimators`` (SP and each baseline) is
called the same way on a LayerData and returns an MIEstimate in nats with its hyperparameters; values are
checked against truths computed independently (quadrature, closed forms); bad input raises a ValueError
naming the argument. Then the battery: every estimator on one layer, failures reported."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

import estimators
from estimators import SP, Estimate, Estimator, LayerData, MIEstimate, default_estimators, run_battery
from estimators.baselines import (
    KSG,
    AdaptiveBinning,
    AdaptiveNoiseKDE,
    DiscreteExact,
    FixedBinning,
    KDEBound,
    MatrixRenyi,
    RossKNN,
)
from estimators.ground_truth import gaussian_smoothed_entropy, mi_one_channel, mi_one_channel_labels, noise_entropy

BETA = 0.005
ALL = default_estimators() + (DiscreteExact(),)
IDS = [e.name for e in ALL]


def merged_layer(labels: bool = True, replicas: int = 8) -> LayerData:
    """64 inputs in 4 coincident groups at -0.75, -0.25, 0.25, 0.75 (groups >> beta apart), two classes of two
    groups; inputs given as 6-bit codes of their index; a deterministic layer (identical replicas)."""
    s = torch.repeat_interleave(torch.tensor([-0.75, -0.25, 0.25, 0.75], dtype=torch.float64), 16)[:, None]
    x = ((torch.arange(64)[:, None] >> torch.arange(5, -1, -1)) & 1).double()
    y = (torch.arange(64) >= 32).long() if labels else None
    return LayerData(s[:, None, :].expand(64, replicas, 1), BETA, labels=y, x=x)


@pytest.fixture(scope="module")
def merged_truth():
    """I(X;T) and I(T;Y) of the merged layer by quadrature (ln 4 and ln 2 up to overlaps of e^-(0.5/beta)^2/8)."""
    layer = merged_layer()
    pts, y = layer.deterministic().numpy(), layer.labels.numpy()
    return mi_one_channel(pts, BETA), mi_one_channel_labels(pts, y, BETA)


@pytest.fixture(scope="module")
def results():
    layer = merged_layer()
    return {e.name: e(layer, generator=0) for e in ALL}


def test_every_estimator_in_the_package_is_covered():
    def subclasses(c):
        return {c} | {s for d in c.__subclasses__() for s in subclasses(d)}

    ours = {c for c in subclasses(Estimator) - {Estimator} if c.__module__.startswith("estimators.")}
    assert ours == {type(e) for e in ALL}
    assert {SP, FixedBinning, AdaptiveBinning, KDEBound, AdaptiveNoiseKDE, KSG, RossKNN, MatrixRenyi,
            DiscreteExact} == ours
    assert len(set(IDS)) == len(IDS)


# hyperparameters an estimator resolves into others on the result (SP: n_mc is raised to reach min_draws,
# n_query gets its default from R); every other one is recorded as given
RESOLVED = {"sp": {"n_mc", "n_query", "min_draws"}}


@pytest.mark.parametrize("est", ALL, ids=IDS)
def test_result_type_unit_and_hyperparameters(est, results):
    r = results[est.name]
    assert isinstance(r, MIEstimate) and r.estimator == est.name and r.unit == "nat"
    for e in (r.i_xt, r.i_ty, *r.terms.values()):
        assert isinstance(e, Estimate) and e.unit == "nat" and math.isfinite(e.value)
    given = {k: v for k, v in est.params().items() if k not in RESOLVED.get(est.name, ())}
    assert {k: r.params[k] for k in given} == given
    bits = r.to_bits()
    assert bits.unit == "bit" and bits.i_xt.value == pytest.approx(r.i_xt.value / math.log(2), rel=1e-15)


@pytest.mark.parametrize("est", ALL, ids=IDS)
def test_without_labels_i_ty_is_none_with_a_reason(est):
    r = est(merged_layer(labels=False), generator=0)
    assert r.i_ty is None and r.reasons["I_TY"]
    assert isinstance(r.i_xt, Estimate)


# the independent truth each estimator targets on the merged layer, and the tolerance (nats) for I(X;T) and
# I(T;Y); None: the estimator estimates another quantity there (adaptive noise, Renyi's functional, KSG's
# saturation on binary codes: tested against their own truths in test_baselines_continuous.py)
TOLERANCE = {"binning_range": 1e-9, "binning_szt": 1e-9, "binning_width": 1e-9, "binning_adaptive": 1e-9,
             "kde_upper": 1e-9, "kde_lower": 1e-9, "quantized_b4": 1e-9, "quantized_b8": 1e-9,
             "discrete_exact": 1e-9, "ksg_ross": 0.1, "sp": 0.01}


@pytest.mark.parametrize("est", [e for e in ALL if e.name in TOLERANCE], ids=[n for n in IDS if n in TOLERANCE])
def test_values_match_the_quadrature_truth(est, results, merged_truth):
    r = results[est.name]
    tol = TOLERANCE[est.name]
    for e, truth in ((r.i_xt, merged_truth[0]), (r.i_ty, merged_truth[1])):
        assert abs(e.value - truth.value) <= tol + truth.abs_error, (est.name, e.value, truth.value)
        if e.has_interval:
            assert e.ci_low - truth.abs_error <= truth.value <= e.ci_high + truth.abs_error


def test_ksg_matches_the_gaussian_closed_form():
    # X ~ N(0, 0.2^2), T = X + Z, beta = 0.1: I(X;T) = (1/2) ln 5, closed form
    x = 0.2 * torch.randn(2000, 1, generator=torch.Generator().manual_seed(100), dtype=torch.float64)
    truth = gaussian_smoothed_entropy(1, 0.2, 0.1).value - noise_entropy(1, 0.1).value
    values = [KSG()(LayerData(x[:, None, :], 0.1, x=x), generator=g).i_xt.value for g in range(4)]
    assert truth == pytest.approx(0.5 * math.log(5.0), abs=1e-12)
    assert np.mean(values) == pytest.approx(truth, abs=0.03)


@pytest.mark.parametrize("est", ALL, ids=IDS)
def test_single_class_labels_raise_naming_labels(est):
    layer = dataclasses.replace(merged_layer(), labels=torch.zeros(64, dtype=torch.long))
    with pytest.raises(ValueError, match=r"^labels\b"):
        est(layer, generator=0)


BAD_HYPERPARAMETERS = {
    "sp": (lambda: SP(n_mc=0), "n_mc"),
    "binning_range": (lambda: FixedBinning(n_bins=0), "n_bins"),
    "binning_szt": (lambda: FixedBinning.szt(low=1.0, high=-1.0), "low, high"),
    "binning_width": (lambda: FixedBinning(bin_width=-0.1), "bin_width"),
    "binning_adaptive": (lambda: AdaptiveBinning(n_bins=0), "n_bins"),
    "kde_upper": (lambda: KDEBound(bound="middle"), "bound"),
    "kde_lower": (lambda: KDEBound(bound="lower", mode="bogus"), "mode"),
    "kde_adaptive_upper": (lambda: AdaptiveNoiseKDE(rel_noise=0.0), "rel_noise"),
    "kde_adaptive_lower": (lambda: AdaptiveNoiseKDE(bound="lower", mode="bogus"), "mode"),
    "ksg": (lambda: KSG(k=0), "k"),
    "ksg_ross": (lambda: RossKNN(k=0), "k"),
    "renyi": (lambda: MatrixRenyi(alpha=0.0), "alpha"),
    "quantized_b4": (lambda: DiscreteExact(bits=0), "bits"),
    "quantized_b8": (lambda: DiscreteExact(bits=40), "bits"),
    "discrete_exact": (lambda: DiscreteExact(low=1.0, high=0.0), "low, high"),
}


@pytest.mark.parametrize("name", IDS)
def test_bad_hyperparameter_raises_naming_it(name):
    make, arg = BAD_HYPERPARAMETERS[name]
    with pytest.raises(ValueError, match=rf"^{arg}\b"):
        make()(merged_layer(), generator=0)  # SP checks at the call, the baselines at construction


def test_what_a_layer_lacks_is_named():
    noisy = LayerData(merged_layer().samples + 0.01 * torch.randn(64, 8, 1, generator=torch.Generator().manual_seed(0),
                                                                  dtype=torch.float64), BETA)
    for est in (FixedBinning(), AdaptiveBinning(), KDEBound(), DiscreteExact(bits=4)):
        with pytest.raises(ValueError, match=r"^s\b"):  # a deterministic representation is needed
            est(noisy)
    no_x = dataclasses.replace(merged_layer(), x=None)
    for est in (KSG(), MatrixRenyi()):
        with pytest.raises(ValueError, match=r"^x\b"):
            est(no_x)
    with pytest.raises(ValueError, match=r"^samples\b"):
        RossKNN(k=3)(merged_layer(replicas=3))
    with pytest.raises(ValueError, match=r"^samples\b"):
        SP()(merged_layer(replicas=1))
    with pytest.raises(ValueError, match=r"^t\b"):  # outside the binning range: nothing clipped
        FixedBinning(low=0.0, high=1.0)(merged_layer())


# ------------------------------------------------------------------------------------------- the battery


def test_default_battery_on_merged_groups():
    found = {r.estimator: r for r in run_battery(merged_layer(), generator=0)}
    assert list(found) == [e.name for e in default_estimators()]
    assert list(found)[:5] == ["sp", "binning_range", "binning_szt", "binning_width", "binning_adaptive"]
    for name, r in found.items():
        assert r.i_xt.diagnostics["seconds"] >= 0.0 and r.i_ty.diagnostics["seconds"] >= 0.0, name
    assert found["kde_upper"].params["beta"] == BETA
    assert found["renyi"].params["m_used"] == 64 and found["ksg_ross"].params["R"] == 8


def test_battery_reports_failures_instead_of_hiding_them():
    layer = merged_layer()
    dead = LayerData(torch.zeros(64, 8, 1, dtype=torch.float64), BETA, labels=layer.labels, x=layer.x)
    found = {r.estimator: r for r in run_battery(dead, default_estimators(sp=None), generator=0)}
    for est in ("kde_adaptive_upper", "renyi"):
        r = found[est]
        assert r.i_xt is None and r.i_ty is None
        assert r.reasons["I_XT"].startswith("failed: ") and r.reasons["I_XT"] == r.reasons["I_TY"]
        assert r.params == next(e for e in default_estimators() if e.name == est).params()
    assert "constant activations" in found["kde_adaptive_upper"].reasons["I_XT"]
    assert found["binning_range"].i_xt.value == 0.0  # one bin: H = 0, computed, not failed
    with pytest.raises(ValueError, match="^estimators"):
        run_battery(layer, [KSG(), KSG(k=4)])
    with pytest.raises(TypeError, match="^layer"):
        run_battery(layer.samples)


def test_each_estimator_draws_its_own_noise_whatever_runs_beside_it():
    layer = merged_layer()
    a = {r.estimator: r.i_xt.value for r in run_battery(layer, [KSG(), RossKNN()], generator=5)}
    b = {r.estimator: r.i_xt.value for r in run_battery(layer, [RossKNN(), SP(), KSG()], generator=5)}
    assert a["ksg"] == b["ksg"] and a["ksg_ross"] == b["ksg_ross"]
    c = {r.estimator: r.i_xt.value for r in run_battery(layer, [KSG()], generator=6)}
    assert c["ksg"] != a["ksg"]


def test_renyi_subsample_is_fixed_and_stated():
    layer = merged_layer()
    a = MatrixRenyi(max_inputs=32)(layer)
    b = MatrixRenyi(max_inputs=32)(layer)
    assert a.i_xt.value == b.i_xt.value and a.params["m_used"] == 32 and a.params["m"] == 64
    assert MatrixRenyi(max_inputs=32, seed=1)(layer).i_xt.value != a.i_xt.value


def test_package_exports():
    for name in ("run_battery", "default_estimators", "SP", "LayerData", "MIEstimate", "Estimator", "Estimate",
                 "GaussianMixture", "sp_entropy", "sp_mutual_information"):
        assert hasattr(estimators, name), name
