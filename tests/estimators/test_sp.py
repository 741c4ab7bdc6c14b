"""The SP entropy estimator against closed forms, a float64 direct-difference reference, and its own bounds."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import logsumexp

from estimators import GaussianMixture, sp_entropy
from estimators.ground_truth import discrete_smoothed_entropy, gaussian_smoothed_entropy


def h_noise(d, beta):
    return 0.5 * d * math.log(2 * math.pi * math.e * beta**2)


def reference_log_g(centres: np.ndarray, queries: np.ndarray, beta: float) -> np.ndarray:
    """ln g by direct differences in float64, one query at a time (no expansion, no truncation)."""
    n, d = centres.shape
    out = np.empty(len(queries))
    for i, q in enumerate(queries):
        sq = ((q - centres) ** 2).sum(1)
        out[i] = logsumexp(-sq / (2 * beta**2)) - math.log(n) - 0.5 * d * math.log(2 * math.pi * beta**2)
    return out


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


@pytest.mark.parametrize("method", ["dense", "truncated", "clustered"])
def test_small_beta_engine_matches_float64_reference_within_its_bounds(method):
    """beta = 0.005, coordinates in [-1, 1] with near and far neighbours: every path agrees with a direct
    float64 computation to within the bounds it reports, and the bounds are small."""
    g = torch.Generator().manual_seed(7)
    base = torch.rand(300, 4, generator=g, dtype=torch.float64) * 2 - 1
    centres = torch.cat([base, base + 0.004 * torch.randn(300, 4, generator=g, dtype=torch.float64)])
    centres = centres.clamp(-1, 1)
    beta = 0.005
    mix = GaussianMixture(centres, beta, method=method)
    owner = torch.arange(0, 600, 3)
    z = beta * torch.randn(owner.numel(), 4, generator=g, dtype=torch.float64)
    out = mix.log_density(owner, z)
    ref = reference_log_g(centres.numpy(), (centres[owner] + z).numpy(), beta)
    v, above, below = out.values[:, 0].numpy(), out.above[:, 0].numpy(), out.below[:, 0].numpy()
    assert np.all(ref <= v + above + 1e-12) and np.all(ref >= v - below - 1e-12)
    assert np.abs(v - ref).max() < 1e-6 and above.max() <= 1e-3


def test_float32_centres_near_saturation_are_merged_with_a_bound():
    """Saturated tanh units in float32 give centres 1 ulp apart: merged, with the change bounded."""
    g = torch.Generator().manual_seed(0)
    x = torch.tanh(8 * torch.randn(4000, 3, generator=g)).double()  # many 1 - 6e-8 and 1.0 values
    mix = GaussianMixture(x, 0.005)
    owner = torch.arange(0, 4000, 7)
    z = 0.005 * torch.randn(owner.numel(), 3, generator=g, dtype=torch.float64)
    out = mix.log_density(owner, z)
    ref = reference_log_g(x.numpy(), (x[owner] + z).numpy(), 0.005)
    assert np.all(np.abs(out.values[:, 0].numpy() - ref) <= torch.maximum(out.above, out.below)[:, 0].numpy() + 1e-12)


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


@pytest.mark.parametrize("method", ["dense", "truncated", "clustered", "auto"])
def test_every_path_within_its_bounds_on_a_tight_cluster_and_a_sparse_cloud(method):
    """1500 centres inside a few beta (owners with hundreds of neighbours: ball queries past the 16
    nearest) and 1500 spread over the cube, three weight columns, a small memory budget (chunking)."""
    g = torch.Generator().manual_seed(0)
    beta = 0.005
    c = torch.cat([0.01 * torch.randn(1500, 3, generator=g, dtype=torch.float64),
                   torch.rand(1500, 3, generator=g, dtype=torch.float64) * 2 - 1])
    mix = GaussianMixture(c, beta, torch.ones(3000, 3), method=method, memory_mb=8)
    owner = torch.arange(0, 3000, 3)
    z = beta * torch.randn(owner.numel(), 3, generator=g, dtype=torch.float64)
    out = mix.log_density(owner, z)
    ref = reference_log_g(c.numpy(), (c[owner] + z).numpy(), beta)
    for col in range(3):  # equal columns: the same mixture three times
        v, a, b = (t[:, col].numpy() for t in (out.values, out.above, out.below))
        assert np.all(ref <= v + a + 1e-12) and np.all(ref >= v - b - 1e-12)
        assert a.max() <= 1e-3


@pytest.mark.parametrize("method", ["truncated", "auto"])
def test_owner_groups_of_every_size_within_their_bounds(method):
    """The grouped list path: owners with 1 to 60 queries (every power-of-two bucket), lists of 1, a few,
    dozens and hundreds of neighbours (all three tiers and the ball queries), two weight columns, one of
    them zero on half the centres; every value within its bounds of a float64 direct-difference sum."""
    g = torch.Generator().manual_seed(3)
    beta, d = 0.005, 4
    c = torch.cat([0.006 * torch.randn(300, d, generator=g, dtype=torch.float64),  # hundreds within the radius
                   0.5 + 0.02 * torch.randn(40, d, generator=g, dtype=torch.float64),  # dozens
                   (torch.rand(30, 1, d, generator=g, dtype=torch.float64) * 2 - 1
                    + 0.01 * torch.randn(30, 4, d, generator=g, dtype=torch.float64)).reshape(120, d),  # a few
                   torch.rand(300, d, generator=g, dtype=torch.float64) * 2 - 1])  # isolated
    n = c.shape[0]
    w = torch.stack([torch.ones(n), (torch.arange(n) % 2).double()], 1)
    mix = GaussianMixture(c, beta, w, method=method, memory_mb=1)
    owner = torch.cat([torch.full((1 + int(i) % 60,), int(i)) for i in torch.randperm(n, generator=g)[:200]])
    z = beta * torch.randn(owner.numel(), d, generator=g, dtype=torch.float64)
    out = mix.log_density(owner, z)
    q = (c[owner] + z).numpy()
    sq = ((q[:, None, :] - c.numpy()[None]) ** 2).sum(2) / (2 * beta**2)
    log_norm = -0.5 * d * math.log(2 * math.pi * beta**2)
    for col in range(2):
        wc = w[:, col].numpy() / w[:, col].sum().item()
        with np.errstate(divide="ignore"):
            ref = logsumexp(np.log(wc)[None] - sq, axis=1) + log_norm
        own = wc[owner.numpy()] > 0  # the bounds are promised where the owner has weight in the column
        v, a, b = (t[:, col].numpy()[own] for t in (out.values, out.above, out.below))
        assert own.sum() > 1000
        assert np.all(ref[own] <= v + a + 1e-12) and np.all(ref[own] >= v - b - 1e-12)
        assert a.max() <= 1e-3 and np.abs(v - ref[own]).max() < 1e-3
