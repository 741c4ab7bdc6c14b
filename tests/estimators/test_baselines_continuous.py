"""Continuous information-plane baselines against known answers: Kolchinsky-Tracey KDE bounds (checked
against quadrature), KSG / Ross / Kozachenko-Leonenko (Gaussian closed forms and a brute-force reference),
matrix-based Renyi entropy (hand-computed spectra). Everything in nats."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import quad
from scipy.special import digamma, logsumexp

from estimators.baselines.kde_bounds import adaptive_noise_kde_mi, kde_mutual_information, mixture_entropy_bounds
from estimators.baselines.ksg import ksg_entropy, ksg_mi_discrete_labels, ksg_mutual_information
from estimators.baselines.renyi import kernel_width, renyi_entropy, renyi_mi_labels, renyi_mutual_information


def h_gauss(d: int, s: float) -> float:
    return 0.5 * d * math.log(2 * math.pi * math.e * s * s)


def log_mixture_1d(x: float, c: np.ndarray, s: float, w: np.ndarray) -> float:
    return float(logsumexp(-((x - c) ** 2) / (2 * s * s), b=w)) - 0.5 * math.log(2 * math.pi * s * s)


def entropy_1d_quad(c: np.ndarray, s: float, w: np.ndarray | None = None) -> float:
    """Independent value of h(sum_i w_i N(c_i, s^2)) by adaptive quadrature of -g ln g."""
    w = np.full(len(c), 1.0 / len(c)) if w is None else w / w.sum()

    def f(x: float) -> float:
        lg = log_mixture_1d(x, c, s, w)
        return -math.exp(lg) * lg

    val, err = quad(f, c.min() - 12 * s, c.max() + 12 * s, points=np.sort(c), limit=500, epsabs=1e-11)
    assert err < 1e-7
    return val


# ----------------------------------------------------------------------------------------------- KDE


def test_kde_separated_components_give_h_plus_ln_m():
    s, m = 0.1, 7
    centres = np.stack([np.arange(m) * 1000 * s, np.zeros(m)], axis=1)  # d = 2, far apart relative to s
    lo, hi = mixture_entropy_bounds(centres, s)
    target = 0.5 * 2 * math.log(2 * math.pi * math.e * 0.01) + math.log(m)  # s^2 = 0.01, std not variance
    assert lo.value == pytest.approx(target, abs=1e-10)
    assert hi.value == pytest.approx(target, abs=1e-10)
    assert lo.ci_low is None and lo.bound.startswith("no interval") and lo.params["beta"] == s


def test_kde_coincident_components_give_h_component():
    lo, hi = mixture_entropy_bounds(np.full((5, 3), 0.7), 0.3)
    assert lo.value == pytest.approx(h_gauss(3, 0.3), abs=1e-12)
    assert hi.value == pytest.approx(h_gauss(3, 0.3), abs=1e-12)


def test_kde_two_components_closed_form_kl_upper_bhattacharyya_lower():
    s, r, d = 0.4, 0.9, 3
    centres = np.zeros((2, d))
    centres[1, 0] = r
    lo, hi = mixture_entropy_bounds(centres, s)
    h0 = h_gauss(d, s)
    assert hi.value == pytest.approx(h0 - math.log((1 + math.exp(-(r**2) / (2 * s**2))) / 2), abs=1e-12)
    assert lo.value == pytest.approx(h0 - math.log((1 + math.exp(-(r**2) / (8 * s**2))) / 2), abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 8),
    d=st.integers(1, 3),
    log_s=st.floats(-3, 1),
    seed=st.integers(0, 2**31 - 1),
    weighted=st.booleans(),
)
def test_kde_lower_le_upper_within_sandwich(n, d, log_s, seed, weighted):
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-1, 1, size=(n, d))
    w = rng.uniform(0, 1, size=n) + 1e-3 if weighted else None
    s = 10.0**log_s
    lo, hi = mixture_entropy_bounds(centres, s, weights=w)
    h0 = h_gauss(d, s)
    p = np.full(n, 1 / n) if w is None else w / w.sum()
    assert h0 - 1e-12 <= lo.value <= hi.value + 1e-12
    assert hi.value <= h0 - float(np.sum(p * np.log(p))) + 1e-12  # h0 + H(w)


@pytest.mark.parametrize("seed", range(6))
def test_kde_bounds_bracket_quadrature_1d(seed):
    rng = np.random.default_rng(seed)
    m = int(rng.integers(2, 7))
    c = rng.uniform(-1, 1, size=m)
    s = float(rng.uniform(0.05, 0.8))
    w = rng.uniform(0.1, 1, size=m) if seed % 2 else None
    true = entropy_1d_quad(c, s, w)
    lo, hi = mixture_entropy_bounds(c[:, None], s, weights=w)
    assert lo.value <= true + 1e-7
    assert true <= hi.value + 1e-7
    assert hi.value - lo.value > 1e-4  # a real bracket here, so a KL/BD swap cannot pass


def test_kde_bounds_bracket_grid_2d():
    c = np.array([[0.0, 0.0], [0.5, 0.2], [-0.3, 0.6]])
    s = 0.35
    g = np.linspace(-3.5, 3.5, 701)
    h = g[1] - g[0]
    gx, gy = np.meshgrid(g, g, indexing="ij")
    pts = np.stack([gx.ravel(), gy.ravel()], axis=1)
    sq = ((pts[:, None, :] - c[None, :, :]) ** 2).sum(-1)
    lg = logsumexp(-sq / (2 * s * s), axis=1) - math.log(3) - math.log(2 * math.pi * s * s)
    true = float(-np.sum(np.exp(lg) * lg) * h * h)  # smooth, decaying integrand: the grid sum is exact to ~1e-9
    lo, hi = mixture_entropy_bounds(c, s)
    assert lo.value < true < hi.value


def test_kde_zero_weight_components_change_nothing_and_match_the_logsumexp_formula():
    rng = np.random.default_rng(8)
    c = rng.uniform(-1, 1, size=(40, 3))
    w = rng.uniform(0.1, 1, size=40)
    w[::5] = 0.0
    s = 0.15
    lo, hi = mixture_entropy_bounds(c, s, weights=w)
    lo2, hi2 = mixture_entropy_bounds(c[w > 0], s, weights=w[w > 0])
    assert lo.value == pytest.approx(lo2.value, abs=1e-12) and hi.value == pytest.approx(hi2.value, abs=1e-12)
    p = w / w.sum()
    sq = ((c[:, None, :] - c[None, :, :]) ** 2).sum(-1)
    for est, div in ((lo, 8.0), (hi, 2.0)):  # the Kolchinsky-Tracey formula with a max-shifted logsumexp
        term = sum(p[i] * logsumexp(-sq[i] / (div * s * s), b=p) for i in range(40) if p[i] > 0)
        assert est.value == pytest.approx(h_gauss(3, s) - term, abs=1e-12)


def test_kde_small_noise_far_from_origin_no_cancellation():
    rng = np.random.default_rng(3)
    c = rng.uniform(0, 1e-3, size=(20, 4))
    s = 1e-4
    ref = mixture_entropy_bounds(c, s)
    shifted = mixture_entropy_bounds(c + 1e4, s)  # the ||a||^2 - 2ab + ||b||^2 expansion would lose everything
    for a, b in zip(ref, shifted):
        assert b.value == pytest.approx(a.value, abs=1e-6)


def kde_pair(t, labels, s, mode="saxe"):
    """{"I_XT_upper", "I_XT_lower", "I_TY_upper", "I_TY_lower"} from the two bounds' MIEstimates."""
    up, lo = (kde_mutual_information(t, labels, s, bound=b, mode=mode) for b in ("upper", "lower"))
    return {"I_XT_upper": up.i_xt, "I_XT_lower": lo.i_xt, "I_TY_upper": up.i_ty, "I_TY_lower": lo.i_ty}


