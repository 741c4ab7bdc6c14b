"""The SP entropy estimator against closed forms and quadrature (the mixture engine itself: test_mixture.py)."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from estimators import sp_entropy
from estimators.ground_truth import discrete_smoothed_entropy, gaussian_smoothed_entropy


def h_noise(d, beta):
    return 0.5 * d * math.log(2 * math.pi * math.e * beta**2)


@pytest.mark.parametrize("d, s, beta, n", [(1, 1.0, 0.5, 2000), (3, 0.5, 0.5, 3000), (5, 0.2, 0.5, 3000)])
def test_gaussian_samples_cover_the_closed_form(d, s, beta, n):
    g = torch.Generator().manual_seed(d)
    x = 0.3 + s * torch.randn(n, d, generator=g, dtype=torch.float64)
    est = sp_entropy(x, beta, n_mc=8, generator=g)
    truth = gaussian_smoothed_entropy(d, s, beta).value
    assert est.ci_low <= truth <= est.ci_high
    assert est.half_width < 0.15  # an interval, not a shrug
    assert est.diagnostics["converged"] is True


def test_coincident_centres_give_the_noise_entropy():
    x = torch.full((500, 4), 0.25, dtype=torch.float64)
    est = sp_entropy(x, 0.1, population=True, generator=0)
    assert est.ci_low <= h_noise(4, 0.1) <= est.ci_high
    assert abs(est.value - h_noise(4, 0.1)) < 0.05
    assert est.diagnostics["engine"]["n_exact_components"] == 1  # exact duplicates merged


def test_well_separated_centres_add_ln_m():
    m, d, beta = 300, 3, 0.01
    x = torch.randn(m, d, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 10
    est = sp_entropy(x, beta, population=True, generator=1)
    truth = h_noise(d, beta) + math.log(m)
    assert est.ci_low <= truth <= est.ci_high
    assert est.half_width < 0.05  # Monte Carlo only: sqrt(d / 2 / (n n_mc)) * 1.96 = 0.035


def test_smoothed_discrete_law_against_quadrature():
    pts = np.array([[-1.0], [-0.02], [0.0], [0.5], [0.51]])
    beta = 0.02
    truth = discrete_smoothed_entropy(pts, beta)
    est = sp_entropy(torch.as_tensor(pts), beta, population=True, n_mc=4000, generator=3)
    assert est.ci_low - truth.abs_error <= truth.value <= est.ci_high + truth.abs_error
    lo, hi = est.rigorous_interval()
    assert lo <= truth.value <= hi


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 40), st.integers(1, 4), st.floats(0.01, 2.0), st.integers(0, 2**31 - 1))
def test_sandwich(n, d, beta, seed):
    """h(Z) <= h_SP <= h(Z) + ln n for any centres (docs/theory.md, section 4), up to Monte Carlo error."""
    x = torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    est = sp_entropy(x, beta, population=True, n_mc=64, generator=seed)
    slack = 5 * est.std_error + 1e-9
    assert h_noise(d, beta) - slack <= est.value <= h_noise(d, beta) + math.log(n) + slack


def test_reproducible_from_the_seed():
    x = torch.randn(200, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert sp_entropy(x, 0.1, generator=5).value == sp_entropy(x, 0.1, generator=5).value


def test_too_small_a_sample_is_flagged_and_its_interval_widened():
    """n far below e^d: the nested subsamples still rise, so the result says so and the interval reaches
    the maximum-entropy bound, which covers the truth."""
    d, s, beta = 10, 1.0, 0.3
    x = torch.randn(400, d, generator=torch.Generator().manual_seed(2), dtype=torch.float64) * s
    est = sp_entropy(x, beta, generator=2)
    truth = gaussian_smoothed_entropy(d, s, beta).value
    assert est.value < truth - 1.0  # the plug-in bias is large here
    assert est.diagnostics["converged"] is False
    assert est.ci_low <= truth <= est.ci_high


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"samples": torch.zeros(10, 2), "beta": 0.0}, "beta"),
        ({"samples": torch.zeros(10, 2), "beta": -1.0}, "beta"),
        ({"samples": torch.zeros(10, 2), "beta": float("nan")}, "beta"),
        ({"samples": torch.tensor([[0.0, float("nan")]] * 10), "beta": 1.0}, "samples"),
        ({"samples": torch.tensor([[0.0, float("inf")]] * 10), "beta": 1.0}, "samples"),
        ({"samples": torch.zeros(10), "beta": 1.0}, "samples"),
        ({"samples": torch.zeros(10, 2, 2), "beta": 1.0}, "samples"),
        ({"samples": torch.zeros(5, 2), "beta": 1.0}, "samples"),
        ({"samples": torch.zeros(10, 2), "beta": 1.0, "n_mc": 1}, "n_mc"),
        ({"samples": torch.zeros(10, 2), "beta": 1.0, "weights": torch.ones(10)}, "weights"),
        ({"samples": torch.zeros(10, 2), "beta": 1.0, "weights": torch.ones(9), "population": True}, "weights"),
    ],
)
def test_bad_input_names_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=f"^{name}"):
        sp_entropy(**kwargs)
