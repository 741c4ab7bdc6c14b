"""information_flow: typed per-layer results checked against exact I(X;T_l) and I(T_l;Y) (quadrature), the
data-processing flag, the wide-layer rule, and the clustering diagnostics against direct computation."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from estimators import Estimate, MIEstimate, clustering
from estimators.ground_truth import mi_one_channel, mi_one_channel_labels, two_layer_tanh_mi
from noisynet import LayerMeasurement, NoisyTwin, information_flow, mlp
from noisynet import flow as flow_module

W1, B1, W2, B2, BETA = 2.0, 0.0, 3.0, 0.5, 0.1
XS = np.linspace(-1.5, 1.5, 6)
LABELS = torch.tensor([0, 1, 1, 0, 1, 0])


def two_layer_twin() -> NoisyTwin:
    net = nn.Sequential(nn.Linear(1, 1), nn.Tanh(), nn.Linear(1, 1), nn.Tanh(), nn.Linear(1, 2)).double()
    with torch.no_grad():
        net[0].weight.fill_(W1), net[0].bias.fill_(B1), net[2].weight.fill_(W2), net[2].bias.fill_(B2)
    return NoisyTwin(net, BETA)


def test_every_layer_against_its_exact_information():
    """Layer 1 is a deterministic function of X (closed-form conditional, quadrature for h(T1)); layer 2 is
    reached by sample propagation (2-D quadrature of the propagated law). Each 95% interval covers the
    truth widened by the truth's own error bound."""
    twin = two_layer_twin()
    x = torch.as_tensor(XS)[:, None]
    layers = information_flow(twin, x, LABELS, replicas=256, target_half_width=None, n_query=64, n_mc=8,
                              seed=0)
    assert [type(r) for r in layers] == [LayerMeasurement] * 2
    assert [(r.site, r.layer, r.width, r.beta, r.m, r.replicas, r.supported) for r in layers] == [
        ("T1", "1", 1, BETA, 6, 256, True), ("T2", "3", 1, BETA, 6, 256, True)]
    s1 = np.tanh(W1 * XS + B1)[:, None]
    truth2 = two_layer_tanh_mi(XS, W1, B1, W2, B2, BETA, BETA, labels=LABELS.numpy())
    truths = {("T1", "I_XT"): mi_one_channel(s1, BETA),
              ("T1", "I_TY"): mi_one_channel_labels(s1, LABELS.numpy(), BETA),
              ("T2", "I_XT"): truth2.i_xt, ("T2", "I_TY"): truth2.i_ty}
    for r in layers:
        assert isinstance(r.information, MIEstimate) and r.information.estimator == "sp"
        for q, est in (("I_XT", r.i_xt), ("I_TY", r.i_ty)):
            t = truths[(r.site, q)]
            assert isinstance(est, Estimate) and est.unit == "nat"
            assert est.ci_low - t.abs_error <= t.value <= est.ci_high + t.abs_error, (r.site, q, est, t)
            assert est.half_width < 0.1
    assert layers[0].dpi_violation is None and layers[1].dpi_violation is False


def test_replicas_double_until_the_target_half_width():
    twin = two_layer_twin()
    x = torch.as_tensor(XS)[:, None]
    wide = information_flow(twin, x, None, replicas=128, target_half_width=1e-9, seed=0, diagnostics=False)
    assert [r.replicas for r in wide] == [128, 128]  # never narrow enough: R grows to the largest
    loose = information_flow(twin, x, None, replicas=128, target_half_width=10.0, seed=0, diagnostics=False)
    assert [r.replicas for r in loose] == [8, 8]  # narrow enough at once
    assert loose[0].i_ty is None and "labels" in loose[0].information.reasons["I_TY"]


def test_a_layer_result_does_not_depend_on_the_other_sites_measured():
    twin = NoisyTwin(mlp((4, 5, 3, 2), "tanh", seed=0), 0.05)
    x = torch.randn(32, 4, generator=torch.Generator().manual_seed(0))
    both = information_flow(twin, x, None, replicas=16, target_half_width=None, seed=3, diagnostics=False)
    alone = information_flow(twin, x, None, replicas=16, target_half_width=None, seed=3, diagnostics=False,
                             sites=["T2"])
    assert [r.site for r in alone] == ["T2"] and alone[0].i_xt == both[1].i_xt


def _fake_sp(intervals):
    """An sp_mutual_information stand-in returning I(X;T) intervals (lo, hi) in call order."""
    calls = iter(intervals)

    def fake(samples, beta, labels=None, **kw):
        lo, hi = next(calls)
        est = Estimate(value=(lo + hi) / 2, std_error=0.0, ci_low=lo, ci_high=hi, n=samples.shape[0] * samples.shape[1])
        return MIEstimate(est, None, "sp", reasons={"I_TY": "no labels given"})

    return fake


