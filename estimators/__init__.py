"""Information measures on tensors: the sample-propagation (SP) estimator and its companions.

This package knows nothing about networks or training; it depends on torch, numpy and scipy only, so it
can be called on any array of samples. Every estimator of I(X;T) and I(T;Y) -- :class:`SP` and the
baselines of :mod:`estimators.baselines` -- is an :class:`Estimator` called on a :class:`LayerData` that
returns an :class:`MIEstimate`; :func:`run_battery` runs a list of them (:func:`default_estimators`) on one
layer. Everything is in nats unless a result is converted with ``Estimate.to_bits()``.
"""

from estimators.estimate import Estimate
from estimators.mixture import GaussianMixture
from estimators.sp import sp_entropy
from estimators.protocol import Estimator, LayerData, MIEstimate
from estimators.sp_mi import SP, sp_mutual_information
from estimators.battery import default_estimators, run_battery

__all__ = ["Estimate", "Estimator", "GaussianMixture", "LayerData", "MIEstimate", "SP",
           "default_estimators", "run_battery", "sp_entropy", "sp_mutual_information"]
