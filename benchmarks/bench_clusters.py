"""sp_entropy where centres cluster at the noise scale: time and accuracy against KernelDensity, the dense
path and the exp-count limit, for clusters of every spread from 0.1 beta to 10 beta.

    python benchmarks/bench_clusters.py            # d = 10, n = 16384 (the acceptance rows) + a cross-section
    python benchmarks/bench_clusters.py --quick    # 3 rows, about a minute
    python benchmarks/bench_clusters.py --full     # spreads x clusters {16, 64, 256} x n {16384, 65536} x d {3, 4, 10}
    python benchmarks/bench_clusters.py --paths    # also the engine with each path forced (calibrates the choice)

Centres (n, d): ``k`` cluster means tanh(2 g), g ~ N(0, I_d) (inside the cube of a tanh layer), each centre a
mean plus N(0, (s beta)^2 I_d), all in float32 (as network representations are), used in float64; beta =
0.005. Queries: the n_mc = 10 draws around every centre that ``sp_entropy(x, beta, n_mc=10,
population=True, generator=seed)`` makes (Q = 10 n). Columns, all from one process, methods interleaved,
the minimum of --repeats runs (a call longer than --long seconds runs once):

* ``sp``: ``sp_entropy`` itself, at the library's defaults (tol = 1e-3, method auto; ``path`` is the one
  the engine took); ``skl``: ``KernelDensity(bandwidth=beta, rtol=1e-3).fit(x).score_samples(queries)``
  on the same draws (``~``: extrapolated from a 1/8 pilot where a full call would pass --limit);
  ``dense``: the engine's dense float64 path on the same draws (``~`` likewise); ``skl/sp``, ``dense/sp``:
  the ratios;
* ``limit``: the exp-count lower bound: the fewest kernel terms any term-by-term method must evaluate
  (for each query, the fewest largest terms whose sum reaches (1 - tol/10) of the total, counted exactly
  by brute force on the checked queries and scaled to Q), divided by this machine's float32 exponential
  throughput (the faster of exp and exp2, measured at the start); ``cert``: the same for the components
  within each query's truncation distance (those a method that bounds the rest only by its weight must
  sum, as the engine's blocks do);
  ``sp/limit`` and ``sp/cert`` say how far sp_entropy is from each;
* ``err``: max |ln g - reference| over 2048 queries (the engine's values and KernelDensity's) against a
  float64 direct-difference sum over all centres; ``bound``: the engine's largest reported bound there;
  ``ok``: every reference value inside the engine's interval.

Torch runs with its default thread count: the engine chooses its own (one thread) whatever the caller's
setting; KernelDensity is single-threaded. Where CUDA is present the engine runs there (``--device``,
default ``cuda`` when available): sp_entropy and the dense path on the GPU, KernelDensity on the CPU.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time
from pathlib import Path

import sklearn
import torch
from sklearn.neighbors import KernelDensity

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.engine_version import engine_fingerprint  # noqa: E402
from estimators.mixture import GaussianMixture  # noqa: E402
from estimators.sp import sp_entropy  # noqa: E402
from estimators.stratified import draw_blocks  # noqa: E402

BETA = 0.005
N_MC = 10
SPREADS = (0.1, 0.4, 1.0, 2.0, 4.0, 10.0)


def make_centres(n: int, d: int, k: int, spread: float, seed: int, beta: float = BETA) -> torch.Tensor:
    """(n, d) float64: k clusters of n centres in total, means tanh(2 g), each centre a mean plus
    N(0, (spread beta)^2 I_d), drawn in float32."""
    g = torch.Generator().manual_seed(seed)
    means = torch.tanh(2.0 * torch.randn(k, d, generator=g, dtype=torch.float32))
    label = torch.randint(0, k, (n,), generator=g)
    return (means[label] + spread * beta * torch.randn(n, d, generator=g, dtype=torch.float32)).double()


def sp_draws(n: int, d: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The owners and offsets sp_entropy(population=True, n_mc=N_MC, generator=seed) draws."""
    z = torch.cat([b for _, b in draw_blocks(n, N_MC, d, BETA, torch.Generator().manual_seed(seed), memory_mb=256.0)])
    return torch.arange(n).repeat_interleave(N_MC), z.reshape(-1, d)


