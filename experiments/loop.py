"""The train-and-measure loop shared by the experiments: train a twin, and at each scheduled epoch save a
checkpoint, then append accuracy rows and every layer's information-flow rows to the run's metrics.csv.

Resuming (a run interrupted anywhere) is verified, not assumed complete: every scheduled epoch is checked
for all its rows; an epoch with rows missing (metrics.csv truncated, deleted, a layer cut short) is measured
again from its checkpoint, a layer cut short having its partial rows discarded first; training continues from
the newest readable checkpoint (an unreadable one, e.g. corrupt or written by another program, is skipped
with a warning naming it, and the previous one is used). No finished measurement is lost, none is duplicated,
and the result is the same as an uninterrupted run (every random stream is seeded and saved).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch
from tqdm.auto import tqdm

from experiments.rows import layer_rows
from experiments.runs import Run, UnsafeCheckpoint
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


def epoch_complete(rows: list[dict], epoch: int, sites: list[str], final: str) -> bool:
    """Whether ``rows`` (of metrics.csv) hold every measurement of ``epoch``: the accuracies and, for every
    site, the quantity written last for a layer (``final``, see :func:`last_quantity`)."""
    mine = [r for r in rows if int(r["epoch"]) == epoch]
    return (any(r["quantity"] == "test_acc" for r in mine)
            and all(any(r["layer"] == s and r["quantity"] == final for r in mine) for s in sites))


class _Checkpoints:
    """The run's checkpoints, each read at most once; an unreadable one (corrupt, truncated, empty) is
    reported in a warning and treated as absent; one that would run code raises UnsafeCheckpoint."""

    def __init__(self, run: Run):
        self.run, self._states = run, {}

    def epochs(self) -> list[int]:
        return self.run.checkpoint_epochs()

    def get(self, epoch: int) -> dict | None:
        if epoch not in self._states:
            try:
                self._states[epoch] = self.run.load_checkpoint(epoch)
            except UnsafeCheckpoint:
                raise  # a planted file is refused, never silently replaced
            except (ValueError, FileNotFoundError) as err:
                warnings.warn(f"{err}; using an earlier checkpoint instead", stacklevel=3)
                self._states[epoch] = None
        return self._states[epoch]


def resume_point(ckpt: _Checkpoints, rows: list[dict], schedule: list[int], sites: list[str],
                 final: str) -> tuple[dict | None, list[tuple[int, dict]]]:
    """Where a resumed run continues: the state of the newest readable checkpoint such that every scheduled
    epoch before it that lacks rows has a readable checkpoint of its own (None: start from scratch), and
    those earlier epochs with their states, to measure again."""
    incomplete = [e for e in schedule if not epoch_complete(rows, e, sites, final)]
    for c in reversed(ckpt.epochs()):
        state = ckpt.get(c)
        if state is None:
            continue
        redo = [e for e in incomplete if e < c]
        if all(ckpt.get(e) is not None for e in redo):
            return state, [(e, ckpt.get(e)) for e in redo]
    return None, []


def train_and_measure(run: Run, trainer: Trainer, twin: NoisyTwin, x: torch.Tensor, y: torch.Tensor | None,
                      schedule: list[int], *, seed: int, flow: dict, desc: str) -> None:
    """Train to the end of ``schedule``, measuring at each of its epochs (see the module docstring)."""
    final = last_quantity(y is not None, flow.get("diagnostics", True))
    ckpt = _Checkpoints(run)
    start, redo = resume_point(ckpt, run.rows(), schedule, twin.site_names, final)
    for epoch, state in redo:  # epochs behind the resume point with rows missing: measured from their checkpoint
        trainer.load_state_dict(state)
        measure_epoch(run, trainer, twin, x, y, epoch, seed=seed * 100_003 + epoch, flow=flow)
    if start is not None:
        trainer.load_state_dict(start)
    bar = tqdm(total=schedule[-1], initial=trainer.epoch, desc=desc, unit="epoch", dynamic_ncols=True)
    status = lambda s: bar.set_postfix_str(s, refresh=True)  # noqa: E731
    for epoch in schedule:
        if epoch < trainer.epoch:
            continue  # verified above
        while trainer.epoch < epoch:
            trainer.train_epoch()
            bar.update(1)
        if epoch not in ckpt.epochs() or ckpt.get(epoch) is None:  # absent, or unreadable: written anew
            run.save_checkpoint(epoch, trainer.state_dict())
        measure_epoch(run, trainer, twin, x, y, epoch, seed=seed * 100_003 + epoch, flow=flow, status=status)
    bar.close()
