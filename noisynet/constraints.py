"""Weight constraints applied after each optimiser step: the Parseval retraction.

Cisse, Bojanowski, Grave, Dauphin, Usunier, *Parseval Networks: Improving Robustness to Adversarial
Examples*, ICML 2017 (arXiv:1704.08847), section 4.1: after every gradient step each constrained weight
matrix W (d_out, d_in) is pulled towards the manifold of Parseval tight frames (orthonormal rows when
d_out <= d_in) by one step of

    W <- W - alpha (W W^T W - W) = (1 + alpha) W - alpha W W^T W,

the gradient step of the penalty (alpha / 4) ||W^T W - I||_F^2. In the singular value decomposition
W = U diag(s) V^T the step keeps U and V and maps every singular value s to

    s <- s - alpha (s^3 - s) = s (1 + alpha (1 - s^2)),

whose fixed points are 0 and 1; for 0 < alpha < 1 the fixed point 1 attracts (derivative 1 - 2 alpha) every
s in (0, sqrt(1 + 1/alpha)), so repeated steps drive W W^T towards I (d_out <= d_in). With the spectral norm
of every hidden layer held near 1, weights cannot grow, tanh units cannot saturate, and the clustering that
makes I(X;T) fall (compression) is suppressed: Goldfeld et al., *Estimating Information Flow in Deep Neural
Networks*, ICML 2019, section 5 (orthonormal weights); docs/theory.md, section 8.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

DEFAULT_ALPHA = 0.01
"""Retraction step alpha of :class:`ParsevalRetraction`. Chosen so that the constraint wins against the
SZT optimiser (Adam, lr 4e-4): each step contracts the deviation |s - 1| of a singular value by the factor
(1 - 2 alpha) = 0.98, about 23% per SZT epoch of 13 steps. Measured in the default experiments.orthonormal
run: the largest |s - 1| over the hidden layers is at most 0.17 from epoch 65 on, 0.05 from epoch 1000 on and
0.018 at epoch 3000 (the unconstrained run's largest singular values reach 2 to 3)."""


def _alpha(alpha) -> float:
    try:
        a = float(alpha)
    except (TypeError, ValueError) as err:
        raise TypeError(f"alpha: got {alpha!r}, expected a number in (0, 0.5]") from err
    if not (0.0 < a <= 0.5 and math.isfinite(a)):
        raise ValueError(f"alpha: got {alpha!r}, expected a retraction step in (0, 0.5] (a contraction)")
    return a


@torch.no_grad()
def parseval_step(weight: torch.Tensor, alpha: float = DEFAULT_ALPHA) -> torch.Tensor:
    """One Parseval retraction step W - alpha (W W^T W - W) (Cisse et al. 2017, section 4.1).

    Args:
        weight: Tensor (d_out, d_in), float; a linear layer's weight (torch's ``nn.Linear.weight`` layout).
        alpha: retraction step, 0 < alpha <= 0.5 (each singular value s moves to s - alpha (s^3 - s)).

    Returns:
        a new Tensor of the same shape and dtype (``weight`` is not modified).

    Raises:
        ValueError: ``weight`` not 2-D or with NaN/inf entries; ``alpha`` outside (0, 0.5].
        TypeError: ``alpha`` not a number.
    """
    a = _alpha(alpha)
    if not isinstance(weight, torch.Tensor) or weight.dim() != 2:
        shape = tuple(weight.shape) if isinstance(weight, torch.Tensor) else type(weight).__name__
        raise ValueError(f"weight: got {shape}, expected a 2-D tensor (d_out, d_in)")
    if not bool(torch.isfinite(weight).all()):
        raise ValueError("weight: got NaN or infinite entries, expected finite weights")
    return weight - a * (weight @ weight.T @ weight - weight)


def hidden_linear_layers(model: nn.Module) -> list[str]:
    """Names of the ``nn.Linear`` modules of ``model`` that feed a hidden layer: all but the last one
    (the output layer, whose logits are left unconstrained), in ``named_modules`` order."""
    names = [name for name, mod in model.named_modules() if isinstance(mod, nn.Linear)]
    return names[:-1]


class ParsevalRetraction:
    """``after_step`` callable for :class:`noisynet.Trainer`: one Parseval retraction step on chosen linear
    layers after every optimiser step (Cisse et al. 2017; Goldfeld et al. ICML 2019, section 5).

    Args:
        alpha: retraction step, 0 < alpha <= 0.5 (default :data:`DEFAULT_ALPHA`).
        layers: names of the ``nn.Linear`` modules to constrain; default: every linear layer but the last
            (the hidden layers' weights; the output layer is free), found when first called.

    Calling it with the model updates the weights in place (biases are left free) and returns None.

    Raises:
        ValueError: ``alpha`` outside (0, 0.5]; (when called) a name that is not an ``nn.Linear`` of the model.
    """

    def __init__(self, alpha: float = DEFAULT_ALPHA, layers: Sequence[str] | None = None) -> None:
        self.alpha = _alpha(alpha)
        self.layers = None if layers is None else list(layers)

    def __call__(self, model: nn.Module) -> None:
        modules = dict(model.named_modules())
        names = hidden_linear_layers(model) if self.layers is None else self.layers
        bad = [n for n in names if not isinstance(modules.get(n), nn.Linear)]
        if bad:
            raise ValueError(f"layers: got {bad}, expected names of nn.Linear modules of the model")
        with torch.no_grad():
            for n in names:
                w = modules[n].weight
                w.copy_(parseval_step(w, self.alpha))

    def __repr__(self) -> str:
        return f"ParsevalRetraction(alpha={self.alpha:g}, layers={self.layers})"


def frame_deviation(weight: torch.Tensor) -> float:
    """max_i |s_i - 1| over the singular values s_i of ``weight`` (d_out, d_in): 0 for a Parseval tight
    frame (W W^T = I when d_out <= d_in). Unitless. Raises ValueError if ``weight`` is not 2-D."""
    if not isinstance(weight, torch.Tensor) or weight.dim() != 2:
        raise ValueError("weight: expected a 2-D tensor (d_out, d_in)")
    s = torch.linalg.svdvals(weight.detach().double())
    return float((s - 1.0).abs().max())
