"""What the Ray scale-out costs and gains: the SZT run with --workers 1 and --workers 2 side by side, a small
sweep, Ray's start-up time and memory, per-task times, and the 24-run sweep extrapolated to more cores.

    python benchmarks/bench_parallel.py                       # the paper schedule (--epochs 10000): 45-60 min
    python benchmarks/bench_parallel.py --epochs 3000         # the default schedule
    python benchmarks/bench_parallel.py --quick               # --epochs 30, and a 2-run sweep of 30 epochs
    python benchmarks/bench_parallel.py --no-runs --sweep-dir runs/sweeps/<name>   # only the extrapolation

Run it alone on the machine (``flock /tmp/team/cpu.lock``): it measures wall times. Each command runs as
``python -m experiments.szt ... --no-extra-figures`` in a fresh process, one after the other, in the same
script, so that both see the same machine; the rows of the runs are compared (every column but ``seconds``).

Per-task times come from the runs' metrics.csv: a measurement task measures one epoch, and its time is the sum of
the SP time of its layers and of their clustering diagnostics (the ``seconds`` of the I_XT and n_clusters rows;
propagation and transfers excluded). The extrapolation for C cores is labelled as such: with W the CPU time of all
measurement tasks of the 24 runs (from a finished sweep's runs, or 24 times this script's run) plus 24 trainings,
and P the longest chain one run cannot split (its training, then its last epoch's task), the wall time is at
least max(W / C, P) plus Ray's start-up; Ray packs tasks greedily, so it is also at most W / C + P + start-up
(Graham's bound for list scheduling). Both are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from experiments.parallel import OBJECT_STORE_BYTES  # noqa: E402
from experiments.runs import read_csv  # noqa: E402


def rss_mb(pids: list[int]) -> float:
    """Resident memory of the processes ``pids`` (MiB), read from /proc."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (from /proc/*/stat)."""
    parent = {}
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                parent[int(p.name)] = int((p / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    out, frontier = [], [pid]
    while frontier:
        kids = [c for c, pp in parent.items() if pp in frontier]
        out += kids
        frontier = kids
    return out


def ray_startup(workers: int) -> dict:
    """Seconds to start an embedded Ray instance and run a first task that imports torch, and the memory of
    Ray's processes then (driver excluded), measured in a fresh process."""
    code = f"""
import json, os, time
t0 = time.perf_counter()
from experiments import parallel
with parallel.session({workers}):
    t1 = time.perf_counter()
    import ray
    @ray.remote
    def probe():
        import torch
        return os.getpid()
    pids = ray.get([probe.remote() for _ in range({workers})])
    t2 = time.perf_counter()
    print(json.dumps({{"init_s": t1 - t0, "first_tasks_s": t2 - t1, "driver": os.getpid()}}), flush=True)
    time.sleep(3)
    input()
"""
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    info = json.loads(proc.stdout.readline())
    time.sleep(3)
    info["ray_rss_mb"] = rss_mb(descendants(proc.pid))
    info["driver_rss_mb"] = rss_mb([proc.pid])
    proc.communicate("\n", timeout=120)
    return info


SP_WORK = """
import time, torch
from estimators import sp_mutual_information
torch.set_num_threads(1)
g = torch.Generator().manual_seed(0)
s = torch.tanh(torch.randn(4096, 1, 4, generator=g) * 3 + 0.05 * torch.randn(4096, 32, 4, generator=g))
y = (s[:, 0, 0] > 0).long()
t0 = time.perf_counter()
for _ in range(3):
    sp_mutual_information(s, 0.005, y, generator=0)
print(time.perf_counter() - t0)
"""


def core_scaling() -> tuple[float, float]:
    """Seconds of a fixed SP workload (3 x sp_mutual_information, m = 4096, R = 32, d = 4, beta = 0.005) in one
    process alone, and per process when two run at once: how much two busy cores of this machine give."""
    def start():
        return subprocess.Popen([sys.executable, "-c", SP_WORK], cwd=ROOT, stdout=subprocess.PIPE, text=True)

    alone = float(start().communicate()[0])
    pair = [start(), start()]
    return alone, max(float(p.communicate()[0]) for p in pair)


def run(argv: list[str], out: Path) -> float:
    """Wall seconds of ``python -m argv[0] argv[1:] --out out``; prints the load average around it (other
    processes on the machine take cores from the parallel run first)."""
    before = os.getloadavg()[0]
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", *argv, "--out", str(out)], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    print(f"#   load average (1 min) {before:.1f} before, {os.getloadavg()[0]:.1f} after: {' '.join(argv)}")
    return wall


def task_seconds(metrics: Path) -> dict[int, float]:
    """{epoch: seconds of its measurement task} (SP and diagnostics of its layers)."""
    out: dict[int, float] = {}
    for r in read_csv(metrics):
        if r["quantity"] in ("I_XT", "n_clusters") and r["seconds"]:
            out[int(r["epoch"])] = out.get(int(r["epoch"]), 0.0) + float(r["seconds"])
    return out


def same_rows(a: Path, b: Path) -> bool:
    strip = lambda rs: sorted(tuple(sorted((k, v) for k, v in r.items() if k != "seconds")) for r in rs)  # noqa: E731
    return strip(read_csv(a)) == strip(read_csv(b))


def extrapolate(runs: list[dict], startup: float, cores=(2, 16, 64), n_runs: int = 24) -> list[str]:
    """Lines of the extrapolation table from per-run {train_s, tasks: {epoch: s}} (repeated to ``n_runs``)."""
    reps = [runs[i % len(runs)] for i in range(n_runs)]
    work = sum(r["train_s"] + sum(r["tasks"].values()) for r in reps)
    chain = max(r["train_s"] + r["tasks"][max(r["tasks"])] for r in reps)
    lines = [f"# EXTRAPOLATION (not measured): {n_runs} runs like the {len(runs)} measured run(s); work W = "
             f"{work / 60:.1f} CPU-min, longest unsplittable chain P = {chain / 60:.1f} min, Ray start-up "
             f"{startup:.0f} s",
             f"{'cores':>5} | {'lower: max(W/C, P)':>19} | {'upper: W/C + P':>15}"]
    for c in cores:
        lo, hi = max(work / c, chain) + startup, work / c + chain + startup
        lines.append(f"{c:5d} | {lo / 60:15.1f} min | {hi / 60:11.1f} min")
    return lines


def run_profile(run_dir: Path, train_eps: float) -> dict:
    """{train_s, tasks, activation} of a finished szt run: task times from metrics.csv, training time from the
    epochs and ``train_eps`` (epochs/s measured here)."""
    cfg = json.loads((run_dir / "config.json").read_text())
    return {"train_s": cfg["epochs"] / train_eps, "tasks": task_seconds(run_dir / "metrics.csv"),
            "activation": cfg["activation"]}


def training_speed(epochs: int = 200) -> float:
    """SZT training epochs per second (1 thread), as experiments.szt trains."""
    import torch

    from experiments.szt import WIDTHS
    from noisynet.data import load_szt
    from noisynet.models import mlp
    from noisynet.training import Trainer
    from noisynet.twin import NoisyTwin

    torch.set_num_threads(1)
    d = load_szt()
    trainer = Trainer(NoisyTwin(mlp(WIDTHS, "tanh", seed=0), 0.005), d.x[d.train], d.y[d.train], d.x[d.test],
                      d.y[d.test], lr=4e-4, batch_size=256, seed=0)
    t0 = time.perf_counter()
    for _ in range(epochs):
        trainer.train_epoch()
    return epochs / (time.perf_counter() - t0)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=10_000, help="training epochs of the timed szt runs")
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--quick", action="store_true", help="--epochs 30 and a sweep of 2 runs x 30 epochs")
    p.add_argument("--sweep-epochs", type=int, default=0, help="also time a sweep of 2 seeds (tanh) of this many "
                                                               "epochs with each --workers (0: no)")
    p.add_argument("--no-runs", action="store_true", help="skip the timed runs (start-up and extrapolation only)")
    p.add_argument("--sweep-dir", default=None, help="a finished sweep whose runs give the per-task times of the "
                                                     "extrapolation (default: this script's szt run)")
    args = p.parse_args(argv)
    if args.quick:
        args.epochs, args.sweep_epochs = 30, 30
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} {os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f} "
          f"at start; python {sys.version.split()[0]}")
    import ray

    print(f"# ray {ray.__version__}")
    start = ray_startup(max(args.workers))
    print(f"ray start-up ({max(args.workers)} workers): init {start['init_s']:.1f} s, first tasks (worker "
          f"processes, torch import) {start['first_tasks_s']:.1f} s; memory of Ray's processes "
          f"{start['ray_rss_mb']:.0f} MiB, driver {start['driver_rss_mb']:.0f} MiB; object store bound "
          f"{OBJECT_STORE_BYTES // 2**20} MiB")
    eps = training_speed()
    print(f"training: {eps:.1f} epochs/s (1 thread)")
    alone, pair = core_scaling()
    print(f"two busy cores: a fixed SP workload takes {alone:.1f} s alone and {pair:.1f} s per process with two at "
          f"once: two processes do {2 * alone / pair:.2f}x the work of one (the best --workers 2 can give)",
          flush=True)
    profiles = []
    with tempfile.TemporaryDirectory() as tmp:
        if not args.no_runs:
            walls, dirs = {}, {}
            for w in args.workers:
                out = Path(tmp) / f"w{w}"
                walls[w] = run(["experiments.szt", "--epochs", str(args.epochs), "--workers", str(w),
                                "--no-extra-figures"], out)
                dirs[w] = next((out / "szt").iterdir())
                print(f"szt --epochs {args.epochs} --workers {w}: wall {walls[w] / 60:.2f} min", flush=True)
            base = args.workers[0]
            for w in args.workers[1:]:
                print(f"  --workers {w} / --workers {base}: {walls[w] / walls[base]:.2f} of the wall time; rows "
                      f"identical (all columns but seconds): {same_rows(dirs[base] / 'metrics.csv', dirs[w] / 'metrics.csv')}")
            tasks = task_seconds(dirs[base] / "metrics.csv")
            t = sorted(tasks.values())
            print(f"  per-task times ({len(t)} tasks, one per measured epoch): median {statistics.median(t):.1f} s, "
                  f"max {t[-1]:.1f} s, sum {sum(t) / 60:.1f} min; training {args.epochs / eps / 60:.1f} min")
            profiles.append(run_profile(dirs[base], eps))
        if args.sweep_epochs:
            for w in args.workers:
                wall = run(["experiments.sweep", "--seeds", "0", "1", "--activations", "tanh", "--epochs",
                            str(args.sweep_epochs), "--workers", str(w), "--no-extra-figures"], Path(tmp) / f"s{w}")
                print(f"sweep (2 seeds, tanh, {args.sweep_epochs} epochs) --workers {w}: wall {wall / 60:.2f} min",
                      flush=True)
    if args.sweep_dir:
        cfg = json.loads((Path(args.sweep_dir) / "config.json").read_text())
        root = Path(args.sweep_dir).parents[1]
        profiles = [run_profile(root / r, eps) for r in cfg["runs"] if (root / r / "metrics.csv").exists()]
        for act in sorted({p["activation"] for p in profiles}):
            mine = [sum(p["tasks"].values()) for p in profiles if p["activation"] == act]
            print(f"sweep runs, {act}: {len(mine)} runs, measurement CPU per run median {statistics.median(mine) / 60:.1f} "
                  f"min")
    if profiles:
        print("\n".join(extrapolate(profiles, start["init_s"] + start["first_tasks_s"])))


if __name__ == "__main__":
    main()
