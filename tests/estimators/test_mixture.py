"""The mixture engine (estimators.mixture) against a float64 direct-difference sum over all centres: every
path's values within the bounds it reports, the bounds within tol; its parts (duplicate merging, the grid's
ranges, the chunks); its thread policy; its CUDA path where CUDA is present."""

import math
import os

import numpy as np
import pytest
import torch
from scipy.special import logsumexp

from estimators import GaussianMixture
from estimators.mixture import unique_rows
from estimators.mixture.grid import CHUNK, PrincipalGrid, chunks


def reference_log_g(centres: np.ndarray, queries: np.ndarray, beta: float, weights: np.ndarray | None = None):
    """ln g by direct differences in float64, in blocks of queries (no expansion, no truncation); weights
    (n, S) give one column per weight column (normalised), else one equal-weight column."""
    n, d = centres.shape
    w = np.full((n, 1), 1.0 / n) if weights is None else weights / weights.sum(0)
    with np.errstate(divide="ignore"):
        log_w = np.log(w)
    out = np.empty((len(queries), w.shape[1]))
    for a in range(0, len(queries), 256):
        sq = ((queries[a : a + 256, None, :] - centres[None]) ** 2).sum(2) / (2 * beta**2)
        out[a : a + 256] = logsumexp(log_w[None] - sq[:, :, None], axis=1)
    return out - 0.5 * d * math.log(2 * math.pi * beta**2)


def within(out, ref, mask=None):
    """Every reference value inside [value - below, value + above] (where ``mask``)."""
    ok = (ref <= out.values.numpy() + out.above.numpy() + 1e-12) & (ref >= out.values.numpy() - out.below.numpy() - 1e-12)
    return bool(ok[mask].all() if mask is not None else ok.all())


def clusters(n, d, k, spread, beta, seed):
    """k clusters of tanh(2 g) means with Gaussian spread ``spread`` beta, float32 values as float64."""
    g = torch.Generator().manual_seed(seed)
    means = torch.tanh(2 * torch.randn(k, d, generator=g, dtype=torch.float32))
    lab = torch.randint(0, k, (n,), generator=g)
    return (means[lab] + spread * beta * torch.randn(n, d, generator=g, dtype=torch.float32)).double()


@pytest.mark.parametrize("d", [3, 10])
@pytest.mark.parametrize("spread", [0.1, 0.4, 1.0, 2.0, 4.0, 10.0])
def test_clustered_path_at_every_spread_within_its_bounds(d, spread):
    """Clusters of every spread from 0.1 beta (every query meets its whole cluster) to 10 beta (isolated
    centres), ten draws around each of 200 owners: the clustered path's float32 blocks agree with the float64
    reference within the bounds they report, and those bounds are within tol."""
    beta = 0.005
    x = clusters(2000, d, 8, spread, beta, seed=d)
    g = torch.Generator().manual_seed(1)
    owner = torch.randperm(2000, generator=g)[:200].repeat_interleave(10)
    z = beta * torch.randn(owner.numel(), d, generator=g, dtype=torch.float64)
    out = GaussianMixture(x, beta, method="clustered").log_density(owner, z)
    ref = reference_log_g(x.numpy(), (x[owner] + z).numpy(), beta)
    assert within(out, ref)
    assert float(out.above.max()) <= 1e-3 and float(out.below.max()) <= 1e-3
    assert float((out.values - torch.as_tensor(ref)).abs().max()) <= float(torch.maximum(out.above, out.below).max())


def test_clustered_columns_and_far_draws():
    """Several weight columns (one empty on half the centres), draws 1 to 14 beta from their centre (past
    the float32 range's limit, 11 beta: those go through the dense path): within the bounds where the
    owner has weight in the column."""
    beta, d = 0.005, 4
    x = clusters(1500, d, 6, 1.0, beta, seed=2)
    w = torch.stack([torch.ones(1500), (torch.arange(1500) % 2).double(), torch.rand(1500, dtype=torch.float64)], 1)
    g = torch.Generator().manual_seed(3)
    owner = torch.randint(0, 1500, (600,), generator=g)
    z = torch.randn(600, d, generator=g, dtype=torch.float64)
    z = beta * z / z.norm(dim=1, keepdim=True) * torch.linspace(1.0, 14.0, 600, dtype=torch.float64)[:, None]
    out = GaussianMixture(x, beta, w, method="clustered").log_density(owner, z)
    ref = reference_log_g(x.numpy(), (x[owner] + z).numpy(), beta, w.numpy())
    promised = (w[owner] > 0).numpy()
    assert within(out, ref, promised)
    assert float(out.above[torch.as_tensor(promised)].max()) <= 1e-3


