"""One protocol for every estimator of I(X;T) and I(T;Y): the same input (:class:`LayerData`), the same call
(``estimator(layer, generator=...)``) and the same result (:class:`MIEstimate`).

X is uniform on the m inputs x_1..x_m (each once), T = S + Z with Z ~ N(0, beta^2 I) the layer's noise
(docs/theory.md, sections 2-3). An estimator uses what it needs of the layer: the sample-propagation (SP)
estimator the propagated samples and beta; binning the deterministic representation; KSG the inputs and
noisy draws; every one the labels for I(T;Y). What it does not give, it says so with a reason.

Everything is in nats unless converted with :meth:`MIEstimate.to_bits`.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from estimators import checks
from estimators.estimate import Estimate

QUANTITIES = ("I_XT", "I_TY")
NO_LABELS = "no labels given"
"""The reason for I(T;Y) = None of an estimator called on a layer without labels."""


@dataclass(frozen=True)
class MIEstimate:
    """I(X;T) and I(T;Y) of one layer by one estimator.

    Attributes:
        i_xt, i_ty: :class:`Estimate` (nats), or None where the estimator does not give the quantity.
        estimator: the estimator's name (e.g. "sp", "binning", "ksg").
        params: its hyperparameters (beta, bin size, k, ...), plain values.
        reasons: for each quantity that is None ("I_XT", "I_TY"), why; may also qualify one that is given
            (e.g. "a bound, not an estimate").
        terms: the entropy terms behind the values where the estimator computes them (SP: "h_t",
            "h_t_given_x", "h_t_given_y"), each an Estimate in the same unit.

    Raises:
        ValueError: a quantity is None without a reason; estimates in different units; a reason for an
            unknown quantity.
        TypeError: i_xt / i_ty / terms not Estimates.
    Examples:
        >>> import torch
        >>> from estimators import SP, LayerData
        >>> s = torch.tensor([[0.0], [1.0], [2.0]])[:, None, :].expand(3, 8, 1)  # (m, R, d): 3 separated inputs
        >>> result = SP()(LayerData(s, beta=0.05), generator=0)
        >>> result.estimator, round(result.i_xt.value, 3), result.i_ty is None, result.reasons["I_TY"]
        ('sp', 1.099, True, 'no labels given')
    """

    i_xt: Estimate | None
    i_ty: Estimate | None
    estimator: str
    params: Mapping[str, Any] = field(default_factory=dict)
    reasons: Mapping[str, str] = field(default_factory=dict)
    terms: Mapping[str, Estimate] = field(default_factory=dict)

    def __post_init__(self) -> None:
        given = {q: e for q, e in zip(QUANTITIES, (self.i_xt, self.i_ty)) if e is not None}
        for name, e in [*given.items(), *self.terms.items()]:
            if not isinstance(e, Estimate):
                raise TypeError(f"{name}: got {type(e).__name__}, expected an Estimate or None")
        for q in QUANTITIES:
            if q not in given and not self.reasons.get(q):
                raise ValueError(f"reasons: {q} is None without a reason, expected reasons[{q!r}]")
        unknown = set(self.reasons) - set(QUANTITIES)
        if unknown:
            raise ValueError(f"reasons: got keys {sorted(unknown)}, expected some of {QUANTITIES}")
        units = {e.unit for e in [*given.values(), *self.terms.values()]}
        if len(units) > 1:
            raise ValueError(f"units: got {sorted(units)}, expected one unit for every estimate")

    def get(self, quantity: str) -> Estimate | None:
        """The estimate of ``quantity`` ("I_XT" or "I_TY"), or None (see ``reasons``)."""
        if quantity not in QUANTITIES:
            raise ValueError(f"quantity: got {quantity!r}, expected one of {QUANTITIES}")
        return self.i_xt if quantity == "I_XT" else self.i_ty

    @property
    def unit(self) -> str | None:
        """The unit of the estimates ("nat" or "bit"), None when there are none."""
        for e in (self.i_xt, self.i_ty, *self.terms.values()):
            if e is not None:
                return e.unit
        return None

    def to_bits(self) -> MIEstimate:
        """The same estimates in bits (1 bit = ln 2 nats)."""
        conv = lambda e: None if e is None else e.to_bits()  # noqa: E731
        return dataclasses.replace(self, i_xt=conv(self.i_xt), i_ty=conv(self.i_ty),
                                   terms={k: e.to_bits() for k, e in self.terms.items()})


@dataclass(frozen=True)
class LayerData:
    """What the estimators of one layer may use; X uniform on the m inputs (each once).

    Attributes:
        samples: Tensor (m, R, d), float: for each input, R >= 1 pre-noise samples of S given X = x_i
            (sample propagation, :meth:`noisynet.NoisyTwin.propagate`); for a layer that is a deterministic
            function of X all R coincide. T = S + Z adds the layer's noise.
        beta: the layer's noise standard deviation (> 0; not the variance).
        labels: Tensor (m,) integer class labels, or None (then no estimator gives I(T;Y)).
        x: Tensor (m, ...) of the inputs, or None (estimators using the geometry of X need it).
        s: Tensor (m, d) deterministic representation (the network with the noise off), or None: then the
            first replica of ``samples`` where all replicas of every input coincide.

    Raises:
        ValueError: samples not (m, R, d), not finite, on the meta device or so large that squared distances
            overflow; beta not in (1.5e-154, 1.3e154) (beta^2 and 1/beta^2 finite); labels, x or s with
            another number of rows than samples (or s with another width); labels not integer classes held
            exactly by int64.
        TypeError: samples, x, s or labels not numbers (strings, for instance); beta not a number.
    """

    samples: torch.Tensor
    beta: float
    labels: torch.Tensor | None = None
    x: torch.Tensor | None = None
    s: torch.Tensor | None = None

    def __post_init__(self) -> None:
        samples = checks.samples(self.samples, "samples", rank=3, distances=True)
        m, _, d = samples.shape
        object.__setattr__(self, "samples", samples)
        object.__setattr__(self, "beta", checks.beta(self.beta, "beta"))
        if self.labels is not None:
            object.__setattr__(self, "labels", checks.labels(self.labels, "labels", length=m, min_classes=1))
        if self.x is not None:
            x = checks.as_tensor(self.x, "x")
            if x.dim() < 1 or x.shape[0] != m:
                raise ValueError(f"x: got shape {tuple(x.shape)}, expected ({m}, ...) (one row per input)")
            object.__setattr__(self, "x", x.reshape(m, -1))
        if self.s is not None:
            s = checks.samples(self.s, "s", rank=2)
            if s.shape != (m, d):
                raise ValueError(f"s: got shape {tuple(s.shape)}, expected ({m}, {d}) like samples (m, R, d)")
            object.__setattr__(self, "s", s)

    @property
    def m(self) -> int:
        return self.samples.shape[0]

    @property
    def replicas(self) -> int:
        return self.samples.shape[1]

    @property
    def dim(self) -> int:
        return self.samples.shape[2]

    def deterministic(self) -> torch.Tensor:
        """S of the network with the noise off, (m, d) float64: ``s``, or the samples where every input's
        replicas coincide.

        Raises:
            ValueError: no ``s`` and the replicas differ (the noisy twin's S is random given X)."""
        if self.s is not None:
            return self.s
        if bool((self.samples == self.samples[:, :1]).all()):
            return self.samples[:, 0]
        raise ValueError("s: got None and replicas that differ, expected the deterministic representation "
                         "(m, d) for an estimator that reads the network with the noise off")

    def noisy(self, generator: torch.Generator | int | None = None) -> torch.Tensor:
        """T = S + Z for every replica, (m, R, d) float64, the noise drawn from ``generator``."""
        gen = checks.generator(generator)
        z = torch.randn(self.samples.shape, generator=gen, dtype=torch.float64)
        return self.samples + self.beta * z

    def require(self, name: str, by: str) -> Any:
        """The attribute ``name``, or ValueError saying that estimator ``by`` needs it."""
        value = getattr(self, name)
        if value is None:
            raise ValueError(f"{name}: got None, expected it for the {by} estimator")
        return value


class Estimator(abc.ABC):
    """An estimator of I(X;T) and I(T;Y): hyperparameters are set at construction (estimators are frozen
    dataclasses), data is given at the call.

    ``estimator(layer, generator=None) -> MIEstimate`` with ``layer`` a :class:`LayerData` and
    ``generator`` a torch.Generator or int seed for whatever the estimator draws (None: fresh). ``name`` is
    the estimator's short name, :meth:`params` its hyperparameters as recorded on the result.
    """

    name: str = ""

    def params(self) -> dict[str, Any]:
        """The hyperparameters (the dataclass fields), as plain values."""
        return dataclasses.asdict(self) if dataclasses.is_dataclass(self) else {}

    @abc.abstractmethod
    def __call__(self, layer: LayerData, *, generator: torch.Generator | int | None = None) -> MIEstimate:
        """Estimate I(X;T) and I(T;Y) of ``layer`` (see the class docstring)."""
