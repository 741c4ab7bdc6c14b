"""The one-screen summary printed at the end of a run."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch


def label_entropy(y: torch.Tensor) -> float:
    """H(Y) in nats of the empirical label frequencies."""
    p = torch.bincount(y).double() / y.numel()
    p = p[p > 0]
    return float(-(p * p.log()).sum())


def _last(rows: Sequence[dict], **match: str) -> dict | None:
    sel = [r for r in rows if all(r.get(k) == v for k, v in match.items())]
    return max(sel, key=lambda r: int(r["epoch"])) if sel else None


def _interval(r: dict | None) -> str:
    if r is None:
        return "-"
    return f"{float(r['value']):6.3f} [{float(r['ci_low']):6.3f}, {float(r['ci_high']):6.3f}]"


def table(rows: Sequence[dict], seconds: float, run_dir: Path, figures: Sequence[Path]) -> str:
    """Final epoch's I(X;T) and I(T;Y) per layer with 95% intervals (nats), accuracies, and where things are."""
    rows = list(rows)
    layers = sorted({r["layer"] for r in rows if r["quantity"] == "I_XT"}, key=lambda s: (len(s), s))
    last = _last(rows, quantity="I_XT")
    epoch = last["epoch"] if last else "-"
    lines = [f"Results in {run_dir}  (wall time {seconds / 60:.1f} min)", "",
             f"Final epoch {epoch}; all values in nats; [95% interval]",
             f"{'layer':6} {'d':>3}  {'I(X;T)':>26}  {'I(T;Y)':>26}  converged  DPI-violation"]
    for layer in layers:
        ixt, ity = _last(rows, quantity="I_XT", layer=layer), _last(rows, quantity="I_TY", layer=layer)
        lines.append(f"{layer:6} {ixt['layer_dim']:>3}  {_interval(ixt):>26}  {_interval(ity):>26}  "
                     f"{ixt['converged'] or '-':9}  {ixt['dpi_violation'] or '-'}")
    for q in ("train_acc", "test_acc"):
        off, on = _last(rows, quantity=q, estimator="deterministic"), _last(rows, quantity=q, estimator="noisy")
        if off:
            lines.append(f"{q}: {100 * float(off['value']):.2f}% noise off, {100 * float(on['value']):.2f}% noise on")
    lines.append("")
    lines += [f"  figure: {f}" for f in figures]
    lines.append(f"  metrics: {Path(run_dir) / 'metrics.csv'} (one row per measurement; see README)")
    return "\n".join(lines)

