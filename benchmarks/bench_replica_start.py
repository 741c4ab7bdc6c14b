"""What the first R of a layer's replica doubling costs: every measured (epoch, layer) starting at
--min-replicas (8), against starting at half the R the layer needed at the previous measured epoch.

    python benchmarks/bench_replica_start.py            # SZT 3000 epochs, every 2nd of the 36 measured epochs, T2-T5
    python benchmarks/bench_replica_start.py --quick    # 300 epochs, 6 measured epochs
    python benchmarks/bench_replica_start.py --every 1  # every measured epoch

Why it matters: ``noisynet.flow.iter_information_flow`` doubles R per layer from a first R until both 95%
intervals are at most --target-half-width (0.1 nats) wide on each side. Starting from the previous measured
epoch's R chains the epochs of a layer one after the other, so measurement tasks of one layer cannot run in
parallel; starting every (epoch, layer) at --min-replicas makes each a function of (seed, epoch, layer) only,
at the price of the cheap small-R attempts.

The script trains the SZT twin (experiments.szt's defaults: tanh, beta = 0.005, Adam 4e-4, batch 256) and, at
the measured epochs of ``log_schedule(epochs, 40)``, computes every layer's SP estimate at each R in
{8, 16, 32, 64, 128} exactly as the flow does (same propagation seed, same Monte Carlo seed, same query
units), timing each. Both rules are then replayed on these attempts: an attempt's result does not depend on the
rule, only which attempts are made. Printed: per layer, the seconds each rule spends, their ratio, the R each
stops at, and the largest difference between the two rules' I(X;T) estimates relative to their half-widths.
With ``--every 2`` the chained rule is replayed on every second measured epoch (its previous epoch is then two
measured epochs back): labelled as such.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.engine_version import engine_fingerprint  # noqa: E402
from estimators import sp_mutual_information  # noqa: E402
from experiments.loop import epoch_seed  # noqa: E402
from experiments.runs import log_schedule  # noqa: E402
from experiments.szt import WIDTHS, parser  # noqa: E402

SZT = parser().parse_args([])  # the experiment's defaults (lr, batch size)
from noisynet.data import load_szt  # noqa: E402
from noisynet.models import mlp  # noqa: E402
from noisynet.training import Trainer  # noqa: E402
from noisynet.twin import NoisyTwin  # noqa: E402

RS = (8, 16, 32, 64, 128)


class Attempts:
    """One (epoch, layer)'s SP estimates at the R of RS, computed on first use exactly as iter_information_flow
    computes them (same propagated samples, Monte Carlo seed and query units) and timed:
    ``self[r] = (seconds, max half-width, I_XT value, I_XT half-width)``."""

    def __init__(self, twin: NoisyTwin, samples: torch.Tensor, site: str, y, seed: int):
        self.twin, self.s, self.site, self.y, self.seed, self.done = twin, samples, site, y, seed, {}

    def __getitem__(self, r: int) -> tuple[float, float, float, float]:
        if r not in self.done:
            index = self.twin.site_names.index(self.site)
            t0 = time.perf_counter()
            info = sp_mutual_information(self.s[:, :r], self.twin.betas[self.site], self.y, n_mc=1,
                                         n_query=2,  # the flow's min(n_query = 2, max(2, R // 4))
                                         generator=self.seed * 1000 + index)
            self.done[r] = (time.perf_counter() - t0, max(info.i_xt.half_width, info.i_ty.half_width),
                            info.i_xt.value, info.i_xt.half_width)
        return self.done[r]


def replay(table: Attempts, start: int, target: float) -> tuple[float, int]:
    """Seconds spent and the R stopped at, doubling from ``start`` until the half-width is <= target."""
    spent, r = 0.0, start
    while True:
        sec, hw, _, _ = table[r]
        spent += sec
        if hw <= target or r == RS[-1]:
            return spent, r
        r *= 2


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="300 training epochs, 6 measured epochs")
    p.add_argument("--epochs", type=int, default=3000)
    p.add_argument("--every", type=int, default=2, help="use every k-th measured epoch")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--target-half-width", type=float, default=0.1)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    epochs, n_measure = (300, 6) if args.quick else (args.epochs, 40)
    schedule = log_schedule(epochs, n_measure)[:: args.every]
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} engine {engine_fingerprint()}; load "
          f"{os.getloadavg()[0]:.1f}; SZT tanh beta 0.005 seed {args.seed}, {epochs} epochs, {len(schedule)} measured "
          f"epochs (every {args.every} of log_schedule({epochs}, {n_measure})), 1 thread")
    data = load_szt()
    twin = NoisyTwin(mlp(WIDTHS, "tanh", seed=args.seed), 0.005)
    trainer = Trainer(twin, data.x[data.train], data.y[data.train], data.x[data.test], data.y[data.test],
                      lr=SZT.lr, batch_size=SZT.batch_size, seed=args.seed)
    sites = twin.site_names[1:]  # T1 needs no replicas (R = 2 whatever the rule)
    stats = {site: {"min": 0.0, "chain": 0.0, "rs": [], "worst": 0.0, "prev": None} for site in sites}
    for epoch in schedule:
        while trainer.epoch < epoch:
            trainer.train_epoch()
        seed = epoch_seed(args.seed, epoch)
        samples = twin.propagate(data.x, RS[-1], generator=seed, sites=sites)
        for site in sites:
            tab, st = Attempts(twin, samples[site], site, data.y, seed), stats[site]
            a, r_min = replay(tab, RS[0], args.target_half_width)
            b, r_chain = replay(tab, max(RS[0], st["prev"] // 2) if st["prev"] else RS[0], args.target_half_width)
            st["prev"] = r_chain
            st["min"], st["chain"] = st["min"] + a, st["chain"] + b
            st["rs"].append(f"{r_min}/{r_chain}")
            hw = max(tab[r_min][3], tab[r_chain][3])
            st["worst"] = max(st["worst"], abs(tab[r_min][2] - tab[r_chain][2]) / hw if hw > 0 else 0.0)
        print(f"#   epoch {epoch}: " + ", ".join(f"{s} R {stats[s]['rs'][-1]}" for s in sites), flush=True)
    print(f"\n{'layer':5} | {'s start=8':>9} {'s chained':>9} {'ratio':>6} | {'max |dI|/hw':>11} | R stopped "
          "(start=8 / chained) per measured epoch")
    t_min = sum(st["min"] for st in stats.values())
    t_chain = sum(st["chain"] for st in stats.values())
    for site, st in stats.items():
        print(f"{site:5} | {st['min']:9.1f} {st['chain']:9.1f} {st['min'] / st['chain']:6.2f} | {st['worst']:11.2f} | "
              + " ".join(st["rs"]))
    print(f"{'all':5} | {t_min:9.1f} {t_chain:9.1f} {t_min / t_chain:6.2f} |")


if __name__ == "__main__":
    main()
