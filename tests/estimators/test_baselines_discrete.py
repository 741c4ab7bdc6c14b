"""Tests of the discrete information-plane baselines (docs/theory.md, section 9) against answers computed by
hand or by brute-force enumeration written here, independently of the implementation."""

import itertools
import math
from collections import Counter

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from estimators import LayerData
from estimators.baselines import (
    FixedBinning,
    activation_range,
    adaptive_binning_mi,
    discrete_entropy,
    discrete_mutual_information,
    fixed_binning_mi,
    quantize,
    transfer_entropy,
)

LN2 = math.log(2.0)


# ----------------------------------------------------------------------------------- brute force


def entropy_of(symbols):
    """H (nats) of the empirical law of a list of hashable symbols."""
    m = len(symbols)
    return -sum(c / m * math.log(c / m) for c in Counter(symbols).values())


def mi_double_loop(table):
    """I(T;Y) (nats) of a joint count table n[t][y], by a double loop over the cells."""
    n = sum(sum(row) for row in table)
    pt = [sum(row) / n for row in table]
    py = [sum(table[i][j] for i in range(len(table))) / n for j in range(len(table[0]))]
    total = 0.0
    for i, row in enumerate(table):
        for j, c in enumerate(row):
            if c:
                p = c / n
                total += p * math.log(p / (pt[i] * py[j]))
    return total


def te_enumeration(a, b):
    """TE_{A->B} (nats) by enumerating the triples (b_{t+1}, b_t, a_t) of integer arrays (E, m, d)."""
    triples = []
    for t in range(a.shape[0] - 1):
        for i in range(a.shape[1]):
            triples.append((tuple(b[t + 1, i]), tuple(b[t, i]), tuple(a[t, i])))
    n = len(triples)
    p_xyz = Counter(triples)
    p_yz = Counter((y, z) for _, y, z in triples)
    p_xy = Counter((x, y) for x, y, _ in triples)
    p_y = Counter(y for _, y, _ in triples)
    total = 0.0
    for (x, y, z), c in p_xyz.items():
        p_x_given_yz = c / p_yz[(y, z)]
        p_x_given_y = p_xy[(x, y)] / p_y[y]
        total += c / n * math.log(p_x_given_yz / p_x_given_y)
    return total


# ----------------------------------------------------------------------------------- discrete (exact)


def test_four_inputs_two_codes_give_ln2_and_exact_zero_width_interval():
    codes = torch.tensor([[0, 1], [0, 1], [3, 2], [3, 2]])
    h = discrete_entropy(codes)
    assert h.value == pytest.approx(LN2, abs=1e-15)
    assert h.std_error == 0.0 and h.ci_low == h.value == h.ci_high
    assert h.bound == "exact finite sum (Lorenzen et al. 2022)" and h.n == 4 and h.unit == "nat"


def test_distinct_float_rows_give_ln_m():
    codes = np.arange(14, dtype=np.float64).reshape(7, 2) * 0.1
    assert discrete_entropy(codes).value == pytest.approx(math.log(7), abs=1e-15)


def test_labels_equal_to_codes_give_I_TY_equal_H_Y():
    y = np.array([0, 0, 0, 1, 2, 2])
    r = discrete_mutual_information(y[:, None], y)
    ixt, ity = r.i_xt, r.i_ty
    h_y = entropy_of(list(y))
    assert ity.value == pytest.approx(h_y, abs=1e-14)
    assert ixt.value == pytest.approx(h_y, abs=1e-14)
    assert ixt.ci_low == ixt.ci_high == ixt.value and ity.std_error == 0.0


def test_balanced_product_design_gives_exactly_zero_I_TY():
    # every (code, label) pair appears exactly twice: T independent of Y by construction.
    pairs = [(t, y) for t in range(3) for y in range(2)] * 2
    codes = torch.tensor([[t, -t] for t, _ in pairs])
    labels = torch.tensor([y for _, y in pairs])
    point = discrete_mutual_information(codes, labels)
    assert point.i_ty.value == 0.0
    assert point.i_xt.value == pytest.approx(math.log(3), abs=1e-15)


