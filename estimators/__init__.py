"""Information measures on tensors: the sample-propagation (SP) estimator and its companions.

This package knows nothing about networks or training; it depends on torch, numpy and scipy only, so it
can be called on any array of samples. Everything is in nats unless a result is converted with
``Estimate.to_bits()``.
"""

from estimators.estimate import Estimate
from estimators.mixture import GaussianMixture
from estimators.sp import sp_entropy
from estimators.protocol import Estimator, LayerData, MIEstimate
from estimators.sp_mi import SP, sp_mutual_information

__all__ = ["Estimate", "Estimator", "GaussianMixture", "LayerData", "MIEstimate", "SP", "sp_entropy",
           "sp_mutual_information"]
