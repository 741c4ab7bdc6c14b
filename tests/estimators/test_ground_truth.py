"""Tests of estimators.ground_truth against independent closed forms, limits, brute-force grids and each
other (1-D quad against the Gauss-Hermite decomposition; 2-D against 1-D reductions)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from estimators.ground_truth import (
    SingleNeuronMI,
    Truth,
    coincident_limit,
    discrete_smoothed_entropy,
    entropy_of_weights,
    gaussian_entropy,
    gaussian_mixture_smoothed_entropy,
    gaussian_smoothed_entropy,
    merged_limit,
    mi_one_channel,
    mi_one_channel_labels,
    noise_entropy,
    separated_limit,
    single_neuron_mi,
    spiral_points,
    two_layer_tanh_mi,
)

LN4 = math.log(4.0)
HB_QUARTER = -(0.25 * math.log(0.25) + 0.75 * math.log(0.75))  # h_b(1/4) = 0.5623 nats


def h_noise(d: int, beta: float) -> float:
    return 0.5 * d * math.log(2 * math.pi * math.e * beta**2)


def agree(a: Truth, b: Truth, slack: float = 0.0) -> bool:
    return abs(a.value - b.value) <= a.abs_error + b.abs_error + slack


def rotate(points: np.ndarray, angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return points @ np.array([[c, -s], [s, c]]).T


# ---------------------------------------------------------------------------------------------- closed forms


def test_gaussian_smoothed_entropy_closed_form():
    t = gaussian_smoothed_entropy(3, 0.4, 0.3)
    assert t.value == pytest.approx(1.5 * math.log(2 * math.pi * math.e * 0.25), rel=1e-15)
    assert t.abs_error == 0.0
    assert gaussian_smoothed_entropy(2, 0.0, 0.1).value == pytest.approx(h_noise(2, 0.1), rel=1e-15)
    assert noise_entropy(1, 0.05).value == pytest.approx(h_noise(1, 0.05), rel=1e-15)


def test_gaussian_entropy_full_covariance():
    cov = np.array([[2.0, 0.6], [0.6, 1.0]])
    expected = 0.5 * math.log(np.linalg.det(2 * math.pi * math.e * cov))
    assert gaussian_entropy(cov).value == pytest.approx(expected, rel=1e-14)
    iso = gaussian_entropy((0.4**2 + 0.3**2) * np.eye(3))
    assert iso.value == pytest.approx(gaussian_smoothed_entropy(3, 0.4, 0.3).value, rel=1e-14)
    assert gaussian_entropy(0.25).value == pytest.approx(h_noise(1, 0.5), rel=1e-14)


@pytest.mark.parametrize(
    "cov, match",
    [(np.ones((2, 3)), "cov"), ([[1.0, 0.5], [0.0, 1.0]], "symmetric"), ([[1.0, 2.0], [2.0, 1.0]], "definite"),
     ([[np.nan]], "cov")],
)
def test_gaussian_entropy_rejects_bad_covariance(cov, match):
    with pytest.raises(ValueError, match=match):
        gaussian_entropy(cov)


# ------------------------------------------------------------------------------------ discrete, closed forms


@pytest.mark.parametrize("method", ["quad", "hermite"])
@pytest.mark.parametrize("d", [1, 2])
def test_single_point_equals_noise_entropy(method, d):
    if d == 2 and method == "quad":
        beta = 0.3  # the nested 2-D quad is slow at small beta
    else:
        beta = 1e-3
    t = discrete_smoothed_entropy(np.full((1, d), 0.37), beta, method=method)
    assert abs(t.value - h_noise(d, beta)) <= t.abs_error + 1e-13
    assert t.abs_error < 1e-9


def test_single_point_auto_is_exact_and_coincident_points_merge():
    t = discrete_smoothed_entropy([[0.2]], 0.01)
    assert t.value == h_noise(1, 0.01) and t.abs_error == 0.0
    merged = discrete_smoothed_entropy([[0.5], [0.5], [0.5]], 0.01, weights=[0.2, 0.3, 0.5])
    assert merged.value == pytest.approx(h_noise(1, 0.01), abs=1e-15)
    assert mi_one_channel([[0.1, 0.2], [0.1, 0.2]], 0.05).value == pytest.approx(coincident_limit(), abs=1e-15)


@pytest.mark.parametrize("k", [2, 5, 16])
def test_far_apart_points_add_ln_k(k):
    beta = 0.01
    points = 100 * beta * np.arange(k)
    t = discrete_smoothed_entropy(points, beta)
    assert t.value == pytest.approx(h_noise(1, beta) + math.log(k), abs=1e-9)
    assert mi_one_channel(points, beta).value == pytest.approx(separated_limit(k), abs=1e-9)


def test_far_apart_weighted_points_add_entropy_of_weights():
    w = np.array([0.1, 0.2, 0.3, 0.4])
    t = discrete_smoothed_entropy([0.0, 1.0, 2.0, 3.0], 0.01, weights=w)
    assert t.value == pytest.approx(h_noise(1, 0.01) + entropy_of_weights(w), abs=1e-9)


def test_merged_groups_give_entropy_of_group_sizes():
    beta = 1e-3
    points = np.array([0.0] + [0.5] * 2 + [1.0] * 5)  # groups of 1, 2 and 5 inputs, 500 beta apart
    t = mi_one_channel(points, beta)
    assert t.value == pytest.approx(merged_limit([1, 2, 5]), abs=1e-9)
    assert merged_limit([1, 2, 5]) == pytest.approx(-sum(p * math.log(p) for p in (1 / 8, 2 / 8, 5 / 8)))


def test_two_points_match_brute_force_trapezoid():
    beta, gap = 0.1, 0.3  # overlapping: the entropy lies strictly between the limits
    t = discrete_smoothed_entropy([0.0, gap], beta)
    grid = np.linspace(-14 * beta, gap + 14 * beta, 200_001)
    g = 0.5 * (np.exp(-0.5 * (grid / beta) ** 2) + np.exp(-0.5 * ((grid - gap) / beta) ** 2))
    g /= math.sqrt(2 * math.pi) * beta
    f = -g * np.log(g)
    brute = float(np.sum(f[1:] + f[:-1]) * 0.5 * (grid[1] - grid[0]))
    assert abs(t.value - brute) < 1e-9
    assert h_noise(1, beta) < t.value < h_noise(1, beta) + math.log(2)


def test_sandwich_for_random_points():
    rng = np.random.default_rng(3)
    points, beta = rng.uniform(-1, 1, 40), 0.05
    t = discrete_smoothed_entropy(points, beta)
    assert h_noise(1, beta) <= t.value <= h_noise(1, beta) + math.log(40)


@pytest.mark.parametrize("k", [2, 16, 256])
@pytest.mark.parametrize("beta", [1e-3, 1e-2, 1e-1, 1.0])
def test_quad_and_hermite_agree_in_1d(k, beta):
    points = np.random.default_rng(k).uniform(-1, 1, k)
    q = discrete_smoothed_entropy(points, beta, method="quad")
    h = discrete_smoothed_entropy(points, beta, method="hermite")
    assert q.abs_error < 1e-6 and h.abs_error < 1e-6
    assert agree(q, h), (q, h)


# ------------------------------------------------------------------------------------------------------- 2-D


@pytest.mark.parametrize("beta", [1e-3, 3e-2, 0.3])
def test_2d_collinear_points_reduce_to_1d(beta):
    x = np.random.default_rng(7).uniform(-1, 1, 16)
    points = rotate(np.stack([x, np.zeros_like(x)], axis=1), 0.7)  # rotated: not aligned with the rule's axes
    two = discrete_smoothed_entropy(points, beta)
    one = discrete_smoothed_entropy(x, beta)
    assert abs(two.value - (one.value + h_noise(1, beta))) <= two.abs_error + one.abs_error
    assert two.abs_error < 1e-6


def test_2d_product_grid_is_sum_of_1d_entropies():
    beta = 0.05
    xs, ys = np.array([-0.6, -0.45, 0.1, 0.8]), np.array([0.0, 0.12, 0.5])
    wx, wy = np.array([0.1, 0.2, 0.3, 0.4]), np.array([0.5, 0.3, 0.2])
    points = np.array([[x, y] for x in xs for y in ys])
    weights = np.outer(wx, wy).ravel()
    two = discrete_smoothed_entropy(points, beta, weights=weights, tol=1e-7)
    hx, hy = discrete_smoothed_entropy(xs, beta, wx), discrete_smoothed_entropy(ys, beta, wy)
    assert abs(two.value - hx.value - hy.value) <= two.abs_error + hx.abs_error + hy.abs_error


def test_2d_nested_quad_agrees_with_hermite():
    points, beta = np.array([[0.0, 0.0], [0.3, 0.1], [-0.1, 0.35]]), 0.15
    q = discrete_smoothed_entropy(points, beta, method="quad")
    h = discrete_smoothed_entropy(points, beta, method="hermite")
    assert q.abs_error < 1e-6 and agree(q, h)


def test_2d_far_apart_and_coincident_limits():
    beta = 0.01
    grid = np.array([[i, j] for i in range(3) for j in range(3)], dtype=float)
    assert mi_one_channel(grid, beta).value == pytest.approx(math.log(9), abs=1e-9)
    assert discrete_smoothed_entropy(np.zeros((4, 2)), beta).value == pytest.approx(h_noise(2, beta), abs=1e-14)


# ------------------------------------------------------------------------------------------ Gaussian mixtures


@pytest.mark.parametrize("d", [1, 2])
def test_gaussian_mixture_one_component_is_closed_form(d):
    for method in ("quad", "hermite") if d == 1 else ("hermite",):
        t = gaussian_mixture_smoothed_entropy(np.zeros((1, d)), [0.2], None, 0.1, method=method)
        assert abs(t.value - gaussian_smoothed_entropy(d, 0.2, 0.1).value) <= t.abs_error + 1e-13


@pytest.mark.filterwarnings("ignore:Gauss-Hermite reached")  # the 2-D case below: see its last assert
def test_gaussian_mixture_limits_and_methods():
    w = np.array([0.25, 0.75])
    far = gaussian_mixture_smoothed_entropy([[0.0], [50.0]], [0.5, 2.0], w, 0.1)
    expected = entropy_of_weights(w) + 0.25 * gaussian_smoothed_entropy(1, 0.5, 0.1).value
    expected += 0.75 * gaussian_smoothed_entropy(1, 2.0, 0.1).value
    assert far.value == pytest.approx(expected, abs=1e-9)
    # zero stds: the discrete law
    pts = [[0.0], [0.2], [0.25]]
    assert agree(gaussian_mixture_smoothed_entropy(pts, [0.0, 0.0, 0.0], None, 0.05),
                 discrete_smoothed_entropy(pts, 0.05))
    # overlapping components of different widths: quad and Gauss-Hermite agree in 1-D and 2-D
    a = gaussian_mixture_smoothed_entropy([[0.0], [0.3]], [0.05, 0.4], w, 0.1, method="quad")
    b = gaussian_mixture_smoothed_entropy([[0.0], [0.3]], [0.05, 0.4], w, 0.1, method="hermite")
    assert agree(a, b)
    c = gaussian_mixture_smoothed_entropy([[0.0, 0.0], [0.3, 0.0]], [0.05, 0.4], w, 0.1)
    assert abs(c.value - b.value - gaussian_smoothed_entropy(1, 0.0, 0.1).value) > 1e-3  # not a product law
    assert c.abs_error < 1e-5  # 2-D Gauss-Hermite stops at order 256: components of unequal width converge slowly


# ------------------------------------------------------------------------------------------- one channel MI


def test_mi_bounds_and_labels():
    rng = np.random.default_rng(11)
    points, beta = rng.uniform(-1, 1, 12), 0.1
    labels = (points > 0).astype(int)
    i_xt = mi_one_channel(points, beta)
    i_ty = mi_one_channel_labels(points, labels, beta)
    assert 0.0 <= i_xt.value <= math.log(12)
    p1 = labels.mean()
    assert 0.0 <= i_ty.value <= i_xt.value + i_xt.abs_error + i_ty.abs_error  # Y is a function of X
    assert i_ty.value <= -(p1 * math.log(p1) + (1 - p1) * math.log(1 - p1))
    separated = mi_one_channel_labels([0.0, 0.001, 5.0, 5.001], [0, 0, 1, 1], 0.01)
    assert separated.value == pytest.approx(math.log(2), abs=1e-9)


# -------------------------------------------------------------------------------------------- single neuron


def test_single_neuron_limits():
    r = single_neuron_mi(np.array([0.0, 0.5, 20.0]), 1e-3)
    assert isinstance(r, SingleNeuronMI) and r.i_xt.shape == (3,)
    assert abs(r.i_xt[0]) <= 1e-12 and abs(r.i_ty[0]) <= 1e-12  # w = 0: every image at tanh(0)
    assert r.i_xt[1] == pytest.approx(LN4, abs=1e-6)  # the four images separate
    assert r.i_xt[2] == pytest.approx(HB_QUARTER, abs=1e-3)  # -3, -1, 1 merge at -1
    assert r.i_ty[2] == pytest.approx(HB_QUARTER, abs=1e-3)
    assert np.all(r.i_xt_error < 1e-6) and np.all(r.i_ty_error < 1e-6)


def test_single_neuron_rises_then_falls():
    ws = np.array([[0.05, 0.2, 0.5], [1.0, 3.0, 10.0]])
    r = single_neuron_mi(ws, 0.01)
    assert r.i_xt.shape == (2, 3) and r.w.shape == (2, 3)
    flat = r.i_xt.ravel()
    peak = int(np.argmax(flat))
    assert 0 < peak < flat.size - 1 and flat[peak] > 1.3
    assert np.all(np.diff(flat[: peak + 1]) > 0) and np.all(np.diff(flat[peak:]) < 0)
    assert flat[-1] == pytest.approx(HB_QUARTER, abs=1e-3)
    assert np.all(r.i_ty <= r.i_xt + r.i_xt_error + r.i_ty_error)
    scalar = single_neuron_mi(0.5, 0.01)
    assert scalar.i_xt.shape == () and float(scalar.i_xt) == pytest.approx(flat[2], abs=1e-12)


# ----------------------------------------------------------------------------------------- two-layer network

X4 = np.array([-3.0, -1.0, 1.0, 3.0])


def brute_force_two_layer(x, w1, b1, w2, b2, beta1, beta2):
    """I(X;T2) on dense grids by the trapezoidal rule, written independently of the module."""
    t2 = np.arange(-1 - 12 * beta2, 1 + 12 * beta2, beta2 / 25)
    dens = []
    for a in np.tanh(w1 * x + b1):
        t1 = a + np.arange(-12 * beta1, 12 * beta1, min(beta1 / 25, beta2 / abs(w2) / 25))
        p1 = np.exp(-0.5 * ((t1 - a) / beta1) ** 2)
        p1 /= p1.sum()
        s2 = np.tanh(w2 * t1 + b2)
        kern = np.exp(-0.5 * ((t2[:, None] - s2[None, :]) / beta2) ** 2) / (math.sqrt(2 * math.pi) * beta2)
        dens.append(kern @ p1)
    dens = np.array(dens)
    step = t2[1] - t2[0]

    def h(p):
        p = p[p > 0]
        return float(-np.sum(p * np.log(p)) * step)

    cond = [h(p) for p in dens]
    return h(dens.mean(axis=0)) - float(np.mean(cond)), cond


def test_two_layer_zero_second_weight_is_exact():
    r = two_layer_tanh_mi(X4, 1.5, 0.2, 0.0, 0.3, 0.1, 0.05)
    assert r.i_xt.value == 0.0
    for h in r.h_t2_given_x:
        assert h.value == h_noise(1, 0.05)


def test_two_layer_small_first_noise_approaches_one_channel():
    w1, b1, w2, b2, beta2 = 1.0, 0.3, 3.0, -0.2, 0.05
    r = two_layer_tanh_mi(X4, w1, b1, w2, b2, 1e-6, beta2, labels=[0, 0, 1, 1])
    images = np.tanh(w2 * np.tanh(w1 * X4 + b1) + b2)
    assert r.i_xt.value == pytest.approx(mi_one_channel(images, beta2).value, abs=1e-6)
    assert r.i_ty.value == pytest.approx(mi_one_channel_labels(images, [0, 0, 1, 1], beta2).value, abs=1e-6)
    assert r.i_xt.abs_error < 1e-6


@pytest.mark.parametrize(
    "params",
    [(1.0, 0.5, 2.0, -0.3, 0.2, 0.1), (0.3, 0.0, 5.0, 0.0, 0.1, 0.05)],  # the second: S2 | x much wider than beta2
)
def test_two_layer_matches_brute_force_grid(params):
    r = two_layer_tanh_mi(X4, *params, labels=[0, 1, 0, 1])
    brute, cond = brute_force_two_layer(X4, *params)
    assert r.i_xt.value == pytest.approx(brute, abs=1e-6)
    assert [h.value for h in r.h_t2_given_x] == pytest.approx(cond, abs=1e-6)
    assert r.i_xt.abs_error < 1e-6 and r.h_t2.abs_error < 1e-6
    # data processing: X -> T1 -> T2
    i_xt1 = mi_one_channel(np.tanh(params[0] * X4 + params[1]), params[4])
    assert r.i_xt.value <= i_xt1.value + i_xt1.abs_error + r.i_xt.abs_error
    assert 0.0 <= r.i_ty.value <= math.log(2) + r.i_ty.abs_error


# -------------------------------------------------------------------------------------------------- spiral


def test_spiral_points_are_deterministic():
    p, y = spiral_points(50, 1.5, arms=2)
    assert p.shape == (50, 2) and p.dtype == np.float64 and y.shape == (50,) and set(y) == {0, 1}
    assert np.all(np.linalg.norm(p, axis=1) <= 1.0 + 1e-12)
    p2, _ = spiral_points(50, 1.5, arms=2)
    assert np.array_equal(p, p2)
    j1, _ = spiral_points(50, 1.5, jitter=0.01, seed=4)
    j2, _ = spiral_points(50, 1.5, jitter=0.01, seed=4)
    assert np.array_equal(j1, j2) and not np.array_equal(j1, p)


def test_spiral_channel_mi():
    p, y = spiral_points(64, 1.5, arms=2)
    assert mi_one_channel(p, 1e-4).value == pytest.approx(math.log(64), abs=1e-9)
    i = mi_one_channel(p, 0.05, tol=1e-7)
    assert 0.5 < i.value < math.log(64) and i.abs_error < 1e-6
    turned = mi_one_channel(rotate(p, 1.1), 0.05, tol=1e-7)  # rotation invariance; kinks at other angles
    assert agree(i, turned)
    i_ty = mi_one_channel_labels(p, y, 0.05, tol=1e-7)
    assert 0.0 <= i_ty.value <= math.log(2)


# ------------------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize("beta", [0.0, -1.0, float("nan"), float("inf")])
def test_bad_beta_is_rejected(beta):
    with pytest.raises(ValueError, match="beta"):
        discrete_smoothed_entropy([0.0, 1.0], beta)
    with pytest.raises(ValueError, match="beta"):
        gaussian_smoothed_entropy(1, 0.1, beta)
    with pytest.raises(ValueError, match="beta1"):
        two_layer_tanh_mi(X4, 1.0, 0.0, 1.0, 0.0, beta, 0.1)


def test_bad_inputs_are_rejected():
    with pytest.raises(ValueError, match="points"):
        discrete_smoothed_entropy([[0.0, np.nan]], 0.1)
    with pytest.raises(ValueError, match="points"):
        discrete_smoothed_entropy(np.zeros((3, 3)), 0.1)
    with pytest.raises(ValueError, match="weights"):
        discrete_smoothed_entropy([0.0, 1.0], 0.1, weights=[1.0, -0.5])
    with pytest.raises(ValueError, match="weights"):
        discrete_smoothed_entropy([0.0, 1.0], 0.1, weights=[1.0])
    with pytest.raises(ValueError, match="method"):
        discrete_smoothed_entropy([0.0, 1.0], 0.1, method="mc")
    with pytest.raises(ValueError, match="stds"):
        gaussian_mixture_smoothed_entropy([[0.0], [1.0]], [0.1, -0.1], None, 0.1)
    with pytest.raises(ValueError, match="labels"):
        mi_one_channel_labels([0.0, 1.0], [1, 1], 0.1)
    with pytest.raises(ValueError, match="x_points"):
        two_layer_tanh_mi(np.zeros((4, 2)), 1.0, 0.0, 1.0, 0.0, 0.1, 0.1)
    with pytest.raises(ValueError, match="w2"):
        two_layer_tanh_mi(X4, 1.0, 0.0, np.inf, 0.0, 0.1, 0.1)
    with pytest.raises(ValueError, match="w"):
        single_neuron_mi([1.0, np.nan], 0.1)
    with pytest.raises(ValueError, match="value"):
        Truth(float("nan"), 0.0, "x")


def test_no_warnings_on_regular_cases():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        discrete_smoothed_entropy(np.linspace(-1, 1, 64), 1e-3)
        discrete_smoothed_entropy(np.linspace(-1, 1, 64), 1e-3, method="hermite")


# ---------------------------------------------------------------------------------------------- the cases


def _all_cases():
    from estimators.ground_truth import suite

    return suite("full")


@pytest.mark.filterwarnings("ignore:Gauss-Hermite reached order")  # the spiral: its bound is in abs_error
@pytest.mark.parametrize("case", _all_cases(), ids=lambda c: c.name)
def test_each_case_draws_a_layer_of_its_kind_and_knows_its_truth(case):
    import torch

    from estimators import LayerData

    layer = case.sample(7)
    assert isinstance(layer, LayerData) and layer.samples.dtype == torch.float64
    same = bool((layer.samples == layer.samples[:, :1]).all())
    assert same == (case.kind != "network")
    if case.kind == "draws":
        assert layer.replicas == 1 and torch.equal(layer.x, layer.samples[:, 0])
    assert torch.equal(case.sample(7).samples, layer.samples)  # the generator decides the sample
    assert case.truth and set(case.truth) <= {"h", "I_XT", "I_TY"}
    for t in case.truth.values():
        assert isinstance(t, Truth) and t.abs_error < 1e-3
    if "I_TY" in case.truth:
        assert layer.labels is not None


def test_case_truths_by_hand():
    from estimators.ground_truth import channel_case, gaussian_case, separated_truth

    g = gaussian_case(3, 0.4, 0.2, 50, quantity="I_XT")
    assert g.truth["I_XT"].value == pytest.approx(1.5 * math.log(5.0), rel=1e-15)
    assert gaussian_case(3, 0.4, 0.2, 50).truth["h"].value == pytest.approx(
        1.5 * math.log(2 * math.pi * math.e * 0.2), rel=1e-15)
    merged = channel_case(np.repeat([[-0.75], [0.75]], 8, axis=0), 0.01, "two groups", labels=np.repeat([0, 1], 8))
    assert merged.truth["I_XT"].value == pytest.approx(math.log(2), abs=1e-9)
    assert merged.truth["I_TY"].value == pytest.approx(math.log(2), abs=1e-9)
    pts = np.random.default_rng(0).uniform(-1, 1, (16, 2))
    sep = separated_truth(pts * 100, 0.01)
    assert sep.value == math.log(16) and sep.abs_error < 1e-12


def test_case_rejects_bad_kind_size_and_quantity():
    from estimators.ground_truth import Case, gaussian_case, suite

    with pytest.raises(ValueError, match="^kind"):
        Case("x", "continuous", lambda g: None, lambda: {})
    with pytest.raises(ValueError, match="^truths"):
        _ = Case("x", "layer", lambda g: None, lambda: {"I_XX": Truth(0.0, 0.0, "")}).truth
    with pytest.raises(ValueError, match="^size"):
        suite("medium")
    with pytest.raises(ValueError, match="^quantity"):
        gaussian_case(1, 1.0, 1.0, 10, quantity="I_TY")


def test_sp_estimate_of_i_xt_on_draws_is_h_minus_the_noise_entropy():
    from estimators.ground_truth import gaussian_case, sp_estimates

    case = gaussian_case(1, 0.2, 0.1, 400, quantity="I_XT")
    est = sp_estimates(case, case.sample(0), 0)["I_XT"]
    truth = case.truth["I_XT"]
    assert est.ci_low <= truth.value <= est.ci_high
    assert abs(est.value - truth.value) < 0.1