@st.composite
def count_tables(draw):
    """A joint count table n[t][y] with 1-5 codes, 2-4 classes, and at least 2 classes present."""
    k_t, k_y = draw(st.integers(1, 5)), draw(st.integers(2, 4))
    table = [draw(st.lists(st.integers(0, 4), min_size=k_y, max_size=k_y)) for _ in range(k_t)]
    present = [j for j in range(k_y) if any(row[j] for row in table)]
    if len(present) < 2:
        table[0][0] += 1
        table[-1][1] += 1
    return table


@settings(max_examples=60, deadline=None)
@given(count_tables())
def test_discrete_mi_matches_double_loop_on_random_table(table):
    codes, labels = [], []
    for i, row in enumerate(table):
        for j, c in enumerate(row):
            codes += [[i, 2 * i]] * c
            labels += [j] * c
    rng = np.random.default_rng(len(codes))
    order = rng.permutation(len(codes))
    codes, labels = np.array(codes)[order], np.array(labels)[order]
    res = discrete_mutual_information(codes, labels)
    ixt, ity = res.i_xt, res.i_ty
    assert ity.value == pytest.approx(mi_double_loop(table), abs=1e-12)
    assert ixt.value == pytest.approx(entropy_of([tuple(r) for r in codes]), abs=1e-12)


def test_discrete_bad_input_raises():
    with pytest.raises(ValueError, match="codes"):
        discrete_entropy(np.zeros(4))
    with pytest.raises(ValueError, match="codes"):
        discrete_entropy(np.array([[0.0], [np.nan]]))
    with pytest.raises(ValueError, match="labels"):
        discrete_mutual_information(np.zeros((4, 1)), np.zeros(4, dtype=int))
    with pytest.raises(ValueError, match="labels"):
        discrete_mutual_information(np.zeros((4, 1)), np.array([0, 1, 0]))


# ----------------------------------------------------------------------------------- quantize


@pytest.mark.parametrize("bits", [4, 8])
def test_quantize_matches_brute_force_nearest_level(bits):
    low, high = -1.0, 1.0
    levels = np.array([low + k * (high - low) / (2**bits - 1) for k in range(2**bits)])
    x = np.random.default_rng(bits).uniform(low, high, size=(50, 3))
    q = quantize(torch.tensor(x), bits, low, high)
    expected = levels[np.abs(x[..., None] - levels).argmin(axis=-1)]
    assert q.shape == x.shape and q.dtype == torch.float64
    np.testing.assert_allclose(q.numpy(), expected, rtol=0, atol=1e-12)
    assert len(np.unique(q.numpy())) <= 2**bits


def test_quantize_ends_and_by_hand_values():
    # 2 bits on [0, 3]: levels 0, 1, 2, 3.
    q = quantize([0.0, 0.49, 0.51, 1.2, 2.6, 3.0], 2, 0.0, 3.0)
    assert q.tolist() == [0.0, 0.0, 1.0, 1.0, 3.0, 3.0]


def test_quantize_outside_range_raises_or_counts_clips():
    with pytest.raises(ValueError, match=r"t: got 2 of 4 values outside"):
        quantize([-1.5, 0.0, 0.5, 1.01], 4, -1.0, 1.0)
    q, n_clipped = quantize([-1.5, 0.0, 0.5, 1.01], 2, -1.0, 1.0, clip=True)
    assert n_clipped == 2
    assert q[0].item() == -1.0 and q[3].item() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="bits"):
        quantize([0.0], 0, -1.0, 1.0)
    with pytest.raises(ValueError, match="low, high"):
        quantize([0.0], 4, 1.0, -1.0)


# ----------------------------------------------------------------------------------- fixed binning


def test_fixed_binning_values_in_known_bins():
    # 4 bins of width 0.5 on [-1, 1]: [-1,-.5) [-.5,0) [0,.5) [.5,1]. Bins by hand, column by column.
    t = np.array([[-0.9, 0.1], [-0.6, 0.2], [-0.2, 0.7], [0.3, 1.0], [0.7, -1.0], [0.8, -0.99]])
    bins = [(0, 2), (0, 2), (1, 3), (2, 3), (3, 0), (3, 0)]
    labels = np.array([0, 0, 1, 1, 0, 1])
    r = fixed_binning_mi(t, labels, n_bins=4)
    ixt, ity = r.i_xt, r.i_ty
    assert ixt.value == pytest.approx(entropy_of(bins), abs=1e-14)
    h_given_y = sum(
        np.mean(labels == c) * entropy_of([b for b, y in zip(bins, labels) if y == c]) for c in (0, 1)
    )
    assert ity.value == pytest.approx(entropy_of(bins) - h_given_y, abs=1e-14)
    assert ixt.ci_low is None and ixt.ci_high is None and ixt.std_error is None
    assert ixt.bound == "no interval: plug-in estimator"
    assert ixt.params == {"n_bins": 4, "bin_width": None, "low": -1.0, "high": 1.0, "convention": "equal"}
    assert ixt.n == 6
    assert r.estimator == "binning_range" and r.params == ixt.params


