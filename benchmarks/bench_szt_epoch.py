"""One SZT measured epoch, per layer, at epochs 0, 25, 700 and 3000 of a trained run, with this engine and
(side by side, in this process) with an earlier one; and the default ``python -m experiments.szt`` run
extrapolated from them.

    python benchmarks/bench_szt_epoch.py                       # trains 3000 epochs, then 4 epochs x 2 engines
    python benchmarks/bench_szt_epoch.py --quick               # epochs 0 and 300 of a 300-epoch run
    python benchmarks/bench_szt_epoch.py --baseline none       # this engine only
    python benchmarks/bench_szt_epoch.py --save-states /tmp/szt_states.pt   # keep the trained states

A measured epoch is what ``experiments.szt`` does at each scheduled epoch with its defaults:
``Trainer.evaluate`` noise off and on, then :func:`noisynet.information_flow` on all 4096 inputs (R from 8
doubling to at most 128 until both half-widths of a layer are <= 0.1 nats, n_mc = 1, n_query = 2, the
clustering diagnostics), seeded as the run seeds it (``experiments.loop.epoch_seed``). The network is the
experiment's (12-10-7-5-4-3-2 tanh, beta = 0.005, Adam lr 4e-4, batch 256, seed 0), trained here; its states
at the listed epochs are measured after training, so that every row sees the same machine state.

``--baseline REV`` (default: the engine before issue 11, ``bf4500c~1``) loads ``estimators/mixture.py`` of
that git revision as a module and measures every epoch with it too, interleaved with the current engine
(the estimators' ``GaussianMixture`` swapped for the old one): the per-layer ratio ``old/new`` is from one
process. Seconds are the minimum of --repeats runs of each. The last table extrapolates the default run
(``--epochs 3000``, 40 measured epochs on ``log_schedule(3000, 40)``): training time at the measured
epochs/s plus, per scheduled epoch, the measured-epoch time interpolated in log(1 + epoch) between the
measured epochs.

Threads: one, as ``experiments.szt`` runs by default (``--threads 1``: training's small operations are
slower with more; the engine sets its own count whatever this is).
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import estimators.sp_mi as sp_mi  # noqa: E402
from benchmarks.engine_version import engine_fingerprint  # noqa: E402
from experiments.loop import epoch_seed  # noqa: E402
from experiments.runs import log_schedule  # noqa: E402
from experiments.szt import WIDTHS, parser  # noqa: E402

SZT = parser().parse_args([])  # the experiment's defaults (lr, batch size)
from noisynet import information_flow  # noqa: E402
from noisynet.data import load_szt  # noqa: E402
from noisynet.models import mlp  # noqa: E402
from noisynet.training import Trainer  # noqa: E402
from noisynet.twin import NoisyTwin  # noqa: E402

FLOW = {"replicas": 128, "min_replicas": 8, "target_half_width": 0.1, "n_mc": 1, "n_query": 2, "diagnostics": True}
CURRENT = sp_mi.GaussianMixture


def old_engine(rev: str):
    """GaussianMixture of estimators/mixture.py at git revision ``rev``, loaded as a separate module."""
    src = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:estimators/mixture.py"], check=True,
                         capture_output=True, text=True).stdout
    path = Path(f"/tmp/noisynet_engine_{os.getpid()}.py")
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("old_mixture_engine", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    path.unlink()
    return module.GaussianMixture


def measured_epoch(trainer: Trainer, twin: NoisyTwin, data, epoch: int, seed: int, engine) -> dict:
    """One measured epoch (evaluation + information_flow) with ``engine`` as the estimators' mixture."""
    sp_mi.GaussianMixture = engine
    try:
        t0 = time.perf_counter()
        for noise in (False, True):
            trainer.evaluate(noise=noise)
        t_eval = time.perf_counter() - t0
        layers = information_flow(twin, data.x, data.y, seed=epoch_seed(seed, epoch), **FLOW)
        total = time.perf_counter() - t0
    finally:
        sp_mi.GaussianMixture = CURRENT
    return {"total": total, "eval": t_eval,
            "layers": {m.site: {"sp": m.seconds, "R": m.replicas, "diag": m.clustering.seconds,
                                "hw_x": m.i_xt.half_width, "hw_y": m.i_ty.half_width, "ixt": m.i_xt.value}
                       for m in layers}}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="a 300-epoch run, epochs 0 and 300, one repeat")
    p.add_argument("--epochs", default="0,25,700,3000", help="measured epochs (the run trains to the last)")
    p.add_argument("--baseline", default="bf4500c~1", help="git revision of the earlier engine, or 'none'")
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--threads", type=int, default=1, help="torch threads (experiments.szt's default: 1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--save-states", default=None, help="also write the trained states here (.pt)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    epochs = [0, 300] if args.quick else sorted(int(e) for e in args.epochs.split(","))
    repeats = 1 if args.quick else args.repeats
    engines = {"new": CURRENT}
    if args.baseline != "none":
        engines["old"] = old_engine(args.baseline)
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} {platform.machine()} {os.cpu_count()} cores, load "
          f"{os.getloadavg()[0]:.1f}; torch {torch.__version__}, threads {torch.get_num_threads()}; engine "
          f"{engine_fingerprint()}" + (f", baseline {args.baseline}" if "old" in engines else ""))
    print(f"# SZT 12-10-7-5-4-3-2 tanh, beta 0.005, seed {args.seed}; flow {FLOW}; minimum of {repeats} run(s)")

    data = load_szt()
    twin = NoisyTwin(mlp(WIDTHS, "tanh", seed=args.seed), 0.005)
    trainer = Trainer(twin, data.x[data.train], data.y[data.train], data.x[data.test], data.y[data.test],
                      lr=SZT.lr, batch_size=SZT.batch_size, seed=args.seed)
    states = {}
    t0 = time.perf_counter()
    while True:
        if trainer.epoch in epochs:
            states[trainer.epoch] = copy.deepcopy(trainer.state_dict())  # state_dict() aliases the weights
        if trainer.epoch >= epochs[-1]:
            break
        trainer.train_epoch()
    speed = epochs[-1] / (time.perf_counter() - t0)
    acc = trainer.evaluate()
    print(f"# training: {speed:.1f} epochs/s; at epoch {epochs[-1]}: train acc {acc['train_acc']:.3f}, test acc "
          f"{acc['test_acc']:.3f} (noise off)")
    if args.save_states:
        torch.save(states, args.save_states)

    results = {}
    for epoch in epochs:
        trainer.load_state_dict(states[epoch])
        for _ in range(repeats):
            for name, engine in engines.items():
                r = measured_epoch(trainer, twin, data, epoch, args.seed, engine)
                best = results.get((epoch, name))
                if best is None or r["total"] < best["total"]:
                    results[(epoch, name)] = r
    sites = list(results[(epochs[0], "new")]["layers"])
    print("\n# one measured epoch, per layer: SP seconds (all R tried) new [old, old/new], R used, half-widths "
          "I(X;T)/I(T;Y) (nats); epoch total = evaluation + all layers + diagnostics")
    head = f"{'epoch':>5s} {'engine':>6s} | {'total s':>7s} {'eval':>5s} {'diag':>5s} | " + " | ".join(
        f"{s:>21s}" for s in sites)
    print(head)
    for epoch in epochs:
        new = results[(epoch, "new")]
        old = results.get((epoch, "old"))
        for name in ("new", "old") if old else ("new",):
            r = results[(epoch, name)]
            diag = sum(v["diag"] for v in r["layers"].values())
            cells = []
            for s in sites:
                v = r["layers"][s]
                if name == "new":
                    cells.append(f"{v['sp']:6.2f}s R{v['R']:<3d} {v['hw_x']:.3f}/{v['hw_y']:.3f}")
                else:
                    cells.append(f"{v['sp']:6.2f}s x{v['sp'] / max(new['layers'][s]['sp'], 1e-9):5.1f}        ")
            print(f"{epoch:5d} {name:>6s} | {r['total']:7.2f} {r['eval']:5.2f} {diag:5.2f} | " + " | ".join(cells))
        if old:
            print(f"{'':5s} {'old/new':>6s} | {old['total'] / new['total']:7.2f}")

    # the default run, extrapolated
    schedule = log_schedule(epochs[-1], 40) if not args.quick else log_schedule(300, 10)
    known = np.array(epochs, dtype=float)
    print(f"\n# default run extrapolated: {epochs[-1]} training epochs at {speed:.1f} epochs/s + {len(schedule)} "
          f"measured epochs (log_schedule), each interpolated in log(1 + epoch) between the measured ones")
    for name in engines:
        per = np.array([results[(e, name)]["total"] for e in epochs])
        meas = float(np.interp(np.log1p(schedule), np.log1p(known), per).sum())
        total = epochs[-1] / speed + meas
        print(f"  {name:>4s} engine: training {epochs[-1] / speed / 60:.1f} min + measurement {meas / 60:.1f} min = "
              f"{total / 60:.1f} min (mean {meas / len(schedule):.1f} s per measured epoch)")


if __name__ == "__main__":
    main()