def test_kde_mi_separated_and_collapsed_classes():
    s = 0.01
    m = 8
    labels = np.repeat([0, 1], m // 2)
    spread = np.arange(m, dtype=float)[:, None] * 100 * s  # every input far from every other
    for mode in ("saxe", "bracket"):
        out = kde_pair(spread, labels, s, mode=mode)
        assert out["I_XT_upper"].value == pytest.approx(math.log(m), abs=1e-9)
        assert out["I_XT_lower"].value == pytest.approx(math.log(m), abs=1e-9)
        assert out["I_TY_upper"].value == pytest.approx(math.log(2), abs=1e-9)
        assert out["I_TY_lower"].value == pytest.approx(math.log(2), abs=1e-9)
        assert out["I_TY_upper"].params["mode"] == mode
    collapsed = (labels[:, None] * 100 * s).astype(float)  # each class on one point, the classes far apart
    out = kde_pair(collapsed, labels, s)
    for key in ("I_XT_upper", "I_XT_lower", "I_TY_upper", "I_TY_lower"):
        assert out[key].value == pytest.approx(math.log(2), abs=1e-9)


@pytest.mark.parametrize("seed", range(3))
def test_kde_mi_modes_against_quadrature_1d(seed):
    rng = np.random.default_rng(10 + seed)
    t = rng.uniform(-1, 1, size=6)
    labels = np.array([0, 0, 0, 1, 1, 1])
    s = float(rng.uniform(0.2, 0.6))
    true = entropy_1d_quad(t, s) - 0.5 * entropy_1d_quad(t[:3], s) - 0.5 * entropy_1d_quad(t[3:], s)
    br = kde_pair(t[:, None], labels, s, mode="bracket")
    assert br["I_TY_lower"].value <= true + 1e-7 <= br["I_TY_upper"].value + 2e-7
    sx = kde_pair(t[:, None], labels, s, mode="saxe")
    (lo_all, hi_all), (lo0, hi0), (lo1, hi1) = (
        mixture_entropy_bounds(t[idx, None], s) for idx in (slice(None), slice(0, 3), slice(3, 6))
    )
    assert sx["I_TY_upper"].value == pytest.approx(hi_all.value - 0.5 * (hi0.value + hi1.value), abs=1e-12)
    assert sx["I_TY_lower"].value == pytest.approx(lo_all.value - 0.5 * (lo0.value + lo1.value), abs=1e-12)
    assert br["I_TY_upper"].value == pytest.approx(hi_all.value - 0.5 * (lo0.value + lo1.value), abs=1e-12)
    assert br["I_TY_lower"].value == pytest.approx(lo_all.value - 0.5 * (hi0.value + hi1.value), abs=1e-12)
    xt_true = entropy_1d_quad(t, s) - h_gauss(1, s)
    assert sx["I_XT_lower"].value <= xt_true + 1e-7 <= sx["I_XT_upper"].value + 2e-7
    # the entropy terms behind the values: i_xt = h_t - h_t_given_x, i_ty = h_t - h_t_given_y
    up = kde_mutual_information(t[:, None], labels, s, bound="upper")
    assert up.terms["h_t"].value == pytest.approx(hi_all.value, abs=1e-12)
    assert up.terms["h_t_given_x"].value == pytest.approx(h_gauss(1, s), abs=1e-15)
    assert up.i_ty.value == pytest.approx(up.terms["h_t"].value - up.terms["h_t_given_y"].value, abs=1e-15)
    assert "not a bound" in up.reasons["I_TY"] and "upper bound" in up.reasons["I_XT"]


def test_kde_classes_share_the_pooled_distances_without_changing_the_numbers():
    # 3 classes of unequal sizes in 2-D: each class term equals the bounds of that class's mixture alone
    rng = np.random.default_rng(6)
    t = rng.uniform(-1, 1, size=(30, 2))
    labels = np.repeat([0, 1, 2], [5, 10, 15])
    s = 0.3
    p = np.array([5, 10, 15]) / 30
    for bound, pick in (("upper", 1), ("lower", 0)):
        r = kde_mutual_information(t, labels, s, bound=bound)
        by_class = [mixture_entropy_bounds(t[labels == c], s)[pick].value for c in range(3)]
        assert r.terms["h_t_given_y"].value == pytest.approx(float(np.dot(p, by_class)), abs=1e-12)
        assert r.terms["h_t"].value == pytest.approx(mixture_entropy_bounds(t, s)[pick].value, abs=1e-12)


def test_adaptive_noise_kde_uses_range_and_is_scale_invariant():
    rng = np.random.default_rng(4)
    t = rng.uniform(-1, 2, size=(40, 3))
    labels = rng.integers(0, 3, size=40)
    s = 0.2 * (t.max() - t.min())
    for bound in ("upper", "lower"):
        out = adaptive_noise_kde_mi(t, labels, rel_noise=0.2, bound=bound)
        assert out.params["beta"] == pytest.approx(s) and out.estimator == f"kde_adaptive_{bound}"
        ref = kde_mutual_information(t, labels, s, bound=bound)
        scaled = adaptive_noise_kde_mi(7.5 * t, labels, rel_noise=0.2, bound=bound)
        for q in ("I_XT", "I_TY"):
            assert out.get(q).value == pytest.approx(ref.get(q).value, abs=1e-12)
            assert scaled.get(q).value == pytest.approx(out.get(q).value, abs=1e-9)


# ----------------------------------------------------------------------------------------------- KSG


def gaussian_pairs(rho: float, m: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    z = np.random.default_rng(seed).multivariate_normal([0, 0], [[1, rho], [rho, 1]], size=m)
    return z[:, :1], z[:, 1:]


@pytest.mark.parametrize("rho", [0.0, 0.5, 0.9])
def test_ksg_bivariate_gaussian(rho):
    # m = 2000 gives a standard deviation near 0.02-0.03 nats per estimate; the mean of 8 is tested at 0.03
    values = [ksg_mutual_information(*gaussian_pairs(rho, 2000, seed), k=3).value for seed in range(8)]
    assert np.mean(values) == pytest.approx(-0.5 * math.log(1 - rho**2), abs=0.03)


def test_ksg_independent_uniform_near_zero():
    rng = np.random.default_rng(7)
    u = rng.uniform(size=(2000, 3))
    e = ksg_mutual_information(u[:, :1], u[:, 1:], k=4)
    assert abs(e.value) < 0.05
    assert e.params == {"k": 4, "norm": "max"} and e.ci_low is None


def _brute_ksg(x: np.ndarray, y: np.ndarray, k: int) -> float:
    dx = np.abs(x[:, None, :] - x[None, :, :]).max(-1)
    dy = np.abs(y[:, None, :] - y[None, :, :]).max(-1)
    dz = np.maximum(dx, dy)
    m = len(x)
    np.fill_diagonal(dz, np.inf)
    eps = np.sort(dz, axis=1)[:, k - 1]
    nx = (dx < eps[:, None]).sum(1) - 1  # strict, excluding i itself
    ny = (dy < eps[:, None]).sum(1) - 1
    return digamma(k) + digamma(m) - np.mean(digamma(nx + 1) + digamma(ny + 1))


def _brute_ross(t: np.ndarray, y: np.ndarray, k: int) -> float:
    dist = np.abs(t[:, None, :] - t[None, :, :]).max(-1)
    np.fill_diagonal(dist, np.inf)
    same = y[:, None] == y[None, :]
    d_k = np.sort(np.where(same, dist, np.inf), axis=1)[:, k - 1]
    mi = (dist <= d_k[:, None]).sum(1)  # within d_k, k-th neighbour included, i excluded
    n_y = same.sum(1)
    return digamma(len(t)) + digamma(k) - np.mean(digamma(n_y)) - np.mean(digamma(mi))


def test_ksg_and_ross_match_brute_force_with_marginal_ties():
    rng = np.random.default_rng(11)
    x = np.round(rng.normal(size=(80, 2)), 1)  # many ties in the x marginal: the < / <= convention matters
    y = x[:, :1] + rng.normal(size=(80, 1))
    assert ksg_mutual_information(x, y, k=3).value == pytest.approx(_brute_ksg(x, y, 3), abs=1e-12)
    t = np.round(rng.normal(size=(90, 2)), 1) + rng.uniform(0, 1e-3, size=(90, 2))
    labels = rng.integers(0, 3, size=90)
    t[labels == 1] += 0.5
    assert ksg_mi_discrete_labels(t, labels, k=3).value == pytest.approx(_brute_ross(t, labels, 3), abs=1e-12)


def test_ross_query_subset_is_the_average_over_those_rows():
    rng = np.random.default_rng(12)
    t = np.round(rng.normal(size=(90, 2)), 1) + rng.uniform(0, 1e-3, size=(90, 2))
    labels = rng.integers(0, 3, size=90)
    t[labels == 1] += 0.5
    full = ksg_mi_discrete_labels(t, labels, k=3)
    assert ksg_mi_discrete_labels(t, labels, k=3, query=np.arange(90)).value == pytest.approx(full.value, abs=1e-12)
    # brute force, averaging the per-row terms over the query rows only (neighbours among all rows)
    q = np.arange(0, 90, 4)
    dist = np.abs(t[:, None, :] - t[None, :, :]).max(-1)
    np.fill_diagonal(dist, np.inf)
    same = labels[:, None] == labels[None, :]
    d_k = np.sort(np.where(same, dist, np.inf), axis=1)[:, 2]
    m_i = (dist <= d_k[:, None]).sum(1)
    expected = digamma(90) + digamma(3) - np.mean(digamma(same.sum(1)[q])) - np.mean(digamma(m_i[q]))
    sub = ksg_mi_discrete_labels(t, labels, k=3, query=q)
    assert sub.value == pytest.approx(expected, abs=1e-12)
    assert sub.params["query_rows"] == q.size and abs(sub.value - full.value) > 1e-6
    for bad in (np.array([], dtype=int), np.array([0, 0]), np.array([90]), np.array([[1]]), np.array([0.5])):
        with pytest.raises(ValueError, match="^query"):
            ksg_mi_discrete_labels(t, labels, k=3, query=bad)


@pytest.mark.parametrize("d,tol", [(1, 0.03), (3, 0.06)])
@pytest.mark.parametrize("norm", ["euclidean", "max"])
def test_kozachenko_leonenko_standard_gaussian(d, tol, norm):
    values = [
        ksg_entropy(np.random.default_rng(seed).normal(size=(2000, d)), k=3, norm=norm).value for seed in range(4)
    ]
    assert np.mean(values) == pytest.approx(0.5 * d * math.log(2 * math.pi * math.e), abs=tol)


def test_ross_two_separated_gaussians_gives_ln2():
    rng = np.random.default_rng(5)
    labels = np.repeat([0, 1], 1000)
    t = rng.normal(size=(2000, 2)) + 50.0 * labels[:, None]
    assert ksg_mi_discrete_labels(t, labels, k=3).value == pytest.approx(math.log(2), abs=0.05)


# --------------------------------------------------------------------------------------------- Renyi


@pytest.mark.parametrize("alpha", [1.0, 1.01, 2.0])
def test_renyi_identical_points_zero_and_separated_points_ln_m(alpha):
    assert renyi_entropy(np.full((12, 3), 0.4), 1.0, alpha=alpha).value == pytest.approx(0.0, abs=1e-9)
    far = np.arange(12, dtype=float)[:, None] * 100.0
    assert renyi_entropy(far, 1.0, alpha=alpha).value == pytest.approx(math.log(12), abs=1e-9)


def test_renyi_two_point_spectrum_by_hand():
    r, sigma = 0.8, 0.5
    x = np.array([[0.0, 0.0], [r, 0.0]])
    k = math.exp(-(r**2) / (2 * sigma**2))
    lam = np.array([(1 + k) / 2, (1 - k) / 2])
    shannon = float(-np.sum(lam * np.log(lam)))
    assert renyi_entropy(x, sigma, alpha=1.0).value == pytest.approx(shannon, abs=1e-12)
    assert renyi_entropy(x, sigma, alpha=1 + 1e-7).value == pytest.approx(shannon, abs=1e-6)
    assert renyi_entropy(x, sigma, alpha=2.0).value == pytest.approx(-math.log((1 + k * k) / 2), abs=1e-12)
    e = renyi_entropy(x, sigma, alpha=3.0)
    assert e.value == pytest.approx(math.log(np.sum(lam**3)) / (1 - 3), abs=1e-12)
    assert e.params["alpha"] == 3.0 and e.params["sigma"] == sigma and e.params["sigma_rule"] == "given"


def test_renyi_mi_of_a_variable_with_itself():
    far = np.arange(10, dtype=float)[:, None] * 100.0
    s = renyi_entropy(far, 1.0).value
    assert renyi_mutual_information(far, far, 1.0, 1.0).value == pytest.approx(s, abs=1e-9)
    # Gaussian kernel: A o A is the Gram matrix of width sigma / sqrt 2, so I(X;X) = 2 S_sigma - S_{sigma/sqrt2} <= S
    x = np.random.default_rng(2).normal(size=(30, 2))
    mi = renyi_mutual_information(x, x, 1.0, 1.0)
    s1, s2 = renyi_entropy(x, 1.0).value, renyi_entropy(x, 1.0 / math.sqrt(2)).value
    assert mi.value == pytest.approx(2 * s1 - s2, abs=1e-9)
    assert mi.value <= s1 + 1e-12
    assert mi.diagnostics["S_x"] == pytest.approx(s1)


def test_renyi_mi_labels_delta_kernel():
    labels = np.array([0] * 6 + [1] * 3 + [2] * 3)
    p = np.array([0.5, 0.25, 0.25])
    alpha = 2.0
    renyi_h = math.log(np.sum(p**alpha)) / (1 - alpha)
    codes = np.eye(3)[labels] * 100.0  # one-hot codes far apart: Gaussian kernel = delta kernel
    e = renyi_mi_labels(codes, labels, 1.0, alpha=alpha)
    assert e.value == pytest.approx(renyi_h, abs=1e-9)  # I(Y;Y) = S(B), the Renyi entropy of p
    assert e.diagnostics["S_y"] == pytest.approx(renyi_h, abs=1e-9)
    distinct = np.random.default_rng(0).normal(size=(12, 2)) * 100.0  # T identifies X, hence Y: I = S(B)
    assert renyi_mi_labels(distinct, labels, 1.0, alpha=alpha).value == pytest.approx(renyi_h, abs=1e-9)
    assert renyi_mi_labels(np.zeros((12, 2)), labels, 1.0).value == pytest.approx(0.0, abs=1e-9)  # constant T


def test_renyi_clipping_is_reported():
    e = renyi_entropy(np.full((20, 2), 1.0), 1.0)
    for key in ("n_clipped_eigenvalues", "clipped_mass", "min_eigenvalue"):
        assert key in e.diagnostics
    assert e.diagnostics["clipped_mass"] >= 0.0
    assert (e.diagnostics["n_clipped_eigenvalues"] > 0) == (e.diagnostics["min_eigenvalue"] < 0)
    mi = renyi_mi_labels(np.random.default_rng(0).normal(size=(20, 2)), np.arange(20) % 2, "median")
    assert {"clipping_x", "clipping_y", "clipping_joint"} <= set(mi.diagnostics)


def test_kernel_width_rules_on_small_example():
    x = np.array([[0.0], [1.0], [3.0]])  # pairwise distances 1, 3, 2
    assert kernel_width(x, "median") == pytest.approx(2.0)
    assert kernel_width(x, "wickstrom", k=1) == pytest.approx((1 + 1 + 2) / 3)
    assert kernel_width(x, "wickstrom", k=2) == pytest.approx((2 + 1.5 + 2.5) / 3)
    std = np.std([0.0, 1.0, 3.0], ddof=1)
    assert kernel_width(x, "silverman") == pytest.approx(1.06 * std * 3 ** (-1 / 5))
    assert kernel_width(x, "silverman", gamma=2.0) == pytest.approx(2.0 * 3 ** (-1 / 5))
    x2 = np.array([[0.0, 0.0], [1.0, 2.0], [3.0, 1.0], [0.5, 0.5]])
    std2 = np.mean(np.std(x2, axis=0, ddof=1))
    assert kernel_width(x2, "silverman") == pytest.approx(1.06 * std2 * 4 ** (-1 / 6))
    e = renyi_entropy(x, "median")
    assert e.params["sigma"] == pytest.approx(2.0) and e.params["sigma_rule"] == "median"


# ----------------------------------------------------------------------------------------- bad input

_X = np.random.default_rng(0).normal(size=(10, 2))
_Y = np.arange(10) % 2
_NAN = _X.copy()
_NAN[3, 1] = np.nan


@pytest.mark.parametrize(
    "call,name",
    [
        (lambda: mixture_entropy_bounds(_X[:, 0], 1.0), "centres"),
        (lambda: mixture_entropy_bounds(_NAN, 1.0), "centres"),
        (lambda: mixture_entropy_bounds(_X, 0.0), "beta"),
        (lambda: mixture_entropy_bounds(_X, -1.0), "beta"),
        (lambda: kde_mutual_information(_X, _Y, 0.0), "beta"),
        (lambda: kde_mutual_information(_X, _Y, 1.0, bound="middle"), "bound"),
        (lambda: mixture_entropy_bounds(_X, 1.0, weights=np.ones(3)), "weights"),
        (lambda: kde_mutual_information(_X, _Y[:7], 1.0), "labels"),
        (lambda: kde_mutual_information(_X, np.zeros(10, dtype=int), 1.0), "labels"),
        (lambda: kde_mutual_information(_X, _Y, 1.0, mode="bogus"), "mode"),
        (lambda: kde_mutual_information(_X[None], _Y, 1.0), "t"),
        (lambda: adaptive_noise_kde_mi(_X, _Y, rel_noise=0.0), "rel_noise"),
        (lambda: adaptive_noise_kde_mi(np.ones((10, 2)), _Y), "t"),
        (lambda: ksg_mutual_information(_X, _X[:9]), "y"),
        (lambda: ksg_mutual_information(_NAN, _X), "x"),
        (lambda: ksg_mutual_information(_X[:, 0], _X), "x"),
        (lambda: ksg_mutual_information(_X, _X, k=10), "k"),
        (lambda: ksg_mutual_information(_X, _X, k=0), "k"),
        (lambda: ksg_mutual_information(np.zeros((10, 1)), np.zeros((10, 1))), "x"),
        (lambda: ksg_mi_discrete_labels(_X, np.zeros(10, dtype=int)), "labels"),
        (lambda: ksg_mi_discrete_labels(_X, np.array([0] * 8 + [1] * 2), k=3), "labels"),
        (lambda: ksg_mi_discrete_labels(_X, _Y[:5]), "labels"),
        (lambda: ksg_entropy(_X, k=10), "k"),
        (lambda: ksg_entropy(_X, norm="l1"), "norm"),
        (lambda: renyi_entropy(_X, 0.0), "sigma"),
        (lambda: renyi_entropy(_X, "bogus"), "rule"),
        (lambda: renyi_entropy(_X, 1.0, alpha=0.0), "alpha"),
        (lambda: renyi_entropy(_X[None], 1.0), "x"),
        (lambda: renyi_entropy(_NAN, 1.0), "x"),
        (lambda: renyi_mutual_information(_X, _X[:9], 1.0, 1.0), "y"),
        (lambda: renyi_mutual_information(_X, _X, 1.0, -1.0), "sigma_y"),
        (lambda: renyi_mi_labels(_X, np.ones(10, dtype=int), 1.0), "labels"),
        (lambda: kernel_width(_X, "bogus"), "rule"),
        (lambda: kernel_width(_X, "wickstrom", k=10), "k"),
        (lambda: kernel_width(np.ones((5, 2)), "median"), "x"),
        (lambda: kernel_width(_X, "median", gamma=1.0), "gamma"),
    ],
)
def test_bad_input_raises_value_error_naming_the_argument(call, name):
    with pytest.raises(ValueError, match=rf"^{name}\b"):
        call()