def test_default_30_equal_bins_on_bin_centres():
    centres = -1.0 + (np.arange(30) + 0.5) * 2.0 / 30
    t = np.stack([centres, centres[::-1]], axis=1)
    labels = np.arange(30) % 2
    r = fixed_binning_mi(t, labels)  # n_bins=30 on [-1, 1]
    ixt, ity = r.i_xt, r.i_ty
    assert ixt.value == pytest.approx(math.log(30), abs=1e-14)
    assert ity.value == pytest.approx(LN2, abs=1e-14)  # each input alone in its bin: I = H(Y)
    assert ixt.params["n_bins"] == 30
    # twice as wide bins: pairs of neighbours merge into 15 bins
    assert fixed_binning_mi(t, labels, n_bins=15).i_xt.value == pytest.approx(math.log(15), abs=1e-14)


def szt_information(t, labels):
    """Shwartz-Ziv & Tishby's binned I(X;T) and I(T;Y), by their code's steps written out: 30 edges
    bins = np.linspace(-1, 1, 30).astype(np.float32), every value replaced by bins[np.digitize(value, bins) - 1]
    (IDNNs, information_process.py), the distinct rows the symbols; I(X;T) = H(T) (distinct inputs),
    I(T;Y) = H(Y) - H(Y|T) by counting (nats, where their code uses bits)."""
    bins = np.linspace(-1, 1, 30).astype(np.float32)
    digitized = bins[np.digitize(np.squeeze(t.reshape(1, -1)), bins) - 1].reshape(len(t), -1)
    rows = [tuple(r) for r in digitized]
    m = len(rows)
    h_y_given_t = sum(n / m * entropy_of([y for r, y in zip(rows, labels) if r == sym])
                      for sym, n in Counter(rows).items())
    return entropy_of(rows), entropy_of(list(labels)) - h_y_given_t


@pytest.mark.parametrize("seed", range(4))
def test_szt_convention_matches_their_digitize_computation(seed):
    rng = np.random.default_rng(seed)
    # float32 tanh activations as their TensorFlow nets give, saturated to exactly +-1 in places, plus values
    # exactly on the float32 edges and just below the top edge
    t = np.tanh(4.0 * rng.normal(size=(300, 3))).astype(np.float32)
    edges = np.linspace(-1, 1, 30).astype(np.float32)
    t[:20, 0] = 1.0
    t[20:30, 1] = -1.0
    t[30:60, 2] = edges[rng.integers(0, 30, size=30)]
    t[60:70, 0] = np.nextafter(np.float32(1.0), np.float32(0.0))
    labels = rng.integers(0, 2, size=300)
    h, mi = szt_information(t, labels)
    est = FixedBinning.szt()
    assert est.params() == {"n_bins": 29, "bin_width": None, "low": -1.0, "high": 1.0, "convention": "szt"}
    r = est(LayerData(torch.as_tensor(t, dtype=torch.float64)[:, None, :], 0.1, labels=torch.as_tensor(labels)))
    assert r.estimator == "binning_szt" and r.params["convention"] == "szt"
    assert r.i_xt.value == pytest.approx(h, abs=1e-12)
    assert r.i_ty.value == pytest.approx(mi, abs=1e-12)
    # the default convention (30 equal bins, the last closed) is another grid: other numbers on these values
    default = fixed_binning_mi(t, labels)
    assert abs(default.i_xt.value - r.i_xt.value) > 1e-3


