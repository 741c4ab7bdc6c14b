"""sp_mutual_information against exact answers: separated, merged and overlapping inputs through one noisy
channel (quadrature), and its bad-input errors."""

import math

import numpy as np
import pytest
import torch

from estimators import sp_mutual_information
from estimators.ground_truth import merged_limit, mi_one_channel, mi_one_channel_labels


def replicate(points: torch.Tensor, r: int) -> torch.Tensor:
    """(m, d) deterministic images -> (m, R, d) identical replicas (a first layer)."""
    return points[:, None, :].expand(-1, r, -1).clone()


def test_separated_inputs_give_ln_m_and_h_y():
    m = 256
    g = torch.Generator().manual_seed(0)
    pts = torch.rand(m, 5, generator=g, dtype=torch.float64) * 2 - 1
    y = (pts[:, 0] > 0).long()
    p = float(y.double().mean())
    info = sp_mutual_information(replicate(pts, 4), 0.001, y, generator=0)
    assert info.i_xt.ci_low <= math.log(m) <= info.i_xt.ci_high
    assert abs(info.i_xt.value - math.log(m)) < 1e-6
    h_y = -(p * math.log(p) + (1 - p) * math.log(1 - p))
    assert abs(info.i_ty.value - h_y) < 1e-6
    assert info.i_xt.diagnostics["closed_form_inputs"] == m


def test_merged_groups_give_the_entropy_of_the_group_sizes():
    """Inputs mapped onto 3 well separated points with multiplicities 5, 3, 8: I(X;T) = H(5/16, 3/16, 8/16)."""
    sizes = [5, 3, 8]
    pts = torch.cat([torch.full((k, 2), float(i)) for i, k in enumerate(sizes)]).double()
    info = sp_mutual_information(replicate(pts, 8), 0.01, n_mc=8, generator=1)
    truth = merged_limit(sizes)
    assert info.i_xt.ci_low <= truth <= info.i_xt.ci_high
    assert abs(info.i_xt.value - truth) < 0.01


@pytest.mark.parametrize("spacing", [0.5, 1.0, 2.0])
def test_overlapping_inputs_match_quadrature(spacing):
    """The crossover between merged and separated, in 1-D, against adaptive quadrature: over 10 seeds
    the 95% intervals cover (at least 8 of 10; a broken estimator or interval fails this) and the mean error
    is within 3 standard errors of the mean."""
    beta = 0.1
    pts = np.array([0.0, 1.0, 2.5, 3.0, 7.0])[:, None] * spacing * beta
    y = torch.tensor([0, 0, 1, 1, 1])
    truth = mi_one_channel(pts, beta).value
    truth_y = mi_one_channel_labels(pts, y.numpy(), beta).value
    runs = [sp_mutual_information(replicate(torch.as_tensor(pts), 32), beta, y, n_query=16, n_mc=16, generator=s)
            for s in range(10)]
    assert sum(r.i_xt.contains(truth) for r in runs) >= 8
    assert sum(r.i_ty.contains(truth_y) for r in runs) >= 8
    err = np.mean([r.i_xt.value for r in runs]) - truth
    assert abs(err) < 3 * runs[0].i_xt.std_error / math.sqrt(10)
    assert runs[0].i_xt.half_width < 0.05


def test_spread_replicas_converge_and_cover():
    """Each input's S is Gaussian around its own point (spread comparable to beta); the inputs are far
    apart, so I(X;T) = ln m exactly, and the per-unit differences cancel the conditional terms' bias."""
    m, r, beta = 64, 32, 0.01
    g = torch.Generator().manual_seed(3)
    centres = torch.arange(m, dtype=torch.float64)[:, None].repeat(1, 2)
    s = centres[:, None, :] + 2 * beta * torch.randn(m, r, 2, generator=g, dtype=torch.float64)
    info = sp_mutual_information(s, beta, generator=3)
    assert info.i_xt.ci_low <= math.log(m) <= info.i_xt.ci_high
    assert abs(info.i_xt.value - math.log(m)) < 1e-3
    # the conditional entropy itself is under-sampled (R = 32 in 2-D at spread 2 beta): biased down, and
    # its nested-replica allowance widens its interval up to the truth, h of N(0, 5 beta^2 I_2)
    truth = math.log(2 * math.pi * math.e * 5 * beta**2)
    h = info.terms["h_t_given_x"]
    assert h.value < truth - 0.05 and h.diagnostics["drift"] > 0
    assert h.ci_low <= truth <= h.ci_high


@pytest.mark.parametrize(
    "samples, labels, kwargs, name",
    [
        (torch.zeros(4, 1, 2), None, {}, "samples"),
        (torch.zeros(4, 2), None, {}, "samples"),
        (torch.full((4, 2, 2), float("nan")), None, {}, "samples"),
        (torch.zeros(4, 2, 2), torch.zeros(4, dtype=torch.long), {}, "labels"),
        (torch.zeros(4, 2, 2), torch.tensor([0, 1, 0]), {}, "labels"),
        (torch.zeros(4, 2, 2), None, {"beta": 0.0}, "beta"),
        (torch.zeros(4, 2, 2), None, {"n_query": 3}, "n_query"),
        (torch.randn(4, 8, 2), None, {"n_query": 9}, "n_query"),
    ],
)
def test_bad_input_names_the_argument(samples, labels, kwargs, name):
    kwargs = {"beta": 0.1, **kwargs}
    with pytest.raises(ValueError, match=f"^{name}"):
        sp_mutual_information(samples, labels=labels, **kwargs)


def test_stratified_dof_is_welch_satterthwaite():
    """Equal within-stratum variances give m (R - 1) degrees of freedom; one stratum carrying all the
    variance gives R - 1; both computed by hand from the formula's two limits."""
    from estimators.convergence import stratified_dof

    m, r = 6, 8
    unit = torch.tensor([1.0, -1.0] * (r // 2), dtype=torch.float64)
    assert stratified_dof(unit.repeat(m, 1)) == pytest.approx(m * (r - 1))
    one = torch.zeros(m, r, dtype=torch.float64)
    one[2] = unit
    assert stratified_dof(one) == pytest.approx(r - 1)
    # two strata, variances 1 and 4 (scaled units): (1 + 4)^2 / (1 + 16) * (R - 1)
    two = torch.zeros(m, r, dtype=torch.float64)
    two[0], two[1] = unit, 2 * unit
    assert stratified_dof(two) == pytest.approx(25 / 17 * (r - 1))
    with pytest.raises(ValueError, match="values"):
        stratified_dof(torch.zeros(m, 1))
