"""Sample propagation through the noisy twin (Pyro sample sites, a trace per pass) against a plain torch forward
that adds the same noise by hand, on the SZT network (12-10-7-5-4-3-2, tanh, beta = 0.005).

    python benchmarks/bench_propagation.py           # R in {32, 128}, 7 repeats (about 1 minute)
    python benchmarks/bench_propagation.py --quick   # R = 32, 3 repeats
    python benchmarks/bench_propagation.py --full    # R in {8, 32, 128, 512}

Rows:

* ``propagate``: ``NoisyTwin.propagate(x, R, generator=seed)`` on all 4096 SZT inputs: returns S_l (m, R, d_l)
  for the 5 hidden sites, through ``pyro.poutine.trace`` and the ``SeededNoise`` handler, in chunks of 65536
  rows;
* ``plain``: the same network by hand (F.linear, tanh, S_l recorded, + beta * randn from the same generator), on
  the same chunks: identical draws in the same order, so its S_l must equal propagate's exactly (checked);
* ``plain-1``: the plain forward in one pass (no chunks);
* ``train step``: one SZT training mini-batch (256 rows, noise on, forward + backward + Adam) through the twin
  under ``SeededNoise`` (as ``Trainer`` does) and by hand.

Batching is checked by counting the wrapped network's forward calls and the Pyro site messages per call:
one forward per chunk of rows (no Python loop per input or per replica). Times are medians (and minima) of
interleaved repeats in one process; ``ratio`` = Pyro time / plain time.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import pyro
import torch
from torch import nn
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from noisynet.data import load_szt  # noqa: E402
from noisynet.models import mlp  # noqa: E402
from experiments.szt import WIDTHS, parser  # noqa: E402
from noisynet.twin import NoisyTwin, SeededNoise  # noqa: E402

SZT = parser().parse_args([])  # the experiment's defaults (lr, batch size)


def plain_propagate(model: nn.Sequential, x: torch.Tensor, replicas: int, beta: float, generator: torch.Generator,
                    chunk: int | None = 65536) -> dict[str, torch.Tensor]:
    """The twin's sample propagation by hand: S_l recorded, then T_l = S_l + beta * randn (same draw order)."""
    m = x.shape[0]
    layers = linear_layers(model)
    rows = x.repeat_interleave(replicas, dim=0)
    step = chunk or rows.shape[0]
    out: dict[str, list[torch.Tensor]] = {}
    with torch.no_grad():
        for a in range(0, rows.shape[0], step):
            h = rows[a : a + step]
            for site, (w, b) in enumerate(layers[:-1], start=1):
                h = torch.tanh(F.linear(h, w, b))
                out.setdefault(f"T{site}", []).append(h)
                h = h + beta * torch.randn(h.shape, generator=generator, dtype=h.dtype)
    return {s: torch.cat(v).reshape(m, replicas, -1) for s, v in out.items()}


def linear_layers(model: nn.Sequential) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(weight, bias) of the Linear modules: the plain forward calls them functionally, because calling the
    twin's modules would run its Pyro hooks."""
    return [(m.weight, m.bias) for m in model if isinstance(m, nn.Linear)]


def plain_train_step(model, opt, loss_fn, xb, yb, beta, generator):
    layers = linear_layers(model)
    h = xb
    for w, b in layers[:-1]:
        h = torch.tanh(F.linear(h, w, b))
        h = h + beta * torch.randn(h.shape, generator=generator, dtype=h.dtype)
    h = F.linear(h, *layers[-1])
    loss = loss_fn(h, yb)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return float(loss.detach())


def twin_train_step(twin, opt, loss_fn, xb, yb, generator):
    with SeededNoise(twin.site_names, generator):
        logits = twin(xb)
    loss = loss_fn(logits, yb)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return float(loss.detach())


class Counter:
    """Counts forward calls of a module and Pyro sample messages."""

    def __init__(self, module: nn.Module):
        self.calls = 0
        self.handle = module.register_forward_hook(self._hook)

    def _hook(self, *_):
        self.calls += 1


