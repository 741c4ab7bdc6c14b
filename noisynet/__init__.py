"""Networks, their noisy twins, data, training, and measuring a twin layer by layer."""

from noisynet.flow import Clustering, LayerMeasurement, information_flow, iter_information_flow
from noisynet.models import mlp
from noisynet.training import Trainer
from noisynet.twin import NoiseOff, NoisyTwin, SeededNoise

__all__ = ["Clustering", "LayerMeasurement", "NoisyTwin", "NoiseOff", "SeededNoise", "Trainer", "information_flow", "iter_information_flow", "mlp"]
