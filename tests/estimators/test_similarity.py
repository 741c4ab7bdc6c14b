"""Linear CKA (Kornblith et al., ICML 2019) and matched cosine against known answers."""

import math

import numpy as np
import pytest
import torch

from estimators.similarity import hsic, linear_cka, matched_cosine, zero_rows


def _x(m=60, p=5, seed=0):
    return torch.randn(m, p, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_cka_of_a_representation_with_itself_is_one():
    x = _x()
    assert linear_cka(x, x) == pytest.approx(1.0, abs=1e-12)


def test_cka_is_invariant_to_orthogonal_maps_scaling_and_translation():
    x = _x(p=6)
    q, _ = torch.linalg.qr(_x(m=6, p=6, seed=1))  # a random orthogonal 6x6 matrix
    assert torch.allclose(q.T @ q, torch.eye(6, dtype=torch.float64), atol=1e-12)
    assert linear_cka(x, x @ q) == pytest.approx(1.0, abs=1e-12)
    assert linear_cka(x, -3.5 * x + 7.0) == pytest.approx(1.0, abs=1e-12)
    shift = torch.arange(6, dtype=torch.float64)
    assert linear_cka(x, 0.2 * x @ q + shift) == pytest.approx(1.0, abs=1e-12)


def test_cka_is_symmetric_and_not_invariant_to_general_linear_maps():
    x, y = _x(p=4), _x(p=3, seed=2)
    assert linear_cka(x, y) == pytest.approx(linear_cka(y, x), abs=1e-14)
    a = torch.diag(torch.tensor([1.0, 10.0, 0.1, 1.0], dtype=torch.float64))  # invertible, not orthogonal
    assert linear_cka(x, x @ a) < 0.9


def _brute_hsic(k, l):
    """tr(K H L H) / (m-1)^2 by explicit loops over the centring matrix H = I - 11^T/m."""
    m = len(k)
    h = [[(1.0 if i == j else 0.0) - 1.0 / m for j in range(m)] for i in range(m)]

    def mul(a, b):
        return [[sum(a[i][t] * b[t][j] for t in range(m)) for j in range(m)] for i in range(m)]

    khlh = mul(mul(mul(k, h), l), h)
    return sum(khlh[i][i] for i in range(m)) / (m - 1) ** 2


def test_cka_equals_the_hsic_ratio_computed_by_brute_force():
    x, y = _x(m=7, p=3, seed=3), _x(m=7, p=9, seed=4)  # q > m: the Gram branch for y's norm
    k, l = (x @ x.T).tolist(), (y @ y.T).tolist()
    brute = _brute_hsic(k, l) / math.sqrt(_brute_hsic(k, k) * _brute_hsic(l, l))
    k64, l64 = torch.tensor(k, dtype=torch.float64), torch.tensor(l, dtype=torch.float64)
    assert hsic(k64, l64) == pytest.approx(_brute_hsic(k, l), rel=1e-12)
    assert linear_cka(x, y) == pytest.approx(brute, rel=1e-10)
    # feature-space and Gram-space branches agree: a wide y (q > m) against a narrow one
    wide = _x(m=7, p=20, seed=5)
    kw = (wide @ wide.T).tolist()
    assert linear_cka(x, wide) == pytest.approx(
        _brute_hsic(k, kw) / math.sqrt(_brute_hsic(k, k) * _brute_hsic(kw, kw)), rel=1e-10)


def test_cka_of_independent_gaussian_representations_is_small_and_as_expected():
    # For independent standard Gaussian X (m, p), Y (m, q): E||X_c^T Y_c||_F^2 = p q n and
    # E||X_c^T X_c||_F^2 = n p (n + p + 1) (Wishart, n = m - 1), so CKA ~ sqrt(p q / ((n + p + 1)(n + q + 1))).
    m, p, q = 200, 10, 10
    n = m - 1
    expected = math.sqrt(p * q / ((n + p + 1) * (n + q + 1)))
    values = [linear_cka(_x(m, p, seed=10 + i), _x(m, q, seed=1000 + i)) for i in range(20)]
    assert max(values) < 0.15
    assert np.mean(values) == pytest.approx(expected, rel=0.1)


def test_matched_cosine_known_values_and_zero_rows():
    x = torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]])
    y = torch.tensor([[2.0, 0.0], [0.0, -1.0], [0.0, 1.0]])
    assert matched_cosine(x, y) == pytest.approx((1.0 - 1.0 + math.sqrt(0.5)) / 3)
    y0 = y.clone()
    y0[1] = 0.0
    with pytest.raises(ValueError, match="zero row"):
        matched_cosine(x, y0)
    assert matched_cosine(x, y0, skip_zero_rows=True) == pytest.approx((1.0 + math.sqrt(0.5)) / 2)
    assert zero_rows(y0) == 1


def test_bad_input_names_the_argument():
    x = _x()
    with pytest.raises(ValueError, match="y"):
        linear_cka(x, _x(m=59))
    with pytest.raises(ValueError, match="x"):
        linear_cka(torch.ones(60, 3), x)  # constant representation: CKA undefined
    with pytest.raises(ValueError, match="x"):
        linear_cka(x[:, 0], x)  # rank 1
    bad = x.clone()
    bad[0, 0] = float("nan")
    with pytest.raises(ValueError, match="y"):
        linear_cka(x, bad)
    with pytest.raises(ValueError, match="l"):
        hsic(torch.eye(3), torch.eye(4))
    with pytest.raises(ValueError, match="y"):
        matched_cosine(x, x[:, :2])
