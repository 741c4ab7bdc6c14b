"""A small four-layer CNN for the MNIST experiments of Goldfeld et al., ICML 2019 (section 6; docs/theory.md,
section 8): two convolutional and two fully connected hidden layers, then the output logits.

    conv1 (k x k, "same") -> maxpool 2 -> act1 -> conv2 -> maxpool 2 -> act2 -> flatten
          -> fc1 -> act3 -> fc2 -> act4 -> out (logits)

Pooling comes before the activation: for max pooling and a non-decreasing activation (tanh, ReLU) this is
the same function as conv -> act -> pool, but the activation module (where :class:`noisynet.NoisyTwin` puts
its noise by default) then outputs the pooled map, so the twin's sites T1..T4 are the four hidden layers
with widths c1 (H/2)(W/2), c2 (H/4)(W/4), h1, h2.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import torch
from torch import nn

from noisynet.models import ACTIVATIONS


def _pair(values: Sequence[int], name: str) -> tuple[int, int]:
    vals = tuple(int(v) for v in values)
    if len(vals) != 2 or min(vals) < 1:
        raise ValueError(f"{name}: got {tuple(values)!r}, expected two integers >= 1")
    return vals


def _shape(in_shape: Sequence[int]) -> tuple[int, int, int]:
    shape = tuple(int(v) for v in in_shape)
    if len(shape) != 3 or min(shape) < 1 or shape[1] % 4 or shape[2] % 4:
        raise ValueError(f"in_shape: got {tuple(in_shape)!r}, expected (channels, H, W) with H and W "
                         "divisible by 4 (two 2x2 poolings)")
    return shape


def cnn_layer_widths(in_shape: Sequence[int] = (1, 28, 28), channels: Sequence[int] = (8, 16),
                     hidden: Sequence[int] = (32, 10)) -> tuple[int, int, int, int]:
    """Widths d_1..d_4 of the hidden layers (the flattened outputs of act1..act4) of :func:`cnn`.

    Returns (c1 H/2 W/2, c2 H/4 W/4, h1, h2), e.g. (1568, 784, 32, 10) for MNIST with the defaults.

    Raises:
        ValueError: as :func:`cnn`.
    """
    _, h, w = _shape(in_shape)
    (c1, c2), (h1, h2) = _pair(channels, "channels"), _pair(hidden, "hidden")
    return c1 * (h // 2) * (w // 2), c2 * (h // 4) * (w // 4), h1, h2


def cnn(in_shape: Sequence[int] = (1, 28, 28), channels: Sequence[int] = (8, 16), hidden: Sequence[int] = (32, 10),
        n_classes: int = 10, *, kernel: int = 5, activation: str = "tanh", seed: int | None = None) -> nn.Sequential:
    """The four-hidden-layer CNN of the module docstring.

    Args:
        in_shape: (channels, H, W) of one input; H and W divisible by 4 (MNIST (1, 28, 28), digits (1, 8, 8)).
        channels: (c1, c2) output channels of the two convolutions.
        hidden: (h1, h2) widths of the two fully connected hidden layers.
        n_classes: number of output logits (>= 2).
        kernel: odd convolution kernel size (zero padding kernel // 2 keeps H and W).
        activation: "tanh" (default: bounded, so beta has an absolute scale, and no unit dies), "relu",
            "sigmoid" or "linear" (nn.Identity). With PyTorch's default initialisation a ReLU fc layer of
            width 10 starts with several units that no input activates, and they stay dead.
        seed: if given, initialise the weights from torch.manual_seed(seed) without touching the global RNG
            state afterwards (the same seed gives the same initialisation: a deterministic net and its twin).

    Returns:
        nn.Sequential of float32 modules named conv1, pool1, act1, conv2, pool2, act2, flatten, fc1, act3,
        fc2, act4, out; input (batch, *in_shape), output (batch, n_classes) logits. ``NoisyTwin(model, beta)``
        puts noise after act1..act4 (sites T1..T4, widths :func:`cnn_layer_widths`).

    Raises:
        ValueError: a bad in_shape, channels, hidden, n_classes, an even kernel or an unknown activation.
    """
    c0, h, w = _shape(in_shape)
    (c1, c2), (h1, h2) = _pair(channels, "channels"), _pair(hidden, "hidden")
    if int(n_classes) < 2:
        raise ValueError(f"n_classes: got {n_classes!r}, expected >= 2")
    if int(kernel) < 1 or int(kernel) % 2 == 0:
        raise ValueError(f"kernel: got {kernel!r}, expected an odd size >= 1")
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation: got {activation!r}, expected one of {sorted(ACTIVATIONS)}")
    act, pad = ACTIVATIONS[activation], int(kernel) // 2
    with torch.random.fork_rng(enabled=seed is not None):
        if seed is not None:
            torch.manual_seed(seed)
        return nn.Sequential(OrderedDict([
            ("conv1", nn.Conv2d(c0, c1, kernel, padding=pad)), ("pool1", nn.MaxPool2d(2)), ("act1", act()),
            ("conv2", nn.Conv2d(c1, c2, kernel, padding=pad)), ("pool2", nn.MaxPool2d(2)), ("act2", act()),
            ("flatten", nn.Flatten()),
            ("fc1", nn.Linear(c2 * (h // 4) * (w // 4), h1)), ("act3", act()),
            ("fc2", nn.Linear(h1, h2)), ("act4", act()),
            ("out", nn.Linear(h2, int(n_classes))),
        ]))
