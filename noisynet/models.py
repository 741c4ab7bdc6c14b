"""Deterministic networks used by the experiments. Their noisy twins come from :class:`noisynet.NoisyTwin`."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU, "linear": nn.Identity, "sigmoid": nn.Sigmoid}


def mlp(widths: Sequence[int], activation: str = "tanh", *, seed: int | None = None) -> nn.Sequential:
    """A fully connected network Linear -> act -> ... -> Linear.

    Args:
        widths: layer widths from input to output, e.g. (12, 10, 7, 5, 4, 3, 2) for SZT: the hidden layers
            are widths[1:-1], the last entry is the number of output logits.
        activation: "tanh", "relu", "linear" (an nn.Identity module, so that the twin still finds one
            activation module per hidden layer) or "sigmoid".
        seed: if given, initialise the weights from torch.manual_seed(seed) without touching the global
            RNG state afterwards.

    Returns:
        nn.Sequential of float32 layers; hidden activation modules are named "1", "3", ... by position.

    Raises:
        ValueError: fewer than 3 widths, a width < 1, or an unknown activation.
    """
    widths = [int(w) for w in widths]
    if len(widths) < 3 or min(widths) < 1:
        raise ValueError(f"widths: got {widths}, expected input, >= 1 hidden and output widths, all >= 1")
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation: got {activation!r}, expected one of {sorted(ACTIVATIONS)}")
    with torch.random.fork_rng(enabled=seed is not None):
        if seed is not None:
            torch.manual_seed(seed)
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
            layers.append(nn.Linear(a, b))
            if i < len(widths) - 2:
                layers.append(ACTIVATIONS[activation]())
        return nn.Sequential(*layers)
