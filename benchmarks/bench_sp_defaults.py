"""Time of sp_mutual_information at its default query units against the previous default, side by side.

    flock /tmp/team/cpu.lock python benchmarks/bench_sp_defaults.py            # 9 repeats, median
    flock /tmp/team/cpu.lock python benchmarks/bench_sp_defaults.py --repeats 9 --threads 2

The default number of query units per input is min(R, max(min(8, R // 4), ceil(min_draws / (m n_mc)))):
the draw budget (min_draws = 2048) goes to query units before Monte Carlo draws, so a few inputs get every
replica queried. The previous default was min(8, R // 4) units, with n_mc raised to reach min_draws; it is
run here as an explicit ``n_query`` (the same code path). Cases: the coverage study's few-input two-layer
chain (``estimators.ground_truth.coverage.two_layer_samples``, m = 4 and 6, d = 1), and layers of many
inputs (d = 2 to 10) where both defaults give the same units. Prints per case the units and draws of
each, the median seconds, and the ratio new / old. The SZT job passes n_query = 2 and n_mc = 1 explicitly
(noisynet.flow), so its calls are not affected.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from estimators import sp_mutual_information  # noqa: E402
from estimators.ground_truth.coverage import two_layer_samples  # noqa: E402


def wide(m: int, replicas: int, d: int, beta: float, gen: torch.Generator) -> torch.Tensor:
    """(m, R, d): tanh of random input points plus replica noise of std 2 beta (a hidden tanh layer)."""
    centre = torch.randn(m, 1, d, generator=gen, dtype=torch.float64)
    return torch.tanh(centre + 2 * beta * torch.randn(m, replicas, d, generator=gen, dtype=torch.float64))


def side_by_side(samples: torch.Tensor, beta: float, repeats: int, old_units: int) -> tuple:
    """(old seconds, new seconds, old params, new params): medians over ``repeats`` of the previous default
    (``old_units`` explicit) and of the default, the two calls interleaved in every repeat so that a change
    in the machine's load hits both."""
    times, params = ([], []), [None, None]
    for r in range(repeats):
        for k, kw in enumerate(({"n_query": old_units}, {})):
            t0 = time.perf_counter()
            params[k] = sp_mutual_information(samples, beta, generator=r, **kw).params
            times[k].append(time.perf_counter() - t0)
    return statistics.median(times[0]), statistics.median(times[1]), *params


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=9)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(0)
    cases = [(f"chain m={m} R={r} beta={b:g}", two_layer_samples(m, r, b, gen), b)
             for m in (4, 6) for r in (32, 64, 128, 256) for b in (0.1, 0.5)]
    cases += [(f"tanh layer m={m} R={r} d={d}", wide(m, r, d, 0.1, gen), 0.1)
              for m, r, d in ((64, 64, 2), (256, 128, 5), (1024, 32, 10))]
    print(f"torch threads {args.threads}, median of {args.repeats}")
    print("| case | old units x draws | new units x draws | old s | new s | new / old |")
    print("|---|---:|---:|---:|---:|---:|")
    total = [0.0, 0.0]
    for name, s, beta in cases:
        t_old, t_new, p_old, p_new = side_by_side(s, beta, args.repeats, min(8, s.shape[1] // 4))
        total[0] += t_old
        total[1] += t_new
        print(f"| {name} | {p_old['n_query']} x {p_old['n_mc']} | {p_new['n_query']} x {p_new['n_mc']} "
              f"| {t_old:.4f} | {t_new:.4f} | {t_new / t_old:.2f} |", flush=True)
    print(f"| all cases | | | {total[0]:.3f} | {total[1]:.3f} | {total[1] / total[0]:.2f} |")


if __name__ == "__main__":
    main()
