"""The train-and-measure loop shared by the experiments: train a twin, and at each scheduled epoch save a
checkpoint, then append accuracy rows and every layer's information-flow rows to the run's metrics.csv.

Resuming (a run interrupted anywhere) reloads the latest checkpoint, discards the rows of a layer whose
measurement was cut short, measures what is missing at that epoch, and trains on: no finished measurement is
lost and none is duplicated, and the result is the same as an uninterrupted run (every random stream is
seeded and saved).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from tqdm.auto import tqdm

from experiments.rows import layer_rows
from experiments.runs import Run
from noisynet.flow import iter_information_flow
from noisynet.training import Trainer
from noisynet.twin import NoisyTwin


def last_quantity(labels: bool, diagnostics: bool) -> str:
    """The quantity written last for a layer: its presence marks the layer's measurement complete."""
    return "n_clusters" if diagnostics else ("I_TY" if labels else "I_XT")


def measure_epoch(run: Run, trainer: Trainer, twin: NoisyTwin, x: torch.Tensor, y: torch.Tensor | None,
                  epoch: int, *, seed: int, flow: dict, status: Callable[[str], None] | None = None) -> None:
    """Append the rows of one epoch that are not yet in the run (accuracy, then layer by layer).

    ``flow`` holds keyword arguments of :func:`noisynet.flow.iter_information_flow`; its ``min_replicas``
    is the first R of a layer that has no earlier measured epoch, the others start at half the R they
    needed at the previous measured epoch (consecutive epochs need similar R)."""
    rows = [r for r in run.rows() if int(r["epoch"]) == epoch]
    if not any(r["quantity"] == "test_acc" for r in rows):
        out = []
        for mode, noise in (("deterministic", False), ("noisy", True)):
            for q, v in trainer.evaluate(noise=noise).items():
                out.append({"epoch": epoch, "quantity": q, "estimator": mode, "value": v,
                            "unit": "nat" if q.endswith("loss") else "fraction", "n": None})
        run.append(out)
    final = last_quantity(y is not None, flow.get("diagnostics", True))
    todo, known = [], {}
    for site in twin.site_names:
        mine = [r for r in rows if r["layer"] == site]
        if any(r["quantity"] == final for r in mine):
            ixt = [r for r in mine if r["quantity"] == "I_XT"]
            if ixt[0]["value"] != "":
                known[site] = float(ixt[0]["ci_high"])
        else:
            if mine:
                run.discard(epoch, site)  # cut short: measured again in full below
            todo.append(site)
    first = flow.get("min_replicas", 8)
    start = {}
    earlier = [r for r in run.rows() if r["quantity"] == "I_XT" and r["n"] and int(r["epoch"]) < epoch]
    for r in sorted(earlier, key=lambda r: int(r["epoch"])):
        start[r["layer"]] = max(first, int(r["n"]) // (2 * x.shape[0]))
    kwargs = {**flow, "min_replicas": {s: start.get(s, first) for s in twin.site_names}}
    for meas in iter_information_flow(twin, x, y, seed=seed, sites=todo, **kwargs):
        before = twin.site_names[twin.site_names.index(meas.site) - 1] if meas.site != twin.site_names[0] else None
        dpi = None
        if meas.supported and before in known:
            dpi = bool(meas.i_xt.ci_low > known[before])
        if meas.supported:
            known[meas.site] = meas.i_xt.ci_high
        run.append([{"epoch": epoch, **r} for r in layer_rows(meas, dpi_violation=dpi)])
        if status is not None:
            status(f"{meas.site} I(X;T)={meas.i_xt.value:.2f}")


def train_and_measure(run: Run, trainer: Trainer, twin: NoisyTwin, x: torch.Tensor, y: torch.Tensor | None,
                      schedule: list[int], *, seed: int, flow: dict, desc: str) -> None:
    """Train to the end of ``schedule``, measuring at each of its epochs (see the module docstring)."""
    saved = run.checkpoint_epochs()
    if saved:
        trainer.load_state_dict(run.load_checkpoint(saved[-1]))
    bar = tqdm(total=schedule[-1], initial=trainer.epoch, desc=desc, unit="epoch", dynamic_ncols=True)
    status = lambda s: bar.set_postfix_str(s, refresh=True)  # noqa: E731
    for epoch in schedule:
        if epoch < trainer.epoch:
            continue  # measured in full before the checkpoint we resumed from
        while trainer.epoch < epoch:
            trainer.train_epoch()
            bar.update(1)
        if epoch not in saved:
            run.save_checkpoint(epoch, trainer.state_dict())
        measure_epoch(run, trainer, twin, x, y, epoch, seed=seed * 100_003 + epoch, flow=flow, status=status)
    bar.close()