def reference(x: torch.Tensor, q: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """ln g at q = owner + z by direct differences over all centres, float64; the fewest terms reaching
    (1 - tol/10) of each sum; the centres within the query's truncation distance r_q, r_q^2 = ||z||^2 +
    2 beta^2 (ln n + ln(10 / tol)) (what a method that bounds the rest by the weight outside must sum).
    Returns (values (b,), mass counts (b,), certified counts (b,))."""
    n, d = x.shape
    vals, mass, cert = torch.empty(q.shape[0], dtype=torch.float64), torch.empty(q.shape[0]), torch.empty(q.shape[0])
    r2 = (z**2).sum(1) + 2 * BETA**2 * (math.log(n) + math.log(1e4))
    for a in range(0, q.shape[0], 64):
        sq = torch.cdist(q[a : a + 64], x, compute_mode="donot_use_mm_for_euclid_dist").square_()
        e = -sq / (2 * BETA**2)
        vals[a : a + 64] = torch.logsumexp(e, 1)
        terms = torch.exp(e - e.max(1, keepdim=True).values).sort(1, descending=True).values
        cum = terms.cumsum(1)
        mass[a : a + 64] = (cum < (1.0 - 1e-4) * cum[:, -1:]).sum(1) + 1
        cert[a : a + 64] = (sq <= r2[a : a + 64, None]).sum(1)
    return vals - math.log(n) - 0.5 * d * math.log(2 * math.pi * BETA**2), mass, cert


def exp_rate() -> float:
    """Exponentials per second on this machine, one thread: the faster of float32 exp() and exp2() (the
    engine takes exp2 of base-2 exponents), in place on 4M entries in [-50, 0] (no underflow), best of 5."""
    x = -50.0 * torch.rand(4 * 2**20)
    best = math.inf
    with_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    for _ in range(5):
        for f in (torch.Tensor.exp_, torch.Tensor.exp2_):
            y = x.clone()
            t = time.perf_counter()
            f(y)
            best = min(best, time.perf_counter() - t)
    torch.set_num_threads(with_threads)
    return x.numel() / best


def timed(f, repeats: int, long: float) -> tuple[float, object]:
    best, out = math.inf, None
    for _ in range(repeats):
        t = time.perf_counter()
        out = f()
        best = min(best, time.perf_counter() - t)
        if best > long:
            break
    return best, out


def bench(n: int, d: int, k: int, spread: float, args, rate: float) -> dict:
    x = make_centres(n, d, k, spread, args.seed)
    owner, z = sp_draws(n, d, args.seed + 1)
    q = x[owner] + z
    row = {"n": n, "d": d, "k": k, "s": spread}
    t_sp, est = timed(lambda: sp_entropy(x, BETA, n_mc=N_MC, population=True, generator=args.seed + 1,
                                         device=args.device), args.repeats, args.long)
    row.update(t_sp=t_sp, path=est.diagnostics["engine"]["path"])
    sub = torch.randperm(q.shape[0], generator=torch.Generator().manual_seed(args.seed))[: args.n_check]
    ref, mass, cert = reference(x, q[sub], z[sub])
    row["limit"] = float(mass.mean()) * q.shape[0] / rate
    row["cert"] = float(cert.mean()) * q.shape[0] / rate
    mix = GaussianMixture(x, BETA, device=args.device)
    ld = mix.log_density(owner[sub], z[sub])
    v, up, down = ld.values[:, 0].cpu(), ld.above[:, 0].cpu(), ld.below[:, 0].cpu()
    row.update(err=float((v - ref).abs().max()), bound=float(torch.maximum(up, down).max()),
               ok=bool(((ref <= v + up + 1e-12) & (ref >= v - down - 1e-12)).all()))
    # KernelDensity and the dense path: a pilot on 1/8 of the queries, extrapolated past --limit
    pilot = slice(0, q.shape[0] // 8)
    skl = lambda qq: KernelDensity(bandwidth=BETA, rtol=1e-3).fit(x.numpy()).score_samples(qq.numpy())
    dns = lambda o, zz: GaussianMixture(x, BETA, method="dense", device=args.device).log_density(o, zz)
    for name, full, part in (("skl", lambda: skl(q), lambda: skl(q[pilot])),
                             ("dense", lambda: dns(owner, z), lambda: dns(owner[pilot], z[pilot]))):
        t0 = time.perf_counter()
        part()
        est_full = 8.0 * (time.perf_counter() - t0)
        if est_full > args.limit:
            row[f"t_{name}"], row[f"{name}_est"] = est_full, True
        else:
            row[f"t_{name}"], _ = timed(full, args.repeats, args.long)
    row["err_skl"] = float((torch.as_tensor(skl(q[sub])) - ref).abs().max())
    if args.paths:
        for path in ("clustered", "truncated"):
            row[f"t_{path}"], _ = timed(lambda: GaussianMixture(x, BETA, method=path, device=args.device)
                                        .log_density(owner, z), args.repeats, args.long)
    return row


HEADER = (f"{'n':>6s} {'d':>2s} {'k':>4s} {'s/beta':>6s} {'path':>9s} | {'sp s':>7s} {'skl s':>8s} {'dense s':>8s} "
          f"{'limit s':>7s} {'cert s':>7s} | {'skl/sp':>7s} {'dense/sp':>8s} {'sp/limit':>8s} {'sp/cert':>7s} | {'err sp':>7s} {'bound':>7s} ok "
          f"{'err skl':>7s}")


def fmt(r: dict, paths: bool) -> str:
    t = lambda name: ("~" if r.get(f"{name}_est") else "") + f"{r[f't_{name}']:.3f}"
    ratio = lambda name: ("~" if r.get(f"{name}_est") else "") + f"{r[f't_{name}'] / r['t_sp']:.1f}"
    line = (f"{r['n']:6d} {r['d']:2d} {r['k']:4d} {r['s']:6.1f} {r['path']:>9s} | {r['t_sp']:7.3f} {t('skl'):>8s} "
            f"{t('dense'):>8s} {r['limit']:7.3f} {r['cert']:7.3f} | {ratio('skl'):>7s} {ratio('dense'):>8s} "
            f"{r['t_sp'] / r['limit']:8.1f} {r['t_sp'] / r['cert']:7.1f} | {r['err']:7.1e} {r['bound']:7.1e} {'yes' if r['ok'] else 'NO':>2s} "
            f"{r['err_skl']:7.1e}")
    if paths:
        line += f" | clustered {r['t_clustered']:.3f} truncated {r['t_truncated']:.3f}"
    return line


def configs(args) -> list[tuple[int, int, int, float]]:
    if args.quick:
        return [(16384, 10, 32, s) for s in (0.1, 2.0, 10.0)]
    if args.full:
        return [(n, d, k, s) for n in (16384, 65536) for d in (10, 4, 3) for k in (16, 64, 256) for s in SPREADS]
    rows = [(16384, 10, k, s) for k in (16, 256) for s in SPREADS]
    rows += [(16384, d, 64, s) for d in (3, 4) for s in SPREADS]
    rows += [(65536, d, 64, s) for d in (10, 3) for s in (0.4, 2.0, 10.0)]
    return rows


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    g = p.add_mutually_exclusive_group()
    g.add_argument("--quick", action="store_true")
    g.add_argument("--full", action="store_true")
    p.add_argument("--config", action="append", default=[], help="n,d,k,s (s in units of beta; repeatable)")
    p.add_argument("--paths", action="store_true", help="also time the clustered and truncated paths forced")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--long", type=float, default=5.0, help="a call longer than this (s) runs once")
    p.add_argument("--limit", type=float, default=30.0, help="extrapolate a baseline whose pilot predicts more (s)")
    p.add_argument("--n-check", type=int, default=2048, help="queries checked against the reference")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = p.parse_args(argv)
    rows = [tuple(t(v) for t, v in zip((int, int, int, float), c.split(","))) for c in args.config] or configs(args)
    rate = exp_rate()
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} {platform.machine()} {os.cpu_count()} cores, load "
          f"{os.getloadavg()[0]:.1f}; torch {torch.__version__} (default threads {torch.get_num_threads()}), "
          f"scikit-learn {sklearn.__version__}; engine {engine_fingerprint()}; device {args.device}")
    print(f"# beta = {BETA}, n_mc = {N_MC}, Q = 10 n queries; float32 exp2: {rate / 1e9:.2f} G/s; minimum of "
          f"{args.repeats} runs; ~ = extrapolated from a 1/8 pilot; errors in nats over {args.n_check} queries")
    print(HEADER)
    worst = {}
    for n, d, k, s in rows:
        r = bench(n, d, k, s, args, rate)
        print(fmt(r, args.paths), flush=True)
        if d == 10 and n == 16384:
            worst[s] = min(worst.get(s, math.inf), r["t_skl"] / r["t_sp"])
    if worst:
        print("# acceptance (issue 11): KernelDensity / sp_entropy >= 10 at d = 10, n = 16384, every spread: "
              + ", ".join(f"{s:g} beta {v:.1f}" for s, v in worst.items())
              + (" -> PASS" if min(worst.values()) >= 10 else " -> FAIL"))


if __name__ == "__main__":
    main()
