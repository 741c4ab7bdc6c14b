"""Peak memory of the mixture engine and of sp_entropy against n, at a fixed memory budget.

    python benchmarks/bench_memory.py            # n = 4096 .. 262144, memory_mb = 32 (about 3 minutes)
    python benchmarks/bench_memory.py --quick    # n = 4096 .. 65536
    python benchmarks/bench_memory.py --full     # n up to 1048576, two budgets

Why not tracemalloc: it sees numpy's buffers (numpy reports them to it) but not torch's CPU tensors (torch
allocates them with its own allocator); the script checks and prints this first. So every measurement runs in
a fresh Python subprocess, which resets the kernel's peak-RSS counter (``/proc/self/clear_refs``, value 5)
right before the measured call and reads ``VmHWM`` (peak resident set) after it, relative to the resident
set just before the call. numpy's share (tracemalloc peak) is shown alongside. The children run with
``MALLOC_MMAP_THRESHOLD_=131072`` so that freed buffers leave the resident set and the peak is the live memory
(``--glibc-default`` leaves glibc's growing threshold on: the dense path's RSS then reaches ~3x the budget).

Rows, for each n (d = 10, beta = 0.005: the truncated path; beta = 0.5: the dense path):

* ``build``: peak of ``GaussianMixture(centres, beta, memory_mb=...)`` and a first ``log_density`` on 16
  queries (a path builds its own structures, the k-d tree or the grid, on first use) above the resident set
  before them; ``resident``: what the mixture keeps (O(n d): centred copies, components, the path's
  structures); ``B/centre``;
* ``eval``: the peak of ``log_density`` on a fixed Q (16384 queries; the dense path: 2048, n <= 65536), above
  the resident set before the call: the pair intermediates the budget bounds. Must not grow with n;
* ``Q=n``: the same with one query per centre: what grows is O(Q) (offsets, results and per-query
  temporaries), ``B/query``;
* ``sp_entropy``: peak of the whole ``sp_entropy(x, beta, n_mc=2, memory_mb=...)`` call above the resident
  set before it (inputs excluded); ``sp-build``: minus the construction peak.

A least-squares line through the sp_entropy peaks gives bytes per centre (the O(n d) storage: centres,
their copies, per-centre results) and an intercept (the working memory, a multiple of the budget).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GLIBC_DEFAULT = False
sys.path.insert(0, str(ROOT))


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def measure(fn):
    """(result, peak RSS above the RSS before the call in MiB, tracemalloc peak in MiB, seconds)."""
    gc.collect()
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = _status_kb("VmRSS")
    _reset_peak()
    t0 = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - t0
    peak = _status_kb("VmHWM")
    _, tm_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return out, (peak - base) / 1024, tm_peak / 2**20, seconds


def child(args) -> None:
    import torch

    torch.set_num_threads(1)
    from estimators.mixture import GaussianMixture
    from estimators.sp import sp_entropy

    n, d, beta, mb = args.n, args.d, args.beta, args.memory_mb
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(n, d, generator=g, dtype=torch.float32) * 2 - 1).double()
    out = {"n": n, "d": d, "beta": beta, "memory_mb": mb, "inputs_mb": x.numel() * 8 / 2**20}
    if args.child == "engine":
        q = args.q
        owner = torch.randint(0, n, (q,), generator=g)
        z = torch.randn(q, d, generator=g, dtype=torch.float64) * beta
        rss0 = _status_kb("VmRSS")
        def build():  # the path's own structures (k-d tree or grid) are built on its first call
            m = GaussianMixture(x, beta, memory_mb=mb)
            m.log_density(owner[:16], z[:16])
            return m

        mix, out["build_mb"], out["build_tm_mb"], out["build_s"] = measure(build)
        gc.collect()
        out["resident_mb"] = (_status_kb("VmRSS") - rss0) / 1024
        _, out["eval_mb"], out["eval_tm_mb"], out["eval_s"] = measure(lambda: mix.log_density(owner, z))
        out["q"], out["path"] = q, getattr(mix, "last_path", None) or mix.method
    else:
        est, out["sp_mb"], out["sp_tm_mb"], out["sp_s"] = measure(
            lambda: sp_entropy(x, beta, n_mc=2, generator=1, memory_mb=mb))
    print(json.dumps(out))


def torch_visible_to_tracemalloc() -> tuple[bool, bool]:
    """Whether tracemalloc sees a 64 MiB torch CPU tensor and a 64 MiB numpy array."""
    import numpy as np
    import torch

    seen = []
    for make in (lambda: torch.empty(8 * 2**20, dtype=torch.float64).fill_(1.0),
                 lambda: np.ones(8 * 2**20)):
        tracemalloc.start()
        a = make()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        del a
        seen.append(peak > 32 * 2**20)
    return seen[0], seen[1]


def run_child(target: str, n: int, d: int, beta: float, mb: float, q: int = 0) -> dict:
    cmd = [sys.executable, __file__, "--child", target, "--n", str(n), "--d", str(d), "--beta", str(beta),
           "--memory-mb", str(mb), "--q", str(q)]
    env = dict(os.environ)
    if not GLIBC_DEFAULT:
        # a fixed mmap threshold: large buffers are mmapped and returned on free, so the peak RSS is the live
        # memory; glibc's default (a threshold that grows with freed blocks) keeps freed blocks in the heap and
        # adds up to ~3x the budget on the dense path, depending on what ran before
        env["MALLOC_MMAP_THRESHOLD_"] = "131072"
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False, env=env)
    if res.returncode != 0:
        raise RuntimeError(f"child {cmd} failed:\n{res.stderr[-2000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    g = p.add_mutually_exclusive_group()
    g.add_argument("--quick", action="store_true")
    g.add_argument("--full", action="store_true")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    p.add_argument("--n", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--q", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--d", type=int, default=10)
    p.add_argument("--beta", type=float, default=0.005, help=argparse.SUPPRESS)
    p.add_argument("--memory-mb", type=float, default=32.0, help="the budget (MiB)")
    p.add_argument("--glibc-default", action="store_true",
                   help="leave glibc's dynamic mmap threshold on in the children (RSS then includes freed heap)")
    args = p.parse_args(argv)
    global GLIBC_DEFAULT
    GLIBC_DEFAULT = args.glibc_default
    if args.child:
        child(args)
        return
    ns = [4096, 16384, 65536] if args.quick else [4096, 16384, 65536, 262144]
    if args.full:
        ns.append(1048576)
    budgets = [args.memory_mb] + ([4 * args.memory_mb] if args.full else [])
    import torch

    t_vis, np_vis = torch_visible_to_tracemalloc()
    from benchmarks.engine_version import engine_fingerprint

    print(f"# {time.strftime('%Y-%m-%d %H:%M')} {platform.machine()} {os.cpu_count()} cores, torch {torch.__version__}; "
          f"engine: estimators/mixture/ sha1 {engine_fingerprint()}")
    print(f"# tracemalloc sees torch CPU tensors: {'yes' if t_vis else 'NO'}; numpy arrays: {'yes' if np_vis else 'no'}"
          " -> peaks are measured as VmHWM - VmRSS in a fresh subprocess per row (tracemalloc: numpy's share)")
    print(f"# d = {args.d}; MiB; peak = above the resident set just before the call; tm = tracemalloc peak; "
          f"glibc mmap threshold {'dynamic (default)' if GLIBC_DEFAULT else 'fixed at 128 KiB (MALLOC_MMAP_THRESHOLD_)'}")
    hdr = (f"{'budget':>6s} {'beta':>6s} {'n':>8s} {'path':>9s} {'inputs':>7s} | {'build':>7s} {'resident':>8s} "
           f"{'B/centre':>8s} | {'Q':>6s} {'eval':>6s} {'eval_tm':>7s} {'/budget':>7s} | {'Q=n':>6s} {'eval':>6s} "
           f"{'B/query':>7s} | {'sp_entropy':>10s} {'sp_tm':>6s} {'sp-build':>8s} {'/budget':>7s} {'s':>5s}")
    print(hdr)
    t_all = time.perf_counter()
    fits = []
    for mb in budgets:
        for beta in (0.005, 0.5):
            pts = []
            for n in ns:
                if beta > 0.1 and n > 65536:
                    continue  # the dense path is O(n Q) time: its memory is shown up to n = 65536
                q_fixed = 16384 if beta < 0.1 else 2048
                e = run_child("engine", n, args.d, beta, mb, q_fixed)
                if beta < 0.1:
                    en = run_child("engine", n, args.d, beta, mb, n)
                    sp = run_child("sp", n, args.d, beta, mb)
                    qn = (f"{n:6d} {en['eval_mb']:6.1f} {2**20 * (en['eval_mb'] - e['eval_mb']) / max(1, n - q_fixed):7.0f}"
                          if n > q_fixed else f"{n:6d} {en['eval_mb']:6.1f} {'-':>7s}")
                    spc = (f"{sp['sp_mb']:10.1f} {sp['sp_tm_mb']:6.1f} {sp['sp_mb'] - e['build_mb']:8.1f} "
                           f"{(sp['sp_mb'] - e['build_mb']) / mb:7.2f} {sp['sp_s']:5.1f}")
                    pts.append((n, sp["sp_mb"], e["build_mb"]))
                else:
                    qn = f"{'-':>6s} {'-':>6s} {'-':>7s}"
                    spc = f"{'-':>10s} {'-':>6s} {'-':>8s} {'-':>7s} {e['eval_s']:5.1f}"
                print(f"{mb:6g} {beta:6g} {n:8d} {e['path']:>9s} {e['inputs_mb']:7.1f} | {e['build_mb']:7.1f} "
                      f"{e['resident_mb']:8.1f} {2**20 * e['build_mb'] / n:8.0f} | {e['q']:6d} {e['eval_mb']:6.1f} "
                      f"{e['eval_tm_mb']:7.1f} {e['eval_mb'] / mb:7.2f} | {qn} | {spc}", flush=True)
            if len(pts) >= 2:
                import numpy as np

                a = np.array(pts)
                slope, icpt = np.polyfit(a[:, 0], a[:, 1], 1)
                fits.append(f"#   budget {mb:g} MiB: sp_entropy peak ~= {2**20 * slope:.0f} B/centre x n + {icpt:.1f} MiB "
                            f"(construction alone: {2**20 * np.polyfit(a[:, 0], a[:, 2], 1)[0]:.0f} B/centre)")
    print("# least-squares fit over n of the sp_entropy peak (d = %d):" % args.d)
    print("\n".join(fits))
    print(f"# total {time.perf_counter() - t_all:.0f} s")


if __name__ == "__main__":
    main()