def test_clustered_in_float64_when_tol_leaves_no_room_for_float32():
    """tol = 1e-6: a tenth of it cannot hold float32 round-off, so the blocks run in float64 and the values
    agree with the reference to ~1e-10."""
    beta = 0.005
    x = clusters(1000, 3, 4, 0.5, beta, seed=4)
    owner = torch.arange(0, 1000, 4)
    z = beta * torch.randn(owner.numel(), 3, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    out = GaussianMixture(x, beta, tol=1e-6, method="clustered").log_density(owner, z)
    ref = reference_log_g(x.numpy(), (x[owner] + z).numpy(), beta)
    assert within(out, ref)
    assert float((out.values - torch.as_tensor(ref)).abs().max()) < 1e-9
    assert float(out.above.max()) <= 1e-6


def test_auto_picks_a_path_and_stays_within_its_bounds_on_mixed_data():
    """A tight cluster, a spread cluster and isolated centres in one mixture, ``auto``: whatever it picks,
    the values are within the bounds."""
    beta, d = 0.005, 10
    g = torch.Generator().manual_seed(6)
    x = torch.cat([0.3 + 0.2 * beta * torch.randn(800, d, generator=g, dtype=torch.float64),
                   -0.3 + 3 * beta * torch.randn(800, d, generator=g, dtype=torch.float64),
                   torch.rand(800, d, generator=g, dtype=torch.float64) * 2 - 1])
    mix = GaussianMixture(x, beta)
    owner = torch.arange(0, 2400, 6).repeat_interleave(4)
    z = beta * torch.randn(owner.numel(), d, generator=g, dtype=torch.float64)
    out = mix.log_density(owner, z)
    assert mix.last_path in ("dense", "truncated", "clustered")
    assert within(out, reference_log_g(x.numpy(), (x[owner] + z).numpy(), beta))


def test_results_and_thread_setting_do_not_depend_on_the_callers_threads():
    """The engine runs with its own thread count: identical results at 1 and 2 caller threads, and the
    caller's setting is restored (also after an error)."""
    beta = 0.005
    x = clusters(1500, 4, 5, 1.0, beta, seed=7)
    owner = torch.arange(0, 1500, 2)
    z = beta * torch.randn(owner.numel(), 4, generator=torch.Generator().manual_seed(8), dtype=torch.float64)
    before = torch.get_num_threads()
    try:
        results = []
        for n in (1, 2):
            torch.set_num_threads(n)
            for method in ("dense", "truncated", "clustered"):
                results.append(GaussianMixture(x, beta, method=method).log_density(owner, z).values)
                assert torch.get_num_threads() == n
        assert all(torch.equal(a, b) for a, b in zip(results[:3], results[3:]))
        torch.set_num_threads(2)
        with pytest.raises(ValueError, match="^offsets"):
            GaussianMixture(x, beta).log_density(owner, z[:, :3])
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_unique_rows_merges_exact_duplicates_only():
    """Against numpy's lexicographic unique: the same distinct rows (-0.0 as 0.0), each input mapped to its
    own row, and rows one ulp apart kept apart."""
    g = np.random.default_rng(0)
    base = g.standard_normal((300, 3))
    x = np.concatenate([base, base[:100], -0.0 * base[:5] ** 0, np.nextafter(base[:50], 2.0)])
    rows, inverse = unique_rows(x)
    assert np.array_equal(rows[inverse], x + 0.0)
    assert len(rows) == len(np.unique(x + 0.0, axis=0))


@pytest.mark.parametrize("d", [1, 2, 3, 5, 10])
def test_grid_ranges_hold_every_component_within_reach(d):
    """For random boxes and distances, the ranges of the principal-axes grid contain every component within
    the distance of the box (brute force), and each range lies inside the sorted order."""
    g = torch.Generator().manual_seed(d)
    comp = torch.cat([torch.randn(700, d, generator=g, dtype=torch.float64),
                      0.05 * torch.randn(300, d, generator=g, dtype=torch.float64)])
    comp = comp - comp.mean(0)
    grid = PrincipalGrid(comp, side=0.1)
    y = grid.project(comp).numpy()
    lo = y[torch.randint(0, 1000, (40,), generator=g).numpy()]
    hi = lo + 0.2 * torch.rand(40, grid.g, generator=g, dtype=torch.float64).numpy()
    reach = 0.05 + 0.5 * torch.rand(40, generator=g, dtype=torch.float64).numpy()
    box, start, end = grid.ranges(lo, hi, reach)
    assert np.all((0 <= start) & (start < end) & (end <= 1000))
    pos = np.empty(1000, dtype=np.int64)
    pos[grid.perm] = np.arange(1000)
    for b in range(40):
        gap = np.maximum(np.maximum(lo[b] - y, y - hi[b]), 0.0)
        need = pos[np.flatnonzero((gap**2).sum(1) <= reach[b] ** 2)]
        s, e = start[box == b], end[box == b]
        assert np.all(((need[:, None] >= s) & (need[:, None] < e)).any(1))


def test_chunks_cover_every_range_stay_within_the_chunk_size_and_adjacent_rows():
    """Ranges within grid rows (as the grid makes them): the chunks cover every range, hold at most CHUNK
    positions, and the ranged positions of a chunk lie in rows next to each other (no jump of more than
    one row)."""
    g = np.random.default_rng(1)
    row = np.repeat(np.sort(g.choice(200, 40, replace=False)), g.integers(50, 1500, 40))
    bounds = np.r_[0, np.flatnonzero(np.diff(row)) + 1, row.size]
    pick = g.integers(0, 40, 300)
    start = bounds[pick] + g.integers(0, 40, 300)
    end = np.minimum(start + g.integers(1, 2000, 300), bounds[pick + 1])
    keep = end > start
    start, end = start[keep], end[keep]
    c_start, c_end = chunks(start, end, row)
    assert np.all(c_end - c_start <= CHUNK) and np.all(c_start[1:] >= c_end[:-1])
    ranged = np.zeros(row.size, dtype=bool)
    for s, e in zip(start, end):
        ranged[s:e] = True
    covered = np.zeros(row.size, dtype=bool)
    for s, e in zip(c_start, c_end):
        covered[s:e] = True
        rows = np.unique(row[s:e][ranged[s:e]])
        assert rows.size <= 1 or np.diff(rows).max() <= 1
    assert covered[ranged].all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA: the CPU float64 reference is tested above")
@pytest.mark.parametrize("method", ["dense", "truncated", "clustered", "auto"])
def test_cuda_matches_the_float64_cpu_reference(method):
    """On CUDA (components and blocks on the GPU, neighbour searches on the CPU): the same values within the
    same bounds as the float64 CPU reference."""
    beta = 0.005
    x = clusters(3000, 4, 6, 1.0, beta, seed=9)
    owner = torch.arange(0, 3000, 3).repeat_interleave(2)
    z = beta * torch.randn(owner.numel(), 4, generator=torch.Generator().manual_seed(10), dtype=torch.float64)
    out = GaussianMixture(x.cuda(), beta, method=method).log_density(owner.cuda(), z.cuda())
    assert out.values.is_cuda
    cpu = type(out)(*(t.cpu() for t in (out.values, out.above, out.below)))
    assert within(cpu, reference_log_g(x.numpy(), (x[owner] + z).numpy(), beta))
    assert float(cpu.above.max()) <= 1e-3


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
    ref = ref[:, 0]
    assert np.all(ref <= v + above + 1e-12) and np.all(ref >= v - below - 1e-12)
    # float64 paths: round-off only; the clustered path's float32 blocks: within its ~1e-4 bound
    assert np.abs(v - ref).max() < (1e-6 if method != "clustered" else 1e-4) and above.max() <= 1e-3


def test_float32_centres_near_saturation_are_merged_with_a_bound():
    """Saturated tanh units in float32 give centres 1 ulp apart: merged, with the change bounded."""
    g = torch.Generator().manual_seed(0)
    x = torch.tanh(8 * torch.randn(4000, 3, generator=g)).double()  # many 1 - 6e-8 and 1.0 values
    mix = GaussianMixture(x, 0.005)
    owner = torch.arange(0, 4000, 7)
    z = 0.005 * torch.randn(owner.numel(), 3, generator=g, dtype=torch.float64)
    out = mix.log_density(owner, z)
    ref = reference_log_g(x.numpy(), (x[owner] + z).numpy(), 0.005)[:, 0]
    assert np.all(np.abs(out.values[:, 0].numpy() - ref) <= torch.maximum(out.above, out.below)[:, 0].numpy() + 1e-12)



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
    ref = reference_log_g(c.numpy(), (c[owner] + z).numpy(), beta)[:, 0]
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


@pytest.mark.parametrize("env, expected", [(None, None), ("1", 1), ("0", None), ("x", None), ("64", None)])
def test_the_engines_threads_keep_to_the_thread_cap_of_the_environment(monkeypatch, env, expected):
    """OMP_NUM_THREADS (Ray sets it to a task's CPUs) caps the engine's own threads (k-d tree queries and
    run_parts); otherwise every core the process may use (its affinity mask)."""
    from estimators.mixture.threads import workers

    cores = len(os.sched_getaffinity(0))
    if env is None:
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    else:
        monkeypatch.setenv("OMP_NUM_THREADS", env)
    assert workers() == (cores if expected is None else min(cores, expected))


@pytest.mark.parametrize("method, spread", [("clustered", 0.4), ("truncated", 4.0)])
def test_the_engines_two_parts_give_the_same_values_on_one_thread_and_on_two(monkeypatch, method, spread):
    """Large blocks are cut into fixed parts (estimators.mixture.threads.run_parts): run side by side where two
    cores are free, or in turn under OMP_NUM_THREADS=1, they give bit-identical values and bounds, and both
    stay within the float64 reference's bounds. Two tight clusters of 2000 (clustered: chunks of 20000 rows,
    threaded) or loose ones (truncated: several owner blocks)."""
    import estimators.mixture.threads as threads

    beta = 0.005
    x = clusters(4000, 10, 2, spread, beta, seed=11)
    owner = torch.arange(4000).repeat_interleave(10)
    z = beta * torch.randn(owner.numel(), 10, generator=torch.Generator().manual_seed(12), dtype=torch.float64)
    pools = []

    class Counted(threads.ThreadPoolExecutor):
        def __init__(self, n):
            pools.append(n)
            super().__init__(n)

    monkeypatch.setattr(threads, "ThreadPoolExecutor", Counted)
    out = {}
    for cap in ("1", None):
        if cap is None:
            monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
        else:
            monkeypatch.setenv("OMP_NUM_THREADS", cap)
        mix = GaussianMixture(x, beta, method=method, memory_mb=4.0)
        out[cap] = mix.log_density(owner, z)
        assert mix.last_path == method
    assert set(pools) == ({2} if len(os.sched_getaffinity(0)) >= 2 else set())  # threads only without the cap
    for field in ("values", "above", "below"):
        assert torch.equal(getattr(out["1"], field), getattr(out[None], field))
    sub = torch.arange(0, owner.numel(), 97)
    ref = reference_log_g(x.numpy(), (x[owner[sub]] + z[sub]).numpy(), beta)[:, 0]
    v, a, b = (getattr(out[None], f)[sub, 0].numpy() for f in ("values", "above", "below"))
    assert np.all(ref <= v + a + 1e-12) and np.all(ref >= v - b - 1e-12) and a.max() <= 1e-3


def test_run_parts_keeps_the_order_and_raises_what_a_part_raises():
    from estimators.mixture.threads import run_parts

    assert run_parts(lambda part: [2 * v for v in part], [[1, 2], [3], []], threads=2) == [[2, 4], [6], []]
    with pytest.raises(ZeroDivisionError):
        run_parts(lambda part: 1 / part, [1, 0], threads=2)