def test_szt_convention_gives_the_top_edge_its_own_symbol():
    # 0.99 and 1.0 share the last equal bin [14/15, 1] but not SZT's [e_28, e_29) and {1.0}; -1 and -0.995
    # share the first bin in both: symbols {0.99}, {1.0}, {-1, -0.995} against {0.99, 1.0}, {-1, -0.995}
    t = np.array([[0.99], [1.0], [-1.0], [-0.995]])
    assert fixed_binning_mi(t, convention="szt", n_bins=29).i_xt.value == pytest.approx(1.5 * LN2, abs=1e-14)
    assert fixed_binning_mi(t, n_bins=30).i_xt.value == pytest.approx(LN2, abs=1e-14)
    with pytest.raises(ValueError, match="^convention"):
        fixed_binning_mi(t, convention="szt", bin_width=0.1)
    with pytest.raises(ValueError, match="^convention"):
        FixedBinning(convention="tishby")


def test_fixed_binning_outside_range_raises_naming_t_and_count():
    t = np.array([[0.0, 1.5], [2.0, 0.5], [0.1, 0.2]])
    with pytest.raises(ValueError, match=r"t: got 2 of 6 values outside"):
        fixed_binning_mi(t, [0, 1, 0])
    ixt = fixed_binning_mi(t, [0, 1, 0], low=0.0, high=2.0).i_xt  # the ReLU way: observed range
    assert ixt.value == pytest.approx(math.log(3), abs=1e-14)


def test_fixed_binning_by_width_origin_zero():
    t = np.array([[0.05], [0.15], [0.149], [-0.05], [3.21]])
    # cells floor(t / 0.1): 0, 1, 1, -1, 32
    r = fixed_binning_mi(t, [0, 1, 1, 0, 0], bin_width=0.1)
    ixt, ity = r.i_xt, r.i_ty
    assert ixt.value == pytest.approx(entropy_of([0, 1, 1, -1, 32]), abs=1e-14)
    assert ity.value == pytest.approx(mi_double_loop([[1, 0], [0, 2], [1, 0], [1, 0]]), abs=1e-14)
    assert ixt.params["bin_width"] == 0.1 and ixt.params["origin"] == 0.0
    with pytest.raises(ValueError, match="n_bins, bin_width"):
        fixed_binning_mi(t, [0, 1, 1, 0, 0], n_bins=30, bin_width=0.1)
    with pytest.raises(ValueError, match=r"t: got 1 of 5"):
        fixed_binning_mi(t, [0, 1, 1, 0, 0], bin_width=0.1, low=0.0)


def test_activation_range():
    assert activation_range("tanh") == (-1.0, 1.0)
    assert activation_range("sigmoid") == (0.0, 1.0)
    for name in ("relu", "linear"):
        with pytest.raises(ValueError, match="bin_width"):
            activation_range(name)


# ----------------------------------------------------------------------------------- adaptive binning


@pytest.mark.parametrize("m, n_bins", [(12, 4), (30, 3), (40, 10), (9, 9)])
def test_adaptive_bins_of_distinct_values_hold_equal_mass(m, n_bins):
    rng = np.random.default_rng(m)
    col = rng.permutation(m) * 0.37 - 2.0  # distinct, unsorted
    t = np.stack([col, np.exp(col)], axis=1)  # second neuron: increasing map of the first, same bins
    labels = np.arange(m) % 2
    ixt = adaptive_binning_mi(t, labels, n_bins=n_bins).i_xt
    assert ixt.value == pytest.approx(math.log(n_bins), abs=1e-14)
    assert ixt.diagnostics["bins_per_neuron"] == [n_bins, n_bins]
    assert ixt.params["n_bins"] == n_bins and "quantile" in ixt.params["edges"]
    assert ixt.ci_low is None and ixt.bound == "no interval: plug-in estimator"


def test_adaptive_binning_I_TY_by_hand_and_ties():
    # 8 distinct values, 2 bins: lower 4 / upper 4. Labels: the lower half is all class 0.
    t = np.array([[5.0], [1.0], [7.0], [2.0], [8.0], [3.0], [6.0], [4.0]])
    labels = np.array([1, 0, 0, 0, 1, 0, 1, 0])
    # bins: value <= 4 -> 0, else 1;  table n[bin][y] = [[4, 0], [1, 3]]
    ity = adaptive_binning_mi(t, labels, n_bins=2).i_ty
    assert ity.value == pytest.approx(mi_double_loop([[4, 0], [1, 3]]), abs=1e-14)
    # a constant neuron (saturated) has one bin: contributes nothing, no error
    t2 = np.concatenate([t, np.ones((8, 1))], axis=1)
    ixt2 = adaptive_binning_mi(t2, labels, n_bins=2).i_xt
    assert ixt2.value == pytest.approx(LN2, abs=1e-14)
    assert ixt2.diagnostics["bins_per_neuron"] == [2, 1]


