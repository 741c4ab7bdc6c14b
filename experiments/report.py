"""Regenerate docs/results.md: every experiment's key figures and what they show.

    python -m experiments.report [--out runs] [--docs docs] [--only szt spiral ...] [--no-run]

Runs each experiment with its default settings, its run under ``--out`` (resuming a run that exists, so
finished runs cost only their figures), copies the key figures into docs/figures/<experiment>/ and writes
docs/results.md from the runs' metrics: every number in it is read from a metrics.csv, none is typed in.
With ``--only``, the other sections of an existing results.md are kept as they are (only the named
experiments are run and rewritten), e.g. ``--only sweep --no-run`` after ``python -m experiments.sweep``.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from experiments import (
    arguments,
    compare,
    compare_estimators,
    compare_report,
    mnist_cnn,
    orthonormal,
    runs,
    single_neuron,
    spiral,
    sweep,
    sweep_summary,
    szt,
)
from experiments.plotting import nearest_param


def read_rows(run_dir: Path) -> list[dict]:
    """The rows of ``run_dir``/metrics.csv, as strings."""
    return runs.read_csv(Path(run_dir) / "metrics.csv")


def _value(rows, epoch: str, layer: str, quantity: str, **match) -> float | None:
    for r in rows:
        if r["epoch"] == epoch and r["layer"] == layer and r["quantity"] == quantity and all(
                r.get(k) == v for k, v in match.items()):
            return float(r["value"]) if r["value"] else None
    return None


def final_table(rows: list[dict]) -> str:
    """Last epoch: I(X;T), I(T;Y) per layer with 95% intervals (nats), and convergence."""
    ixt = [r for r in rows if r["quantity"] == "I_XT" and r["value"]]
    if not ixt:
        return ""
    last = max(int(r["epoch"]) for r in ixt)
    out = [f"Final epoch {last} (nats, [95% interval]):", "",
           "| layer | d | I(X;T) | I(T;Y) | converged |", "|---|---:|---|---|---|"]
    for r in sorted((r for r in ixt if int(r["epoch"]) == last), key=lambda r: (len(r["layer"]), r["layer"])):
        ty = next((t for t in rows if t["epoch"] == r["epoch"] and t["layer"] == r["layer"]
                   and t["quantity"] == "I_TY" and t["param"] == r["param"]), None)
        fmt = lambda t: f"{float(t['value']):.3f} [{float(t['ci_low']):.3f}, {float(t['ci_high']):.3f}]"  # noqa: E731
        out.append(f"| {r['layer']} | {r['layer_dim']} | {fmt(r)} | {fmt(ty) if ty else '-'} | {r['converged']} |")
    return "\n".join(out)


def compression_sentences(rows: list[dict], beta: float, layers=("T4", "T5")) -> str:
    """For the last hidden layers: the epoch of maximum I(X;T) and how I(X;T), the binned entropy at the bin
    side nearest beta and the class distance ratio changed from there to the last epoch."""
    delta = nearest_param(rows, "H_bin", "delta", beta)
    lines = []
    for layer in layers:
        pts = sorted(((int(r["epoch"]), float(r["value"])) for r in rows
                      if r["quantity"] == "I_XT" and r["layer"] == layer and r["value"]))
        if not pts:
            continue
        peak_epoch, peak = max(pts, key=lambda p: p[1])
        last_epoch, last = pts[-1]
        h0, h1 = (_value(rows, str(e), layer, "H_bin", param=delta) for e in (peak_epoch, last_epoch))
        c0, c1 = (_value(rows, str(e), layer, "class_ratio") for e in (peak_epoch, last_epoch))
        lines.append(
            f"- {layer}: I(X;T) peaks at {peak:.2f} nats at epoch {peak_epoch} and ends at {last:.2f} at epoch "
            f"{last_epoch} ({last - peak:+.2f}); over the same epochs the binned entropy at {delta} goes "
            f"{h0:.2f} -> {h1:.2f} nats and the within/between class distance ratio {c0:.2f} -> {c1:.2f}.")
    return "\n".join(lines)


@dataclass
class Experiment:
    """One section of results.md: the command ``run`` (its ``main``) run with ``args``, the figures of its run
    folder copied into docs/figures/<name>/, and ``section(run_dir)``, the markdown made from its files."""

    name: str
    title: str
    run: Callable[[list[str]], object]
    figures: tuple[str, ...]
    section: Callable[[Path], str] | None = None
    blurb: str = ""
    args: tuple[str, ...] = ()  # the command's arguments (empty: its defaults)
    folder: str | None = None  # runs/<folder>/ (default: the name)
    pattern: str = "*"  # which run folders --no-run considers


def _szt_section(run_dir: Path) -> str:
    rows = read_rows(run_dir)
    cfg = json.loads((run_dir / "config.json").read_text())
    return (f"{final_table(rows)}\n\nCompression as clustering, from the metrics:\n\n"
            f"{compression_sentences(rows, cfg['beta'])}")


def _spiral_section(run_dir: Path) -> str:
    return final_table(read_rows(run_dir))


def _single_neuron_section(run_dir: Path) -> str:
    rows = read_rows(run_dir)
    sp = [r for r in rows if r["quantity"] == "I_XT" and r["estimator"] == "sp"]
    exact = {(r["beta"], r["param"]): float(r["value"]) for r in rows
             if r["quantity"] == "I_XT" and r["estimator"] != "sp"}
    inside = sum(float(r["ci_low"]) <= exact.get((r["beta"], r["param"]), math.nan) <= float(r["ci_high"]) for r in sp)
    return (f"{inside} of {len(sp)} SP intervals contain the exact (quadrature) I(X;T). As w grows, I(X;T) rises "
            f"towards ln 4 = {math.log(4):.3f} nats (the four images separate) and then falls towards "
            f"h_b(1/4) = 0.562 nats (the three images of x < 2 merge at -1).")


EXPERIMENTS = [
    Experiment("szt", "SZT: the information plane of the noisy twin", szt.main,
               ("information_plane.png", "mi_vs_epoch.png", "clustering.png", "layer_scatter.png",
                "activation_histograms.png", "binned_entropy.png"), _szt_section,
               "The 12-10-7-5-4-3-2 tanh network of Shwartz-Ziv & Tishby on all 4096 SZT inputs, beta = 0.005, "
               "3000 epochs (`python -m experiments.szt`).", pattern="*_e3000"),
    Experiment("szt_paper", "SZT: the paper's schedule", szt.main,
               ("mi_vs_epoch.png", "information_plane.png", "clustering.png"), _szt_section,
               "The same network and settings for 10,000 epochs, 84 log-spaced measured epochs "
               "(`python -m experiments.szt --epochs 10000`, about 4 minutes on 2 cores).",
               args=("--epochs", "10000"), folder="szt", pattern="*_e10000"),
    Experiment("orthonormal", "Orthonormal weights", orthonormal.main, (),
               orthonormal.results_section),
    Experiment("single_neuron", "A single noisy neuron", single_neuron.main, ("mi_vs_w.png", "densities.png"),
               _single_neuron_section,
               "T = tanh(w (X - 2)) + Z, X uniform on {-3, -1, 1, 3} (`python -m experiments.single_neuron`)."),
    Experiment("spiral", "Spiral", spiral.main, ("data.png", "information_plane.png", "clustering.png"),
               _spiral_section, "A 2-D, 3-class spiral and a small tanh MLP (`python -m experiments.spiral`)."),
    Experiment("mnist_cnn", "MNIST CNN: deterministic and noisy", mnist_cnn.main,
               ("accuracy_vs_beta.png", "cosine_similarity.png", "mi_vs_beta.png"), compare.results_section),
    Experiment("compare", "Deterministic networks against their noisy twins", compare.main,
               ("accuracy_vs_beta.png", "similarity_vs_beta.png", "clustering_vs_beta.png", "mi_vs_beta.png"),
               compare.results_section),
    Experiment("compare_estimators", "The literature's estimators on the same runs", compare_estimators.main,
               (), lambda d: compare_report.results_section(d, relative_to=None)),
    Experiment("sweep", "Across seeds: does I(X;T) compress in tanh, ReLU and linear networks?", sweep.main, (),
               sweep_summary.results_section, args=("--no-extra-figures",), folder="sweeps",
               pattern="e3000_tanh-relu-linear_*"),
]


def _run(exp: Experiment, out: Path) -> Path:
    """Run (or resume) the experiment with its default settings, its runs under ``out``; returns its run
    folder."""
    argv = [*exp.args, "--out", str(out)]
    try:
        done = exp.run(argv)
    except SystemExit as err:  # every command checks its run's folder before it writes anything
        if "exists" not in str(err):
            raise
        done = exp.run([*argv, "--resume"])
    return Path(getattr(done, "dir", done))


def _latest(out: Path, exp: Experiment) -> Path | None:
    """The most recently configured run folder (every run writes config.json; not every one a top-level
    metrics.csv: compare_estimators keeps one per activation)."""
    runs = [p for p in (out / (exp.folder or exp.name)).glob(exp.pattern) if (p / "config.json").exists()]
    return max(runs, key=lambda p: (p / "config.json").stat().st_mtime) if runs else None


def _localise(section: str, docs: Path, name: str) -> str:
    """Copy every image a section links to into docs/figures/<name>/ and point the link there."""
    def repl(m: re.Match) -> str:
        src = Path(m.group(2))
        if not src.is_absolute() and not src.exists():
            src = (docs / src).resolve()
        if not src.exists():
            return m.group(0)
        dst = docs / "figures" / name / src.name
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
        return f"![{m.group(1)}](figures/{name}/{src.name})"

    return re.sub(r"!\[([^\]]*)\]\(([^)]+)\)", repl, section)


def _sections(text: str) -> dict[str, list[str]]:
    """The "## " sections of a results.md, {title: its lines, heading included}."""
    out: dict[str, list[str]] = {}
    title = None
    for line in text.split("\n"):
        if line.startswith("## "):
            title = line[3:]
            out[title] = []
        if title is not None:
            out[title].append(line)
    return out


@arguments.command
def main(argv: list[str] | None = None) -> Path:
    p = arguments.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="runs", help="root of the runs (read, and written by the experiments run)")
    p.add_argument("--docs", default="docs", help="where results.md and its figures go")
    p.add_argument("--only", nargs="*", default=None, choices=[e.name for e in EXPERIMENTS])
    p.add_argument("--no-run", action="store_true", help="use the latest existing run of each experiment")
    args = p.parse_args(argv)
    docs, out = arguments.folder(args.docs, "docs"), Path(args.out)
    if not args.no_run:
        arguments.folder(out, "out")
    elif out.exists() and not out.is_dir():
        raise SystemExit(f"--out: got {out}, a file, expected the folder of the runs")
    parts = ["# Results", "",
             "Regenerated by `python -m experiments.report` from the runs' metrics.csv files; all values in nats "
             "unless marked. The validation of the estimator against ground truth is in "
             "[validation.md](validation.md).", ""]
    path = docs / "results.md"
    kept = _sections(path.read_text()) if args.only is not None and path.exists() else {}
    t0 = time.perf_counter()
    for exp in EXPERIMENTS:
        if args.only is not None and exp.name not in args.only:
            parts += kept.pop(exp.title, [])  # --only: the other sections stay as they are
            continue
        kept.pop(exp.title, None)
        run_dir = _latest(out, exp) if args.no_run else _run(exp, out)
        if run_dir is None:
            parts += [f"## {exp.title}", "", f"No run found under {out / (exp.folder or exp.name)}.", ""]
            continue
        parts += [f"## {exp.title}", ""]
        if exp.blurb:
            parts += [exp.blurb, ""]
        for fig in exp.figures:
            src = run_dir / "figures" / fig
            if src.exists():
                dst = docs / "figures" / exp.name / fig
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, dst)
                parts += [f"![{exp.name} {fig[:-4].replace('_', ' ')}](figures/{exp.name}/{fig})", ""]
        if exp.section is not None:
            parts += [_localise(exp.section(run_dir), docs, exp.name), ""]
        parts += [f"Run folder: `{runs.shown(run_dir)}`.", ""]
    for lines in kept.values():  # sections of results.md this report does not make
        parts += lines
    docs.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts))
    print(f"wrote {path} ({(time.perf_counter() - t0) / 60:.1f} min)")
    return path


if __name__ == "__main__":
    main()
