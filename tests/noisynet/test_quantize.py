"""Quantization-aware training (Lorenzen, Igel & Nielsen, ICLR 2022): the quantizer's forward values against
brute-force nearest-level search, its straight-through gradient against the documented rule, and the exact
information plane of a tiny quantized net against brute-force counting of its codes (nats)."""

from __future__ import annotations

import itertools
import math
from collections import Counter

import numpy as np
import pytest
import torch
from torch import nn

from estimators.baselines import quantize
from noisynet.models import mlp
from noisynet.quantize import (
    DeterministicModel,
    Quantize,
    quantized_codes,
    quantized_information,
    quantized_mlp,
    quantizer_names,
)
from noisynet.training import Trainer


def brute_force_nearest(a: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Index of the nearest level of each value (ties: the higher level), by trying every level."""
    dist = np.abs(a[:, None] - levels[None, :])
    best = dist.min(axis=1, keepdims=True)
    return np.array([np.flatnonzero(row == b)[-1] for row, b in zip(dist, best[:, 0])])


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_forward_values_are_the_nearest_grid_level(bits, dtype):
    low, high = -1.0, 1.0
    gen = torch.Generator().manual_seed(bits)
    a = torch.cat([torch.rand(2000, generator=gen, dtype=dtype) * 2 - 1, torch.tensor([low, high], dtype=dtype)])
    quant = Quantize(bits, low, high)
    q = quant(a)
    levels = quant.levels(dtype)
    grid = low + np.arange(2**bits) * (high - low) / (2**bits - 1)  # the 2^b levels, by hand
    np.testing.assert_allclose(levels.double().numpy(), grid, rtol=0, atol=1e-15 if dtype == torch.float64 else 5e-7)
    assert q.dtype == dtype
    k = brute_force_nearest(a.double().numpy(), grid)
    assert torch.equal(q, levels[torch.as_tensor(k)])  # exactly the nearest level of the grid, bit for bit
    if dtype == torch.float64:  # the same rule as the estimators' quantize (an independent implementation)
        torch.testing.assert_close(q, quantize(a, bits, low, high), rtol=0, atol=1e-15)


def test_levels_by_hand():
    lv = Quantize(2, -1.0, 1.0).levels()
    assert lv.tolist() == pytest.approx([-1.0, -1 / 3, 1 / 3, 1.0], abs=1e-15)
    assert Quantize(8, 0.0, 2.0).levels().numel() == 256
    q = Quantize(2, -1.0, 1.0)(torch.tensor([-0.9, -0.5, 0.0, 0.6, 0.99], dtype=torch.float64))
    assert q.tolist() == pytest.approx([-1.0, -1 / 3, 1 / 3, 1 / 3, 1.0], abs=1e-15)  # 0 is halfway: goes up


def test_straight_through_gradient_is_identity_inside_and_zero_outside():
    a = torch.tensor([-1.5, -1.0, -0.3, 0.2, 0.95, 1.0, 1.2], dtype=torch.float64, requires_grad=True)
    w = torch.tensor([0.3, -1.0, 2.0, 0.7, -0.4, 1.1, 5.0], dtype=torch.float64)
    (Quantize(4, -1.0, 1.0)(a) * w).sum().backward()
    inside = torch.tensor([0, 1, 1, 1, 1, 1, 0], dtype=torch.float64)
    assert torch.equal(a.grad, w * inside)


def test_gradient_through_tanh_then_quantizer_is_the_tanh_derivative():
    u = torch.linspace(-3, 3, 41, dtype=torch.float64, requires_grad=True)
    w = torch.cos(torch.arange(41, dtype=torch.float64))
    (Quantize(4, -1.0, 1.0)(torch.tanh(u)) * w).sum().backward()
    expected = w * (1 - torch.tanh(u.detach()) ** 2)
    torch.testing.assert_close(u.grad, expected, rtol=1e-14, atol=1e-15)


def test_clipping_is_counted_never_silent():
    q = Quantize(3, 0.0, 1.0)
    out = q(torch.tensor([-0.5, 0.2, 1.0, 1.7, 3.0]))
    assert q.n_clipped == 3 and int(q.clipped_total) == 3
    assert out[0] == 0.0 and out[3] == out[4] == 1.0
    q(torch.tensor([0.5]))
    assert q.n_clipped == 0 and int(q.clipped_total) == 3


def test_tracked_range_moving_average_and_frozen_in_eval():
    q = Quantize(4, 0.0, None, momentum=0.1)
    with pytest.raises(ValueError, match="^input"):
        q.levels()
    q.train()
    q(torch.tensor([0.0, 2.0, 1.0]))
    assert q.high == pytest.approx(2.0)  # the first batch sets it
    q(torch.tensor([4.0, 0.5]))
    assert q.high == pytest.approx(0.9 * 2.0 + 0.1 * 4.0)
    q.eval()
    out = q(torch.tensor([10.0, 1.1]))
    assert q.high == pytest.approx(2.2) and q.n_clipped == 1 and out[0] == pytest.approx(2.2)
    fresh = Quantize(4, 0.0, None).eval()
    fresh(torch.tensor([0.0, 3.0]))
    assert fresh.high == pytest.approx(3.0)  # an unset range is set by the first pass, in any mode
    dead = Quantize(4, 0.0, None)
    assert dead(torch.zeros(5)).eq(0).all() and dead.high == pytest.approx(1e-6)


def test_quantized_mlp_has_the_twin_weights_and_a_quantizer_after_each_hidden_activation():
    widths = (12, 10, 7, 5, 4, 3, 2)
    net, base = quantized_mlp(widths, "tanh", 4, seed=3), mlp(widths, "tanh", seed=3)
    lin_q = [m for m in net if isinstance(m, nn.Linear)]
    lin_b = [m for m in base if isinstance(m, nn.Linear)]
    assert all(torch.equal(a.weight, b.weight) and torch.equal(a.bias, b.bias) for a, b in zip(lin_q, lin_b))
    kinds = [type(m).__name__ for m in net]
    assert kinds == ["Linear", "Tanh", "Quantize"] * 5 + ["Linear"]
    assert quantizer_names(net) == ["2", "5", "8", "11", "14"]
    relu = quantized_mlp(widths, "relu", 8)
    assert all(m.low == 0.0 and m.fixed_high is None for m in relu if isinstance(m, Quantize))


def brute_force_codes(net: nn.Sequential, x: np.ndarray) -> list[list[tuple]]:
    """Per hidden layer, the code (tuple of levels) of every input, by an explicit numpy forward pass with a
    brute-force nearest-level search."""
    layers, h, quantizers = [], x, [m for m in net if isinstance(m, Quantize)]
    linears = [m for m in net if isinstance(m, nn.Linear)]
    act = np.tanh if isinstance(net[1], nn.Tanh) else (lambda v: np.maximum(v, 0.0))
    for lin, qm in zip(linears, quantizers):
        a = act(h @ lin.weight.detach().double().numpy().T + lin.bias.detach().double().numpy())
        grid = qm.low + np.arange(2**qm.bits) * (qm.high - qm.low) / (2**qm.bits - 1)
        h = grid[brute_force_nearest(np.clip(a, qm.low, qm.high).ravel(), grid)].reshape(a.shape)
        layers.append([tuple(row) for row in h])
    return layers


def entropy_and_mi(codes: list[tuple], labels: list[int]) -> tuple[float, float]:
    """H(T) and I(T;Y) (nats) by counting codes and (code, label) pairs."""
    m = len(codes)
    n_t, n_y, n_ty = Counter(codes), Counter(labels), Counter(zip(codes, labels))
    h = -sum(c / m * math.log(c / m) for c in n_t.values())
    mi = sum(c / m * math.log((c / m) / (n_t[t] / m * n_y[y] / m)) for (t, y), c in n_ty.items())
    return h, mi


@pytest.mark.parametrize("activation,bits", [("tanh", 2), ("tanh", 3), ("relu", 2)])
def test_exact_information_of_a_tiny_quantized_net_equals_brute_force_counting(activation, bits):
    net = quantized_mlp((4, 3, 3, 2), activation, bits, seed=1).double()
    with torch.no_grad():
        for m in net:
            if isinstance(m, nn.Linear):
                m.weight.mul_(3.0)  # spread the pre-activations so that codes neither all merge nor all differ
    x = torch.tensor(list(itertools.product([0.0, 1.0], repeat=4)), dtype=torch.float64)
    y = torch.tensor([int(r.sum()) % 2 for r in x])  # parity labels, 8 per class
    if activation == "relu":
        quantized_codes(net, x)  # sets the tracked ranges (first pass), as a measurement does
    info = quantized_information(net, x, y)
    expected = brute_force_codes(net, x.numpy())
    n_codes = []
    for (site, point), codes in zip(info.items(), expected):
        h, mi = entropy_and_mi(codes, y.tolist())
        assert point.i_xt.value == pytest.approx(h, abs=1e-12)
        assert point.i_ty.value == pytest.approx(mi, abs=1e-12)
        assert point.i_xt.ci_low == point.i_xt.ci_high == point.i_xt.value  # exact: zero-width interval
        n_codes.append(len(set(codes)))
    assert any(1 < k < 16 for k in n_codes)  # a non-trivial case: some inputs share a code, not all


def test_deterministic_model_trains_with_the_trainer_and_stays_on_the_grid():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(96, 4, generator=gen)
    y = (x[:, 0] > x[:, 1]).long()
    net = quantized_mlp((4, 6, 3, 2), "tanh", 4, seed=0)
    before = [p.detach().clone() for p in net.parameters()]
    trainer = Trainer(DeterministicModel(net), x[:64], y[:64], x[64:], y[64:], lr=1e-2, batch_size=16, noise=False)
    losses = [trainer.train_epoch() for _ in range(3)]
    assert all(math.isfinite(v) for v in losses)
    assert any(not torch.equal(a, b) for a, b in zip(before, net.parameters()))  # straight-through: it learns
    levels = set(Quantize(4, -1.0, 1.0).levels(torch.float32).tolist())
    for codes in quantized_codes(net, x).values():
        assert set(codes.flatten().tolist()) <= levels
    assert 0.0 <= trainer.evaluate()["test_acc"] <= 1.0


@pytest.mark.parametrize(
    "call,name,exc",
    [
        (lambda: Quantize(0, -1, 1), "bits", ValueError),
        (lambda: Quantize(17, -1, 1), "bits", ValueError),
        (lambda: Quantize(4.0, -1, 1), "bits", TypeError),
        (lambda: Quantize(4, 1.0, 0.5), "high", ValueError),
        (lambda: Quantize(4, float("nan"), 1.0), "low", ValueError),
        (lambda: Quantize(4, 0.0, None, momentum=0.0), "momentum", ValueError),
        (lambda: Quantize(4, -1, 1)(torch.tensor([0.1, float("nan")])), "input", ValueError),
        (lambda: quantized_mlp((3, 2, 2), "linear", 4), "activation", ValueError),
        (lambda: quantized_codes(mlp((3, 2, 2)), torch.zeros(2, 3)), "model", ValueError),
    ],
)
def test_bad_input_names_the_argument(call, name, exc):
    with pytest.raises(exc, match=rf"^{name}\b"):
        call()
