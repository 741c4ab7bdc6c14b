"""Quantization-aware training of the MLP, for exact information planes (Lorenzen, Igel & Nielsen, ICLR 2022,
"Information Bottleneck: Exact Analysis of (Quantized) Neural Networks"; docs/theory.md, section 9).

Every hidden activation is followed by a :class:`Quantize` module that maps it onto 2^b equally spaced levels
of a range [low, high]. With the inputs X uniform over the m data points and the network evaluated with its
quantizers frozen (``model.eval()``), every hidden representation T_l is a deterministic function of X taking
finitely many values, so

    I(X;T_l) = H(T_l),        I(T_l;Y) = H(T_l) + H(Y) - H(T_l, Y)

are finite sums over the m inputs: exact, with no binning and no density estimate
(:func:`estimators.baselines.discrete_mutual_information`; :func:`quantized_information` does it per layer).

Straight-through gradients: the forward pass uses the quantized value q(a); the backward pass treats the
rounding as the identity on [low, high] and as a constant outside it,

    d q / d a := 1 if low <= a <= high else 0,

the clipped straight-through estimator of fake quantization (Bengio, Leonard & Courville 2013; Jacob et al.,
CVPR 2018; TensorFlow's ``fake_quant_with_min_max_vars``, which Lorenzen et al.'s code uses). The quantizer
follows the activation, so the gradient with respect to the pre-activation u is the activation's own
derivative times that indicator: tanh'(u) = 1 - tanh(u)^2 for tanh (whose outputs never leave [-1, 1]),
1{u > 0} 1{u <= high} for ReLU.

Differences from Lorenzen et al.'s code, on purpose: (1) tanh is quantized on the fixed range [-1, 1], not on
each batch's [min, max], so that an input's code depends on that input alone (T = f(X), which the exact
formulas need) and codes compare across batches and epochs; (2) weights are not quantized (only activations,
which is what the exact MI needs); (3) the output layer is not quantized. For ReLU the upper end of the range
is set by the first forward pass and then tracked during training as an exponential moving average of the
batch maxima (their ``MovingAverageQuantizer``; here low = 0 is fixed) and frozen in eval mode; values above
it are clipped, and every clip is counted (:attr:`Quantize.n_clipped`), never silent.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch import nn

from estimators import MIEstimate
from estimators.baselines import discrete_mutual_information
from noisynet.models import ACTIVATIONS, mlp

# the quantizer range per activation: (low, high); high None = tracked (running average of batch maxima)
ACTIVATION_RANGES: dict[str, tuple[float, float | None]] = {"tanh": (-1.0, 1.0), "sigmoid": (0.0, 1.0),
                                                            "relu": (0.0, None)}
MAX_BITS = 16
DEGENERATE_WIDTH = 1e-6  # a tracked range with max <= low (a dead layer) is widened to [low, low + this]


class _StraightThrough(torch.autograd.Function):
    """q = low + step * floor((clamp(a) - low) / step + 1/2); gradient 1 on [low, high], 0 outside."""

    @staticmethod
    def forward(ctx, a: torch.Tensor, low: float, high: float, top: int) -> torch.Tensor:
        inside = (a >= low) & (a <= high)
        ctx.save_for_backward(inside)
        step = (high - low) / top
        k = torch.floor((a.clamp(low, high) - low) / step + 0.5).clamp(0, top)
        return low + k * step

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (inside,) = ctx.saved_tensors
        return grad * inside.to(grad.dtype), None, None, None


class Quantize(nn.Module):
    """Quantize activations onto 2^bits equally spaced levels of [low, high] with straight-through gradients
    (Lorenzen, Igel & Nielsen, ICLR 2022; see the module docstring for the gradient).

    Levels: low + k * step, k = 0 .. 2^bits - 1, step = (high - low) / (2^bits - 1), evaluated in the input's
    dtype (:meth:`levels`); each value goes to the nearest level (halfway goes up), the rule of
    :func:`estimators.baselines.quantize`. Values outside [low, high] are clipped to the nearest end and
    counted: :attr:`n_clipped` (last forward call) and the buffer ``clipped_total`` (since construction).

    Args:
        bits: integer in 1 .. 16.
        low: finite lower end of the range (-1 for tanh, 0 for ReLU and sigmoid).
        high: finite upper end > low, or None to track it: the first forward pass (training or eval) sets it
            to that batch's maximum; then, in training mode only, high <- (1 - momentum) high + momentum max
            (an exponential moving average of the batch maxima); in eval mode it is frozen. A tracked
            high <= low (every value at or below low, e.g. a dead ReLU layer) is widened to low + 1e-6.
        momentum: in (0, 1], the weight of a new batch maximum (tracked range only).

    Shapes: input Tensor (batch, ...) float; output the same shape and dtype, every entry one of the levels.

    Raises:
        ValueError: bits not in 1 .. 16; low/high not finite or high <= low; momentum not in (0, 1];
            NaN in the input (names ``input``).
        TypeError: non-integer bits.
    """

    def __init__(self, bits: int, low: float, high: float | None = None, *, momentum: float = 0.01) -> None:
        super().__init__()
        if isinstance(bits, bool) or not isinstance(bits, int):
            raise TypeError(f"bits: got {bits!r}, expected an integer in 1 .. {MAX_BITS}")
        if not 1 <= bits <= MAX_BITS:
            raise ValueError(f"bits: got {bits}, expected an integer in 1 .. {MAX_BITS}")
        low = float(low)
        if not math.isfinite(low):
            raise ValueError(f"low: got {low!r}, expected a finite number")
        if high is not None:
            high = float(high)
            if not (math.isfinite(high) and high > low):
                raise ValueError(f"high: got {high!r}, expected a finite number > low = {low:g}, or None (tracked)")
        momentum = float(momentum)
        if not 0.0 < momentum <= 1.0:
            raise ValueError(f"momentum: got {momentum!r}, expected a number in (0, 1]")
        self.bits, self.low, self.fixed_high, self.momentum = bits, low, high, momentum
        self.register_buffer("running_high", torch.tensor(math.nan, dtype=torch.float64))
        self.register_buffer("clipped_total", torch.tensor(0, dtype=torch.int64))
        self.n_clipped = 0

    @property
    def high(self) -> float:
        """The upper end in use: the fixed one, or the tracked one (NaN before the first forward pass)."""
        if self.fixed_high is not None:
            return self.fixed_high
        h = float(self.running_high)
        return max(h, self.low + DEGENERATE_WIDTH) if math.isfinite(h) else h

    def levels(self, dtype: torch.dtype = torch.float64) -> torch.Tensor:
        """The 2^bits levels (2^bits,) in ``dtype``, computed as the forward pass computes them.

        Raises:
            ValueError: a tracked range before any forward pass has set it.
        """
        high = self._high_or_raise()
        top = 2**self.bits - 1
        step = (high - self.low) / top
        return self.low + torch.arange(top + 1, dtype=dtype) * step

    def _high_or_raise(self) -> float:
        high = self.high
        if not math.isfinite(high):
            raise ValueError("input: the tracked range is not set yet; run a forward pass first")
        return high

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        if torch.isnan(a).any():
            raise ValueError(f"input: got {int(torch.isnan(a).sum())} NaN entries, expected numbers")
        if self.fixed_high is None:
            h = float(self.running_high)
            if self.training or not math.isfinite(h):
                batch_max = float(a.detach().max())
                new = batch_max if not math.isfinite(h) else (1 - self.momentum) * h + self.momentum * batch_max
                self.running_high.fill_(new)
        high = self._high_or_raise()
        outside = int(((a < self.low) | (a > high)).sum())
        self.n_clipped = outside
        self.clipped_total += outside
        return _StraightThrough.apply(a, self.low, high, 2**self.bits - 1)

    def extra_repr(self) -> str:
        high = "tracked" if self.fixed_high is None else f"{self.fixed_high:g}"
        return f"bits={self.bits}, low={self.low:g}, high={high}"


def quantized_mlp(widths: Sequence[int], activation: str = "tanh", bits: int = 8, *, seed: int | None = None,
                  momentum: float = 0.01) -> nn.Sequential:
    """The MLP of :func:`noisynet.models.mlp` with a :class:`Quantize` after every hidden activation.

    The linear layers are initialised exactly as ``mlp(widths, activation, seed=seed)`` (same seed, same
    weights: a quantization-aware twin of the noisy twin's network). The quantizer range follows the
    activation: [-1, 1] for tanh, [0, 1] for sigmoid, [0, tracked maximum] for ReLU (see :class:`Quantize`).
    The output logits are not quantized.

    Args:
        widths: layer widths from input to output, e.g. (12, 10, 7, 5, 4, 3, 2) for SZT.
        activation: "tanh", "relu" or "sigmoid".
        bits: quantizer bits b (2^b levels), 1 .. 16; Lorenzen et al. use 4 and 8.
        seed: initialisation seed (as :func:`noisynet.models.mlp`).
        momentum: tracked-range momentum (ReLU).

    Returns:
        nn.Sequential Linear, act, Quantize, Linear, act, Quantize, ..., Linear (float32); the quantizers'
        names are :func:`quantizer_names` of it.

    Raises:
        ValueError: bad widths; activation "linear" (unbounded both ways: no range to quantize) or unknown;
            bad bits (see :class:`Quantize`).
    """
    if activation not in ACTIVATION_RANGES:
        raise ValueError(f"activation: got {activation!r}, expected one of {sorted(ACTIVATION_RANGES)} "
                         f"('linear' has no bounded side to quantize on)")
    low, high = ACTIVATION_RANGES[activation]
    base = mlp(widths, activation, seed=seed)
    layers: list[nn.Module] = []
    for module in base:
        layers.append(module)
        if isinstance(module, ACTIVATIONS[activation]):
            layers.append(Quantize(bits, low, high, momentum=momentum))
    return nn.Sequential(*layers)


class DeterministicModel(nn.Module):
    """A plain network with the interface :class:`noisynet.training.Trainer` expects of a twin, and no noise
    sites: ``Trainer(DeterministicModel(quantized_mlp(...)), ..., noise=False)`` trains it with the same
    batch order, optimiser and evaluation as a noisy twin trained from the same seed.

    Args:
        model: any torch module (its weights are shared, not copied).
    """

    site_names: list[str] = []

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    @contextlib.contextmanager
    def deterministic(self) -> Iterator[None]:
        """No noise to switch off: a no-op context."""
        yield


def quantizer_names(model: nn.Module) -> list[str]:
    """Names (as in ``model.named_modules()``) of the :class:`Quantize` modules of ``model``, in forward order."""
    return [name for name, mod in model.named_modules() if isinstance(mod, Quantize)]


@torch.no_grad()
def quantized_codes(model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """The quantized representation of every :class:`Quantize` layer, in eval mode (frozen ranges).

    Args:
        model: a plain network containing Quantize modules (e.g. from :func:`quantized_mlp`, or its
            :class:`DeterministicModel`); not a NoisyTwin, whose noise hooks would alter the outputs.
        x: Tensor (m, ...) float inputs, each once.

    Returns:
        {"T1": Tensor (m, d_1), "T2": ...}: the quantizers' outputs, flattened after the batch dimension,
        in forward order, dtype of the model. The model's train/eval mode is restored.

    Raises:
        ValueError: the model has no Quantize module.
    """
    names = quantizer_names(model)
    if not names:
        raise ValueError("model: got no Quantize modules, expected a quantized network (see quantized_mlp)")
    modules = dict(model.named_modules())
    out: dict[str, torch.Tensor] = {}
    hooks = [modules[n].register_forward_hook(
        lambda mod, inp, res, key=f"T{i + 1}": out.__setitem__(key, res.flatten(1).clone()))
        for i, n in enumerate(names)]
    was_training = model.training
    try:
        model.eval()
        model(x)
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return out


def quantized_information(model: nn.Module, x: torch.Tensor, labels: Any) -> dict[str, MIEstimate]:
    """Exact I(X;T_l) = H(T_l) and I(T_l;Y) of every quantized layer (Lorenzen, Igel & Nielsen, ICLR 2022).

    X is uniform over the m rows of ``x`` (each once); the model is evaluated in eval mode, so each T_l is a
    deterministic function of X with finitely many values and both quantities are exact finite sums
    (:func:`estimators.baselines.discrete_mutual_information`).

    Args:
        model: network with Quantize modules. x: Tensor (m, ...) inputs. labels: (m,) integer labels (>= 2
            classes).

    Returns:
        {"T1": MIEstimate (``i_xt``, ``i_ty``), ...}: Estimates in nats with zero-width intervals.

    Raises:
        ValueError: no Quantize module; labels of the wrong length or with a single class.
    """
    return {site: discrete_mutual_information(codes.double(), labels)
            for site, codes in quantized_codes(model, x).items()}