@pytest.mark.parametrize("intervals, expected", [
    ([(2.0, 2.2), (2.3, 2.5), (1.0, 1.1)], [None, True, False]),  # T2 above T1 entirely: a violation
    ([(2.0, 2.2), (2.1, 2.5), (2.2, 2.4)], [None, False, False]),  # overlapping intervals: consistent
])
def test_data_processing_flag(monkeypatch, intervals, expected):
    monkeypatch.setattr(flow_module, "sp_mutual_information", _fake_sp(intervals))
    twin = NoisyTwin(mlp((3, 4, 4, 4, 2), "tanh", seed=0), 0.1)
    x = torch.randn(16, 3, generator=torch.Generator().manual_seed(0))
    out = information_flow(twin, x, None, replicas=8, target_half_width=None, diagnostics=False)
    assert [r.dpi_violation for r in out] == expected


def test_a_layer_too_wide_for_the_sample_is_flagged_with_the_a_priori_interval():
    twin = NoisyTwin(mlp((3, 4, 12, 2), "tanh", seed=0), 0.1)
    x = torch.randn(16, 3, generator=torch.Generator().manual_seed(0))
    y = (x[:, 0] > 0).long()
    assert flow_module.max_supported_width(16 * 8) == 7
    with pytest.warns(UserWarning, match="T2 of width 12: not estimated"):
        out = information_flow(twin, x, y, replicas=8, target_half_width=None, diagnostics=False)
    narrow, wide = out
    assert not wide.supported and wide.replicas == 0 and wide.max_width == 7 and math.isnan(wide.i_xt.value)
    assert (wide.i_xt.ci_low, wide.i_xt.ci_high) == (0.0, pytest.approx(math.log(16)))
    p = float(y.double().mean())
    assert wide.i_ty.ci_high == pytest.approx(-(p * math.log(p) + (1 - p) * math.log(1 - p)))
    assert "width d = 12" in wide.information.reasons["I_XT"] and wide.dpi_violation is None
    assert narrow.supported and not math.isnan(narrow.i_xt.value)
    ok = information_flow(twin, x, y, replicas=8, target_half_width=None, diagnostics=False, max_width=12)
    assert ok[1].supported


def test_the_first_layer_is_estimated_at_any_width():
    """No noise reaches S_1: its conditional laws are points, so a first layer wider than max_width is still
    estimated (from the deterministic representation, R = 2) and covers the exact I(X;T1) (quadrature)."""
    twin = NoisyTwin(mlp((3, 2, 2, 2), "tanh", seed=0), 0.3)
    x = torch.randn(12, 3, generator=torch.Generator().manual_seed(0))
    with pytest.warns(UserWarning, match="T2 of width 2: not estimated"):
        first, second = information_flow(twin, x, None, replicas=8, max_width=1, n_mc=64, diagnostics=False)
    assert first.supported and first.replicas == 2 and not second.supported
    s1 = twin.representations(x)["T1"].double().numpy()
    truth = mi_one_channel(s1, 0.3)
    assert first.i_xt.ci_low - truth.abs_error <= truth.value <= first.i_xt.ci_high + truth.abs_error
    assert first.i_xt.half_width < 0.05


def test_clustering_diagnostics_are_those_of_the_deterministic_representation():
    twin = NoisyTwin(mlp((3, 4, 2), "tanh", seed=0), 0.1)
    x = torch.randn(40, 3, generator=torch.Generator().manual_seed(0))
    y = (x[:, 1] > 0).long()
    (r,) = information_flow(twin, x, y, replicas=8, target_half_width=None)
    with twin.deterministic():
        t = twin.trace(x).nodes["T1"]["fn"].base_dist.loc.double()
    c = r.clustering
    assert c.h_bin == clustering.binned_entropy(t, list(clustering.DEFAULT_DELTAS), low=-1.0) and c.bin_low == -1.0
    assert c.class_ratio == clustering.class_distance_ratio(t, y)
    assert c.silhouette == clustering.silhouette(t, y)
    assert c.n_clusters == {0.1: clustering.n_clusters(t, 0.1)}


@pytest.mark.parametrize("kwargs, name", [
    ({"replicas": 4}, "replicas"), ({"min_replicas": 2}, "min_replicas"),
    ({"min_replicas": {"T1": 4}}, "min_replicas"), ({"target_half_width": 0.0}, "target_half_width"),
    ({"target_half_width": math.nan}, "target_half_width"), ({"sites": ["T7"]}, "sites"),
    ({"max_width": 0}, "max_width"),
])
def test_bad_arguments_are_named(kwargs, name):
    twin = NoisyTwin(mlp((3, 4, 2), "tanh", seed=0), 0.1)
    with pytest.raises(ValueError, match=f"^{name}"):
        information_flow(twin, torch.zeros(4, 3), None, **kwargs)
    with pytest.raises(ValueError, match="^y"):
        information_flow(twin, torch.zeros(4, 3), torch.zeros(3))
