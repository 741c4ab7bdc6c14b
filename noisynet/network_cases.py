"""Ground-truth cases that need a noisy network: samples come from sample propagation through a
:class:`noisynet.NoisyTwin` (so sample propagation itself is tested, not only the mixture entropy).

Each is an :class:`estimators.ground_truth.Case` (it draws a LayerData and knows its truths) whose law is
the two-layer noisy tanh net T1 = tanh(w1 x + b1) + Z1, S2 = tanh(w2 T1 + b2), T2 = S2 + Z2 of Goldfeld et
al. (ICML 2019), with I(X;T2) and I(T2;Y) by :func:`estimators.ground_truth.two_layer_tanh_mi` (deterministic
quadrature, independent of the estimator). :func:`suite` lists the network cases of the validation study.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from estimators import LayerData
from estimators.ground_truth import Case, two_layer_tanh_mi
from estimators.ground_truth.coverage import TWO_LAYER_NETWORK
from noisynet.twin import NoisyTwin


def two_layer_net(w1: float, b1: float, w2: float, b2: float) -> nn.Sequential:
    """The 1-D two-layer tanh network x -> tanh(w1 x + b1) -> tanh(w2 t1 + b2) (float64), for its twin; the
    read-out Linear(1, 2) gets no noise and does not enter the measured layers."""
    net = nn.Sequential(nn.Linear(1, 1), nn.Tanh(), nn.Linear(1, 1), nn.Tanh(), nn.Linear(1, 2)).double()
    with torch.no_grad():
        net[0].weight.fill_(w1), net[0].bias.fill_(b1), net[2].weight.fill_(w2), net[2].bias.fill_(b2)
    return net


def two_layer_case(xs: Any, w1: float, b1: float, w2: float, b2: float, beta: float, replicas: int, *,
                   labels: Any = None, sp: Mapping[str, Any] | None = None,
                   name: str | None = None) -> Case:
    """Layer 2 of the two-layer noisy tanh twin (both noise stds beta), X uniform on the m points ``xs``.

    Each sample: ``replicas`` pre-noise samples of S2 per input by :meth:`NoisyTwin.propagate` (seeded from
    the case's generator), the deterministic S2 (noise off) as ``s``, the input values (m, 1) as ``x``,
    ``labels``. Kind "network". Truths I(X;T2) and, with labels, I(T2;Y) in nats by
    :func:`two_layer_tanh_mi` (deterministic quadrature; the coverage study of docs/theory.md, section 6).

    Args:
        xs: (m,) input values. w1, b1, w2, b2: the weights and biases. beta: noise std (> 0) of both layers.
        replicas: R >= 1. labels: None or (m,) integer labels. sp: SP settings of the coverage study
            (default n_mc = 2). name: the table row (default: a description).

    Returns:
        :class:`estimators.ground_truth.Case` whose samples are :class:`estimators.LayerData` with samples
        (m, R, 1) float64.

    Raises:
        ValueError / TypeError: beta not a noise std (from :class:`NoisyTwin`); a bad ``replicas`` is named
            when the case is sampled (:meth:`NoisyTwin.propagate`).
    """
    xs = np.asarray(xs, dtype=np.float64).reshape(-1)
    m = len(xs)
    twin = NoisyTwin(two_layer_net(w1, b1, w2, b2), beta)
    x = torch.as_tensor(xs)[:, None]
    y = None if labels is None else torch.as_tensor(np.asarray(labels))

    def sampler(g):
        s2 = twin.propagate(x, replicas, generator=int(torch.randint(0, 2**31, (1,), generator=g)))["T2"]
        return LayerData(s2, beta, labels=y, x=x, s=twin.representations(x)["T2"])

    def truths():
        t = two_layer_tanh_mi(xs, w1, b1, w2, b2, beta, beta, labels=labels)
        return {"I_XT": t.i_xt} | ({"I_TY": t.i_ty} if labels is not None else {})

    return Case(name or f"two-layer tanh twin, layer 2, m={m}, beta={beta:g}, R={replicas}", "network", sampler,
                truths, sp={"n_mc": 2} if sp is None else sp, note="sample propagation through a NoisyTwin")


def suite(size: str = "full") -> list[Case]:
    """The network cases of the validation study: "quick" (one, for the test suite) or "full".

    Raises:
        ValueError: another size.
    """
    if size not in ("full", "quick"):
        raise ValueError(f"size: got {size!r}, expected 'full' or 'quick'")
    xs6 = np.linspace(-1.5, 1.5, 6)
    net_labels = np.array([0, 1, 1, 0, 1, 0])  # classes that overlap in T2
    quick = [two_layer_case(xs6, *TWO_LAYER_NETWORK, 0.1, 64, labels=net_labels)]  # the coverage study's network
    if size == "quick":
        return quick
    return quick + [two_layer_case(np.linspace(-2, 2, 12), 3.0, 0.0, 5.0, 0.0, 0.05, 128)]
