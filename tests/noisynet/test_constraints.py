"""The Parseval retraction W <- W - alpha (W W^T W - W) (Cisse et al. 2017) against its closed form on the
singular values: s <- s - alpha (s^3 - s), singular vectors unchanged; fixed points 0 and 1."""

import math

import pytest
import torch
from torch import nn

from noisynet import NoisyTwin, Trainer, mlp
from noisynet.constraints import (
    ParsevalRetraction,
    frame_deviation,
    hidden_linear_layers,
    parseval_step,
)


def _random(shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.mark.parametrize("shape", [(5, 7), (7, 5), (4, 4)])
def test_one_step_maps_singular_values_by_the_cubic(shape):
    w = 0.6 * _random(shape)
    alpha = 0.1
    u, s, vh = torch.linalg.svd(w, full_matrices=False)
    expected = u @ torch.diag(s - alpha * (s**3 - s)) @ vh  # closed form: same singular vectors
    got = parseval_step(w, alpha)
    assert torch.allclose(got, expected, atol=1e-12, rtol=0)
    assert torch.equal(w, 0.6 * _random(shape))  # the input is not modified


def test_orthonormal_rows_are_a_fixed_point():
    q, _ = torch.linalg.qr(_random((7, 5)))  # (7, 5) with orthonormal columns
    w = q.T  # (5, 7): W W^T = I_5
    assert torch.allclose(w @ w.T, torch.eye(5, dtype=torch.float64), atol=1e-13)
    assert torch.allclose(parseval_step(w, 0.3), w, atol=1e-13, rtol=0)
    assert frame_deviation(w) < 1e-12


def test_repeated_steps_contract_towards_a_tight_frame_as_the_scalar_recursion_predicts():
    w = 1.3 * _random((4, 6), seed=3)
    alpha = 0.05
    s = torch.linalg.svdvals(w)
    for _ in range(200):
        w = parseval_step(w, alpha)
        s = s - alpha * (s**3 - s)  # the scalar recursion, iterated exactly
    assert torch.allclose(torch.linalg.svdvals(w), s.sort(descending=True).values, atol=1e-10, rtol=0)
    # near 1 the deviation contracts by (1 - 2 alpha) per step: after 200 steps it is tiny
    assert torch.allclose(w @ w.T, torch.eye(4, dtype=torch.float64), atol=1e-7)
    dev = frame_deviation(w)
    after = frame_deviation(parseval_step(w, alpha))
    assert after == pytest.approx((1 - 2 * alpha) * dev, rel=1e-3)


def test_retraction_touches_only_the_hidden_weights():
    model = mlp((6, 5, 4, 3), "tanh", seed=0)
    assert hidden_linear_layers(model) == ["0", "2"]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    ParsevalRetraction(0.2)(model)
    after = model.state_dict()
    for k, old in before.items():
        changed = not torch.equal(old, after[k])
        assert changed == (k in ("0.weight", "2.weight")), k
        if changed:
            assert torch.allclose(after[k], parseval_step(old, 0.2))


def test_retraction_as_after_step_keeps_weights_near_a_tight_frame():
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 2, (64, 6), generator=g).float()
    y = (x[:, 0] > 0).long()
    twin = NoisyTwin(mlp((6, 5, 4, 2), "tanh", seed=0), 0.05)
    calls = []
    retract = ParsevalRetraction(0.3)
    trainer = Trainer(twin, x, y, x, y, lr=1e-3, batch_size=16, seed=0,
                      after_step=lambda m: (calls.append(1), retract(m)))
    mods = dict(twin.model.named_modules())
    start = max(frame_deviation(mods[n].weight) for n in ("0", "2"))
    for _ in range(3):
        trainer.train_epoch()
    assert len(calls) == 3 * 4  # once per optimiser step
    end = max(frame_deviation(mods[n].weight) for n in ("0", "2"))
    assert end < 0.1 * start


@pytest.mark.parametrize("alpha", [0.0, -0.1, 0.6, math.nan, math.inf])
def test_bad_alpha(alpha):
    with pytest.raises(ValueError, match="alpha"):
        ParsevalRetraction(alpha)
    with pytest.raises(ValueError, match="alpha"):
        parseval_step(torch.eye(2), alpha)


def test_bad_weight_and_layers():
    with pytest.raises(ValueError, match="weight"):
        parseval_step(torch.ones(3), 0.1)
    with pytest.raises(ValueError, match="weight"):
        parseval_step(torch.tensor([[1.0, math.nan]]), 0.1)
    with pytest.raises(TypeError, match="alpha"):
        ParsevalRetraction("big")
    with pytest.raises(ValueError, match="layers"):
        ParsevalRetraction(0.1, layers=["1"])(nn.Sequential(nn.Linear(2, 2), nn.Tanh(), nn.Linear(2, 2)))
