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