class SiteCounter(pyro.poutine.messenger.Messenger):
    def __init__(self):
        super().__init__()
        self.n = 0

    def _pyro_sample(self, msg):
        self.n += 1


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    g = p.add_mutually_exclusive_group()
    g.add_argument("--quick", action="store_true")
    g.add_argument("--full", action="store_true")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1: shared machine)")
    p.add_argument("--beta", type=float, default=0.005)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    replicas = [32] if args.quick else ([8, 32, 128, 512] if args.full else [32, 128])
    repeats = 3 if args.quick else args.repeats

    data = load_szt()
    x = data.x
    model = mlp(WIDTHS, "tanh", seed=0)
    twin = NoisyTwin(model, args.beta)
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} {platform.machine()} {os.cpu_count()} cores, torch {torch.__version__}, "
          f"pyro {pyro.__version__}, torch threads {torch.get_num_threads()}; m = {x.shape[0]} SZT inputs, "
          f"widths {WIDTHS}, beta = {args.beta:g}; {repeats} interleaved repeats, seconds: median (min)")

    # correctness and batching
    counter = Counter(model[0])
    sites = SiteCounter()
    R = replicas[0]
    with sites:
        a = twin.propagate(x, R, generator=123)
    b = plain_propagate(model, x, R, args.beta, torch.Generator().manual_seed(123))
    same = all(torch.equal(a[s], b[s]) for s in a)
    n_chunks = math.ceil(x.shape[0] * R / 65536)
    print(f"# check R={R}: propagate == plain (same draws): {same}; forward calls of the network: {counter.calls} "
          f"for {x.shape[0] * R} rows (chunks of 65536: {n_chunks}); Pyro sample messages: {sites.n} "
          f"(= {len(twin.site_names)} sites x {counter.calls} passes) -> batched: "
          f"{counter.calls == n_chunks and sites.n == len(twin.site_names) * n_chunks}")
    counter.handle.remove()

    print(f"{'what':12s} {'R':>4s} {'rows':>7s} | {'pyro':>16s} {'plain':>16s} {'plain-1':>16s} | {'pyro/plain':>10s} "
          f"{'pyro/plain-1':>12s} | {'us/row pyro':>11s}")
    for R in replicas:
        ts = {"pyro": [], "plain": [], "plain1": []}
        for _ in range(repeats):
            t0 = time.perf_counter()
            twin.propagate(x, R, generator=1)
            ts["pyro"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            plain_propagate(model, x, R, args.beta, torch.Generator().manual_seed(1))
            ts["plain"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            plain_propagate(model, x, R, args.beta, torch.Generator().manual_seed(1), chunk=None)
            ts["plain1"].append(time.perf_counter() - t0)
        med = {k: statistics.median(v) for k, v in ts.items()}
        mn = {k: min(v) for k, v in ts.items()}
        rows = x.shape[0] * R
        print(f"{'propagate':12s} {R:4d} {rows:7d} | {med['pyro']:7.4f} ({mn['pyro']:.4f}) {med['plain']:7.4f} "
              f"({mn['plain']:.4f}) {med['plain1']:7.4f} ({mn['plain1']:.4f}) | {med['pyro'] / med['plain']:10.2f} "
              f"{med['pyro'] / med['plain1']:12.2f} | {1e6 * med['pyro'] / rows:11.3f}", flush=True)

    # a training mini-batch: where Pyro's per-call overhead shows
    loss_fn = nn.CrossEntropyLoss()
    m_twin, m_plain = mlp(WIDTHS, "tanh", seed=0), mlp(WIDTHS, "tanh", seed=0)
    tw = NoisyTwin(m_twin, args.beta)
    opt_t, opt_p = torch.optim.Adam(m_twin.parameters(), lr=SZT.lr), torch.optim.Adam(m_plain.parameters(), lr=SZT.lr)
    xb, yb = x[data.train[: SZT.batch_size]], data.y[data.train[: SZT.batch_size]]
    gt, gp = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    steps = 50
    tt, tp = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(steps):
            twin_train_step(tw, opt_t, loss_fn, xb, yb, gt)
        tt.append((time.perf_counter() - t0) / steps)
        t0 = time.perf_counter()
        for _ in range(steps):
            plain_train_step(m_plain, opt_p, loss_fn, xb, yb, args.beta, gp)
        tp.append((time.perf_counter() - t0) / steps)
    same_w = all(torch.equal(a, b) for a, b in zip(m_twin.parameters(), m_plain.parameters()))
    mt, mp = statistics.median(tt), statistics.median(tp)
    print(f"{'train step':12s} {'-':>4s} {SZT.batch_size:7d} | {mt * 1e3:7.3f}ms ({min(tt) * 1e3:.3f}) {mp * 1e3:7.3f}ms "
          f"({min(tp) * 1e3:.3f}) {'-':>16s} | {mt / mp:10.2f} {'-':>12s} | {1e6 * mt / SZT.batch_size:11.3f}")
    print(f"# train step: {steps} steps per repeat; weights identical after the same steps (same draws): {same_w}; "
          f"an SZT epoch is {math.ceil(len(data.train) / SZT.batch_size)} steps")


if __name__ == "__main__":
    main()
