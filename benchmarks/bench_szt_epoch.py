"""End-to-end time of one SZT measurement epoch, and the full paper schedule extrapolated from it.

    python benchmarks/bench_szt_epoch.py           # trains 3000 epochs, then R in {32, 64, 128} (about 5-10 min)
    python benchmarks/bench_szt_epoch.py --quick   # 300 training epochs, R = 32, diagnostics on only
    python benchmarks/bench_szt_epoch.py --full    # the same with 3 repeats of every measurement (median)
    python benchmarks/bench_szt_epoch.py --save-trained /tmp/szt3000.pt   # also keep the trained state
    python benchmarks/bench_szt_epoch.py --checkpoint runs/szt/<id>/checkpoints/epoch_003000.pt

A measurement epoch is what ``experiments.szt`` does at each scheduled epoch: ``Trainer.evaluate`` noise off and
on, then ``noisynet.flow.iter_information_flow`` with the experiment's defaults (n_mc = 1, n_query = 2, all 5
hidden layers, I(X;T) and I(T;Y), on all 4096 inputs), for R replicas, with the clustering diagnostics on
and off (off only at the smallest R: the "diag" column of the "on" rows is the diagnostics' own time). It is
timed on the untrained network (epoch 0) and on a trained one (--train-epochs with the
experiment's Trainer, whose epochs/s is measured too; or a checkpoint). Per layer: the SP time (the row's
``seconds``), the diagnostics time, and the 95% interval half-widths of I(X;T) and I(T;Y).

Threads: everything runs with torch.set_num_threads(--threads, default 1). Training speed is also measured
at 1 and 2 threads side by side: on this shared 2-core machine the default of 2 threads makes the tiny SZT
training steps an order of magnitude slower.

The full schedule (10,000 epochs; ``log_schedule(10000, 100)`` measured epochs) is extrapolated as
training time (10,000 / measured epochs/s) + (number of measured epochs) x (measurement-epoch time), with
the measurement time bracketed by the untrained and trained networks (compression makes late epochs cheaper
or dearer depending on the engine's path). The issue's target: half-widths <= 0.1 nats within 45 minutes.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.engine_version import engine_fingerprint  # noqa: E402
from experiments.runs import log_schedule  # noqa: E402
from experiments.szt import WIDTHS  # noqa: E402
from noisynet.data import load_szt  # noqa: E402
from noisynet.flow import iter_information_flow  # noqa: E402
from noisynet.models import mlp  # noqa: E402
from noisynet.training import Trainer  # noqa: E402
from noisynet.twin import NoisyTwin  # noqa: E402


def make_trainer(seed: int, beta: float):
    data = load_szt()
    twin = NoisyTwin(mlp(WIDTHS, "tanh", seed=seed), beta)
    trainer = Trainer(twin, data.x[data.train], data.y[data.train], data.x[data.test], data.y[data.test],
                      lr=4e-4, batch_size=256, seed=seed)
    return data, twin, trainer


def measure_epoch(trainer, twin, data, replicas: int, diagnostics: bool, seed: int) -> dict:
    """One measurement epoch as experiments.loop.measure_epoch does it (without the files)."""
    t0 = time.perf_counter()
    for noise in (False, True):
        trainer.evaluate(noise=noise)
    t_eval = time.perf_counter() - t0
    t1 = time.perf_counter()
    rows = list(iter_information_flow(twin, data.x, data.y, replicas=replicas, n_mc=1, n_query=2, seed=seed,
                                      diagnostics=diagnostics))
    t_flow = time.perf_counter() - t1
    layers = {}
    for r in rows:
        lay = layers.setdefault(r["layer"], {"sp": 0.0, "diag": 0.0})
        if r["quantity"] == "I_XT":
            lay["sp"] = r["seconds"]
            lay["ixt"], lay["hw_xt"] = r["value"], 0.5 * (r["ci_high"] - r["ci_low"])
            lay["conv_xt"] = r["converged"]
            lay["dim"] = r["layer_dim"]
        elif r["quantity"] == "I_TY":
            lay["ity"], lay["hw_ty"] = r["value"], 0.5 * (r["ci_high"] - r["ci_low"])
            lay["conv_ty"] = r["converged"]
        elif r["quantity"] == "n_clusters":
            lay["diag"] = r["seconds"] or 0.0
    total = time.perf_counter() - t0
    sp = sum(v["sp"] for v in layers.values())
    diag = sum(v["diag"] for v in layers.values())
    return {"total": total, "eval": t_eval, "flow": t_flow, "sp": sp, "diag": diag,
            "other": t_flow - sp - diag, "layers": layers}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    g = p.add_mutually_exclusive_group()
    g.add_argument("--quick", action="store_true")
    g.add_argument("--full", action="store_true")
    p.add_argument("--train-epochs", type=int, default=3000)
    p.add_argument("--checkpoint", default=None, help="a Trainer state (.pt) to use as the trained network")
    p.add_argument("--replicas", default="32,64,128", help="comma-separated R")
    p.add_argument("--save-trained", default=None, help="write the trained Trainer state here (.pt)")
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")
    p.add_argument("--beta", type=float, default=0.005)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--target-minutes", type=float, default=45.0)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    replicas = [int(r) for r in args.replicas.split(",")]
    repeats = 3 if args.full else args.repeats
    train_epochs = 300 if args.quick and args.checkpoint is None else args.train_epochs
    if args.quick:
        replicas = replicas[:1]
    schedule = log_schedule(10_000, 100)
    print(f"# engine: estimators/mixture/ sha1 {engine_fingerprint()}; load average "
          f"{os.getloadavg()[0]:.1f} at start")
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} {platform.machine()} {os.cpu_count()} cores (shared), torch "
          f"{torch.__version__}, threads {torch.get_num_threads()}; SZT 12-10-7-5-4-3-2 tanh, beta = {args.beta:g}; "
          f"flow: n_mc = 1, n_query = 2; {repeats} repeat(s), median")

    # training speed at 1 and 2 threads, interleaved, on a throw-away trainer
    _, _, probe = make_trainer(args.seed + 1, args.beta)
    speed = {1: [], 2: []}
    probe.train_epoch()
    for _ in range(3):
        for th in (1, 2):
            torch.set_num_threads(th)
            t0 = time.perf_counter()
            for _ in range(10):
                probe.train_epoch()
            speed[th].append(10 / (time.perf_counter() - t0))
    torch.set_num_threads(args.threads)
    print(f"# training speed (3 x 10 epochs each, interleaved): 1 thread {statistics.median(speed[1]):.1f} epochs/s, "
          f"2 threads {statistics.median(speed[2]):.1f} epochs/s")

    data, twin, trainer = make_trainer(args.seed, args.beta)
    nets = {}
    untrained = {k: v.clone() for k, v in twin.model.state_dict().items()}
    # training speed (and the trained network)
    t0 = time.perf_counter()
    if args.checkpoint:
        trainer.load_state_dict(torch.load(args.checkpoint, weights_only=True))
        probe = min(200, train_epochs)
        state = trainer.state_dict()
        t0 = time.perf_counter()
        for _ in range(probe):
            trainer.train_epoch()
        eps = probe / (time.perf_counter() - t0)
        trainer.load_state_dict(state)
        label = f"trained ({trainer.epoch} ep, ckpt)"
    else:
        for _ in range(train_epochs):
            trainer.train_epoch()
        eps = train_epochs / (time.perf_counter() - t0)
        label = f"trained ({train_epochs} ep)"
    acc = trainer.evaluate()
    if args.save_trained:
        torch.save(trainer.state_dict(), args.save_trained)
    print(f"# training: {eps:.1f} epochs/s ({1000 / eps:.1f} ms/epoch of {len(data.train)} rows, batch 256); "
          f"trained network: train acc {acc['train_acc']:.3f}, test acc {acc['test_acc']:.3f} (noise off)")
    nets[label] = {k: v.clone() for k, v in twin.model.state_dict().items()}
    nets["untrained (ep 0)"] = untrained

    results = {}
    hdr = (f"{'network':22s} {'R':>4s} {'diag':>4s} | {'epoch s':>7s} {'eval':>5s} {'prop+':>6s} {'SP':>6s} "
           f"{'diag':>6s} | " + " ".join(f"{'T' + str(i) + ' sp':>7s}" for i in range(1, 6))
           + " | " + " ".join(f"{'hwX/hwY T' + str(i):>13s}" for i in range(1, 6)))
    print(hdr)
    for R in replicas:
        for label, state in nets.items():
            twin.model.load_state_dict(state)
            for diag in ((True,) if args.quick or R != replicas[0] else (True, False)):
                reps = [measure_epoch(trainer, twin, data, R, diag, seed=args.seed * 100_003 + 1)
                        for _ in range(repeats)]
                med = {k: statistics.median(r[k] for r in reps) for k in ("total", "eval", "sp", "diag", "other")}
                lay = reps[0]["layers"]
                results[(label, R, diag)] = (med, lay)
                per = " ".join(f"{statistics.median(r['layers'][s]['sp'] for r in reps):7.2f}" for s in sorted(lay))
                hws = " ".join(f"{lay[s]['hw_xt']:6.3f}/{lay[s]['hw_ty']:6.3f}" for s in sorted(lay))
                print(f"{label:22s} {R:4d} {'on' if diag else 'off':>4s} | {med['total']:7.2f} {med['eval']:5.2f} "
                      f"{med['other']:6.2f} {med['sp']:6.2f} {med['diag']:6.2f} | {per} | {hws}", flush=True)
    # values and convergence of the last R
    print("\n# estimates at the largest R (nats; * = nested-replica diagnostic not converged, interval widened)")
    R = replicas[-1]
    for label in nets:
        med, lay = results[(label, R, True)] if (label, R, True) in results else results[(label, R, False)]
        cells = []
        for s in sorted(lay):
            v = lay[s]
            cells.append(f"{s}: I_XT {v['ixt']:.3f}+-{v['hw_xt']:.3f}{'*' if v['conv_xt'] is False else ''} "
                         f"I_TY {v['ity']:.3f}+-{v['hw_ty']:.3f}{'*' if v['conv_ty'] is False else ''}")
        print(f"{label:22s} R={R}: " + "; ".join(cells))

    n_meas = len(schedule)
    t_train = 10_000 / eps
    print(f"\n# full paper schedule: 10,000 training epochs ({t_train / 60:.1f} min at {eps:.1f} epochs/s) + {n_meas} "
          f"measured epochs (log_schedule(10000, 100)); measurement bracketed by the untrained and trained networks")
    print(f"{'R':>4s} {'diag':>4s} | {'epoch s (untr/trained)':>22s} | {'total min (low-high)':>20s} | "
          f"{'max hw I_XT':>11s} {'max hw I_TY':>11s} | {'<= 45 min':>9s} {'hw <= 0.1':>9s}")
    for R in replicas:
        for diag in (True, False):
            if (next(iter(nets)), R, diag) not in results:
                continue
            ts = [results[(label, R, diag)][0]["total"] for label in nets]
            hw_x = max(v["hw_xt"] for label in nets for v in results[(label, R, diag)][1].values())
            hw_y = max(v["hw_ty"] for label in nets for v in results[(label, R, diag)][1].values())
            lo, hi = (t_train + n_meas * min(ts)) / 60, (t_train + n_meas * max(ts)) / 60
            print(f"{R:4d} {'on' if diag else 'off':>4s} | {ts[1]:10.1f} / {ts[0]:9.1f} | {lo:9.1f} - {hi:8.1f} | "
                  f"{hw_x:11.3f} {hw_y:11.3f} | {'yes' if hi <= args.target_minutes else ('maybe' if lo <= args.target_minutes else 'NO'):>9s} "
                  f"{'yes' if max(hw_x, hw_y) <= 0.1 else 'NO':>9s}")


if __name__ == "__main__":
    main()
