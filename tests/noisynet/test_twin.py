"""The noisy twin: noise of std beta as Pyro sites, noise off = the deterministic network, sample propagation
tested end to end against the exact I(X;T_2) of a two-layer tanh network (numerical integration)."""

import math

import numpy as np
import pyro
import pytest
import torch
from torch import nn

from estimators import sp_mutual_information
from estimators.ground_truth import two_layer_tanh_mi
from noisynet import NoisyTwin, mlp


def test_default_layers_are_the_hidden_activations():
    twin = NoisyTwin(mlp((12, 10, 7, 5, 4, 3, 2), "tanh", seed=0), 0.005)
    assert twin.layer_names == ["1", "3", "5", "7", "9"] and twin.site_names == ["T1", "T2", "T3", "T4", "T5"]
    linear = NoisyTwin(mlp((4, 3, 2), "linear", seed=0), 0.1)
    assert linear.layer_names == ["1"]


def test_noise_off_is_the_deterministic_network_and_noise_has_std_beta():
    net = mlp((3, 4, 4, 2), "tanh", seed=1)
    twin = NoisyTwin(net, 0.05)
    x = torch.randn(20000, 3, generator=torch.Generator().manual_seed(0))
    plain = nn.Sequential(*net)  # same modules; the hooks are on them, so compare through the trace instead
    with twin.deterministic():
        out = twin(x)
    tr = twin.trace(x, noise=False)
    s1 = tr.nodes["T1"]["fn"].base_dist.loc
    assert torch.equal(tr.nodes["T1"]["value"], s1)  # noise off: T = S
    noisy = twin.trace(x, generator=torch.Generator().manual_seed(1))
    z = (noisy.nodes["T1"]["value"] - noisy.nodes["T1"]["fn"].base_dist.loc).detach()
    assert abs(float(z.std()) - 0.05) < 0.001 and abs(float(z.mean())) < 0.001
    del plain
    w = net[0].weight.detach()
    assert torch.allclose(s1, torch.tanh(x @ w.T + net[0].bias.detach()))
    assert out.shape == (20000, 2)


def test_condition_handler_fixes_a_layer():
    twin = NoisyTwin(mlp((2, 3, 3, 2), "tanh", seed=2), 0.1)
    x = torch.randn(5, 2)
    fixed = torch.zeros(5, 3)
    with pyro.poutine.condition(data={"T1": fixed}):
        tr = pyro.poutine.trace(twin).get_trace(x)
    assert torch.equal(tr.nodes["T1"]["value"], fixed)


def test_propagate_shapes_coincidence_and_seed():
    twin = NoisyTwin(mlp((12, 10, 7, 2), "tanh", seed=0), 0.01)
    x = torch.randint(0, 2, (50, 12)).float()
    a = twin.propagate(x, 6, generator=3)
    b = twin.propagate(x, 6, generator=3)
    assert a["T1"].shape == (50, 6, 10) and a["T2"].shape == (50, 6, 7)
    assert bool((a["T1"] == a["T1"][:, :1]).all())  # no noise reaches S_1
    assert not bool((a["T2"] == a["T2"][:, :1]).all())
    assert all(torch.equal(a[k], b[k]) for k in a)  # reproducible from the seed
    c = twin.propagate(x, 6, generator=4)
    assert not torch.equal(a["T2"], c["T2"])


def test_sample_propagation_matches_the_exact_two_layer_information():
    """X uniform on 6 points; T1 = tanh(w1 x + b1) + Z1, T2 = tanh(w2 T1 + b2) + Z2. The SP estimate from
    propagated replicas covers I(X;T2) computed by numerical integration of the propagated law."""
    w1, b1, w2, b2, beta = 2.0, 0.0, 3.0, 0.5, 0.1
    net = nn.Sequential(nn.Linear(1, 1), nn.Tanh(), nn.Linear(1, 1), nn.Tanh(), nn.Linear(1, 2))
    with torch.no_grad():
        net[0].weight.fill_(w1), net[0].bias.fill_(b1), net[2].weight.fill_(w2), net[2].bias.fill_(b2)
    twin = NoisyTwin(net.double(), beta)
    xs = np.linspace(-1.5, 1.5, 6)
    truth = two_layer_tanh_mi(xs, w1, b1, w2, b2, beta, beta)
    s2 = twin.propagate(torch.as_tensor(xs)[:, None], 256, generator=0)["T2"]
    info = sp_mutual_information(s2, beta, n_query=64, n_mc=8, generator=0)
    err = truth.i_xt.abs_error
    assert info.i_xt.ci_low - err <= truth.i_xt.value <= info.i_xt.ci_high + err
    assert info.i_xt.half_width < 0.1
    h_cond = float(np.mean([t.value for t in truth.h_t2_given_x]))
    assert info.terms["h_t_given_x"].ci_low <= h_cond <= info.terms["h_t_given_x"].ci_high


