"""The reduced ground-truth suite (the cases of estimators.ground_truth and the noisy-network cases of
noisynet.network_cases): the SP estimator's 95% intervals cover the truth, and the suite catches a
deliberately broken estimator (beta used as a variance; one input dropped)."""

import dataclasses
import math

import numpy as np
import pytest
import torch

from estimators import SP, LayerData, sp_entropy
from estimators.ground_truth import run_case, suite
from noisynet import network_cases

REPS = 20
FLOOR = 16  # of 20: P(X <= 15) < 2% for a correct 95% interval; a broken estimator covers ~never


@pytest.fixture(scope="module")
def cases():
    return suite("quick") + network_cases.suite("quick")


def test_quick_suite_covers_the_truth(cases):
    quantities = set()
    for case in cases:
        for r in run_case(case, REPS, seed=100):
            quantities.add(r.quantity)
            assert r.coverage * REPS >= FLOOR, (case.name, r)
            assert abs(r.bias) < 3 * r.rmse + 1e-9
            if r.rigorous_coverage is not None:
                assert r.rigorous_coverage == 1.0
    assert quantities == {"h", "I_XT", "I_TY"}


@dataclasses.dataclass(frozen=True)
class VarianceAsStd(SP):
    def __call__(self, layer, *, generator=None):
        return super().__call__(dataclasses.replace(layer, beta=layer.beta**2), generator=generator)


@dataclasses.dataclass(frozen=True)
class OneInputDropped(SP):
    def __call__(self, layer, *, generator=None):
        labels = None if layer.labels is None else layer.labels[1:]
        return super().__call__(LayerData(layer.samples[1:], layer.beta, labels=labels), generator=generator)


FAULTS = {
    "beta-as-variance": (VarianceAsStd, lambda x, beta, **kw: sp_entropy(x, beta**2, **kw)),
    "input-dropped": (OneInputDropped, lambda x, beta, *, weights=None, **kw: sp_entropy(
        x[1:], beta, weights=None if weights is None else weights[1:], **kw)),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_suite_fails_a_broken_estimator(cases, fault):
    estimator, entropy = FAULTS[fault]
    failures = [(c.name, r.quantity) for c in cases
                for r in run_case(c, 8, seed=100, estimator=estimator, entropy=entropy)
                if r.coverage * 8 < 8 * FLOOR / REPS]
    assert failures, "the reduced suite did not notice the fault"


def test_network_case_samples_come_from_the_twin():
    case = network_cases.two_layer_case(np.linspace(-1, 1, 5), 2.0, 0.0, 3.0, 0.5, 0.1, 16, labels=[0, 0, 1, 1, 0])
    layer = case.sample(0)
    assert layer.samples.shape == (5, 16, 1) and layer.samples.dtype == torch.float64
    assert case.kind == "network" and set(case.truth) == {"I_XT", "I_TY"}
    # S2 = tanh(3 T1 + 0.5) with T1 = tanh(2 x) + Z1: the replicas differ, the deterministic S2 is the noise-off net
    x = layer.x[:, 0]
    assert torch.allclose(layer.s[:, 0], torch.tanh(3.0 * torch.tanh(2.0 * x) + 0.5), atol=1e-12)
    t1 = (torch.atanh(layer.samples[..., 0]) - 0.5) / 3.0 - torch.tanh(2.0 * x)[:, None]
    assert abs(float(t1.std()) - 0.1) < 0.03  # the layer-1 noise, recovered from the replicas
    assert torch.equal(case.sample(0).samples, layer.samples) and not torch.equal(case.sample(1).samples,
                                                                                   layer.samples)
    assert math.isfinite(case.truth["I_XT"].value)