# ----------------------------------------------------------------------------------- transfer entropy


def test_te_is_ln2_when_b_next_copies_a_fair_coin():
    # enumerate (b0, a0, a1, a2) in {0,1}^4; B copies A with one epoch delay: b1 = a0, b2 = a1.
    rows = np.array(list(itertools.product([0, 1], repeat=4)))
    b0, a0, a1, a2 = rows.T
    a = np.stack([a0, a1, a2])[..., None]
    b = np.stack([b0, a0, a1])[..., None]
    te = transfer_entropy(a, b)
    assert te.value == pytest.approx(LN2, abs=1e-14)
    assert te.n == 2 * 16 and te.params["history"] == 1
    assert te.ci_low is None and te.bound == "no interval: plug-in estimator"
    # nothing flows from B to A: a_{t+1} is a fresh coin
    assert transfer_entropy(b, a).value == pytest.approx(0.0, abs=1e-14)


def test_te_is_zero_when_b_next_independent_of_a_given_b_past():
    # a0 reveals b0 (a0 = 2 b0 + u), so a0 and b1 are dependent, but given b0, (u, b1) is a full product.
    next_of = {0: [0, 0, 1], 1: [0, 1, 1, 1]}
    combos = [(b0, u, b1) for b0 in (0, 1) for u in (0, 1) for b1 in next_of[b0]]
    b0, u, b1 = np.array(combos).T
    a = np.stack([2 * b0 + u, u])[..., None]
    b = np.stack([b0, b1])[..., None]
    assert transfer_entropy(a, b).value == 0.0
    # the unconditional I(b1; a0) is not zero: a formula that dropped the conditioning would fail above
    table = [[int(np.sum((b1 == i) & (a[0, :, 0] == j))) for j in range(4)] for i in range(2)]
    assert mi_double_loop(table) > 0.05


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 4), st.integers(1, 8), st.integers(1, 2), st.integers(0, 2**31 - 1))
def test_te_matches_enumeration_on_random_codes(epochs, m, d_b, seed):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 3, size=(epochs, m, 1))
    b = rng.integers(0, 2, size=(epochs, m, d_b))
    assert transfer_entropy(torch.tensor(a), b).value == pytest.approx(te_enumeration(a, b), abs=1e-12)


def test_te_discretisers():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(5, 20, 2)), rng.normal(size=(5, 20, 1))
    a[:, :6, 0] = b[:, 10:13, 0] = 0.3  # exactly at the threshold: binarised to 0 (strictly greater is 1)
    te = transfer_entropy(a, b, threshold=0.3)
    assert te.value == pytest.approx(te_enumeration((a > 0.3).astype(int), (b > 0.3).astype(int)), abs=1e-12)
    assert te.params["discretiser"] == "threshold" and te.params["threshold"] == 0.3

    def bin_codes(x, k):  # k equal bins over the observed range, by hand
        idx = np.floor((x - x.min()) / (x.max() - x.min()) * k).astype(int)
        return np.minimum(idx, k - 1)

    te3 = transfer_entropy(a, b, n_bins=3)
    assert te3.value == pytest.approx(te_enumeration(bin_codes(a, 3), bin_codes(b, 3)), abs=1e-12)
    with pytest.raises(ValueError, match=r"^a: got non-integer"):
        transfer_entropy(a, b)
    with pytest.raises(ValueError, match="threshold, n_bins"):
        transfer_entropy(a, b, threshold=0.0, n_bins=3)
    with pytest.raises(ValueError, match="b: got"):
        transfer_entropy(a, b[:, :10])
    with pytest.raises(ValueError, match="epoch"):
        transfer_entropy(a[:1], b[:1], threshold=0.0)
    with pytest.raises(ValueError, match=r"\(epochs, m, d\)"):
        transfer_entropy(a[0], b[0], threshold=0.0)