@pytest.mark.parametrize("beta", [0.0, -0.1, math.inf, {"1": 0.1}])
def test_bad_beta(beta):
    with pytest.raises(ValueError, match="^beta"):
        NoisyTwin(mlp((2, 3, 3, 2), "tanh"), beta)


def test_bad_layers_and_replicas():
    with pytest.raises(ValueError, match="^layers"):
        NoisyTwin(mlp((2, 3, 2), "tanh"), 0.1, layers=["nope"])
    with pytest.raises(ValueError, match="^layers"):
        NoisyTwin(nn.Linear(2, 2), 0.1)
    twin = NoisyTwin(mlp((2, 3, 2), "tanh"), 0.1)
    with pytest.raises(ValueError, match="^replicas"):
        twin.propagate(torch.zeros(3, 2), 0)
    with pytest.raises(ValueError, match="^sites"):
        twin.propagate(torch.zeros(3, 2), 2, sites=["T9"])


def test_a_twin_leaves_the_model_alone():
    """model(x) is bit-identical before a twin exists, after building one, and after running it (noisy,
    traced, propagated, deterministic); the model carries no hooks afterwards."""
    model = mlp((12, 10, 7, 5, 2), "tanh", seed=3)
    x = torch.randn(64, 12, generator=torch.Generator().manual_seed(0))
    before = model(x).detach().clone()
    twin = NoisyTwin(model, 0.1)
    assert torch.equal(model(x), before)
    noisy = twin(x)
    assert not torch.equal(noisy, before)  # the twin itself is noisy
    twin.trace(x, generator=torch.Generator().manual_seed(1))
    twin.propagate(x, 3, generator=0)
    with twin.deterministic():
        assert torch.equal(twin(x), before)  # noise off = the deterministic network
    assert torch.equal(model(x), before)
    assert all(not m._forward_hooks for m in model.modules())


def test_a_twin_removes_its_sites_when_the_forward_raises():
    model = mlp((3, 4, 2), "tanh", seed=0)
    twin = NoisyTwin(model, 0.1)
    with pytest.raises(RuntimeError):
        twin(torch.zeros(2, 5))  # wrong width: the model raises inside the twin's forward
    assert all(not m._forward_hooks for m in model.modules())


def test_two_twins_of_one_model_run_interleaved_with_their_own_beta():
    """A beta sweep on one model: each twin's noise has its own std (not stacked: std 0.5 stays 0.5, the
    stacked noise of two twins would have std sqrt(0.5^2 + 0.01^2) in a second pass, or 0.5 * sqrt 2)."""
    model = mlp((3, 4, 4, 2), "tanh", seed=1)
    small, large = NoisyTwin(model, 0.01), NoisyTwin(model, 0.5)
    x = torch.randn(20000, 3, generator=torch.Generator().manual_seed(0))
    s1 = torch.tanh(x @ model[0].weight.detach().T + model[0].bias.detach())
    for twin, beta in [(small, 0.01), (large, 0.5), (small, 0.01), (large, 0.5)]:
        tr = twin.trace(x, generator=torch.Generator().manual_seed(2))
        assert torch.equal(tr.nodes["T1"]["fn"].base_dist.loc, s1)  # one site, on the model's own S_1
        z = (tr.nodes["T1"]["value"] - s1).detach()
        # std of 80000 N(0, beta^2) draws: within 1.5% of beta (about 6 standard errors)
        assert abs(float(z.std()) / beta - 1.0) < 0.015
    assert small.propagate(x[:5], 2, generator=0)["T2"].shape == (5, 2, 4)
    assert large.propagate(x[:5], 2, generator=0)["T2"].shape == (5, 2, 4)


@pytest.mark.parametrize("beta, error", [(True, TypeError), ("0.1", TypeError), (1e-300, ValueError),
                                         (1e300, ValueError), (math.nan, ValueError)])
def test_beta_must_be_a_usable_standard_deviation(beta, error):
    with pytest.raises(error, match="^beta"):
        NoisyTwin(mlp((2, 3, 2), "tanh"), beta)


@pytest.mark.parametrize("x", [torch.zeros(3, 2, dtype=torch.float64), torch.zeros(3, 2, device="meta"),
                               torch.zeros(0, 2), [[0.0, 0.0]]])
def test_propagate_names_x_when_the_model_cannot_take_it(x):
    twin = NoisyTwin(mlp((2, 3, 3, 2), "tanh"), 0.1)
    with pytest.raises((ValueError, TypeError), match="^x"):
        twin.propagate(x, 2)
    with pytest.raises((ValueError, TypeError), match="^x"):
        twin.representations(x)
