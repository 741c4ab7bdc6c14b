"""The train-and-measure loop shared by the experiments: train a twin, and at each scheduled epoch save a
checkpoint, then append accuracy rows and every layer's information-flow rows to the run's metrics.csv.

Resuming (a run interrupted anywhere) is verified, not assumed complete: every scheduled epoch is checked
for all its rows; an epoch with rows missing (metrics.csv truncated, deleted, a layer cut short) is measured
again from its checkpoint, a layer cut short having its partial rows discarded first; training continues from
the newest readable checkpoint (an unreadable one, e.g. corrupt or written by another program, is skipped
with a warning naming it, and the previous one is used). No finished measurement is lost, none is duplicated,
and the result is the same as an uninterrupted run (every random stream is seeded and saved).

Measurements run in this process (:class:`InProcess`) or as Ray tasks while training goes on
(``experiments.parallel``); either way only this process writes metrics.csv, each layer's rows once, and the
rows are the same: a measured epoch depends on the run's seed, the epoch and its checkpoint only (its random
streams come from :func:`epoch_seed`, and every layer starts its replica doubling at ``min_replicas``).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import torch
from tqdm.auto import tqdm

from experiments.rows import dpi_violation, layer_rows
from experiments.runs import Run, UnsafeCheckpoint
from noisynet.flow import LayerMeasurement, iter_information_flow
from noisynet.training import Trainer
from noisynet.twin import NoisyTwin


def last_quantity(labels: bool, diagnostics: bool) -> str:
    """The quantity written last for a layer: its presence marks the layer's measurement complete."""
    return "n_clusters" if diagnostics else ("I_TY" if labels else "I_XT")


def epoch_seed(seed: int, epoch: int) -> int:
    """The seed of a measured epoch's random streams (propagation, and each layer's Monte Carlo through
    :func:`noisynet.flow.iter_information_flow`): a function of (seed, epoch) only, so that a measurement is
    the same whichever process makes it and in whatever order."""
    return seed * 100_003 + epoch


class InProcess:
    """Measures in this process (``--workers 1``): :meth:`results` measures what was submitted, layer by layer.

    The interface of a measurer (see ``experiments.parallel.RayMeasurer`` for the other one):
    ``submit(key, twin, x, y, sites=..., seed=..., flow=...)`` asks for the layers ``sites`` of ``twin`` as
    it is now (``flow``: keyword arguments of :func:`noisynet.flow.iter_information_flow`; ``key``, e.g. the
    epoch, comes back with the results); ``results(wait)`` yields ``(key, LayerMeasurement)`` pairs, each
    submission's layers in forward order, with the flow's warnings issued in this process (``wait``: until
    every submitted measurement is done; else what is done now); ``pending`` counts the submissions not yet
    yielded in full. Here :meth:`results` runs the measurements itself, so it must be drained before the
    twin changes (the loop drains it right after each submit)."""

    def __init__(self) -> None:
        self._queue: list[tuple[object, Iterator[LayerMeasurement]]] = []

    @property
    def pending(self) -> int:
        return len(self._queue)

    def submit(self, key: object, twin: NoisyTwin, x: torch.Tensor, y: torch.Tensor | None, *, sites: list[str],
               seed: int, flow: dict) -> None:
        self._queue.append((key, iter_information_flow(twin, x, y, seed=seed, sites=sites, **flow)))

    def results(self, wait: bool = True) -> Iterator[tuple[object, LayerMeasurement]]:
        while self._queue:
            key, layers = self._queue[0]
            for meas in layers:
                yield key, meas
            self._queue.pop(0)


class EpochRows:
    """Writes a run's measured epochs to metrics.csv: the accuracy rows when an epoch is opened, then each
    layer's rows as its measurement arrives, with the data-processing flag against the previous site's
    I(X;T) interval at the same epoch (from this session or from rows already in the file)."""

    def __init__(self, run: Run, sites: list[str], final: str) -> None:
        self.run, self.sites, self.final = run, sites, final
        self._known: dict[int, dict[str, float]] = {}  # epoch -> {site: I(X;T) ci_high}

    def open(self, epoch: int, trainer: Trainer) -> list[str]:
        """Append the accuracy rows of ``epoch`` if missing (``trainer`` at that epoch); discard the rows of a
        layer cut short; return the sites still to measure, in forward order."""
        rows = [r for r in self.run.rows() if int(r["epoch"]) == epoch]
        if not any(r["quantity"] == "test_acc" for r in rows):
            out = []
            for mode, noise in (("deterministic", False), ("noisy", True)):
                for q, v in trainer.evaluate(noise=noise).items():
                    out.append({"epoch": epoch, "quantity": q, "estimator": mode, "value": v,
                                "unit": "nat" if q.endswith("loss") else "fraction", "n": None})
            self.run.append(out)
        todo, known = [], {}
        for site in self.sites:
            mine = [r for r in rows if r["layer"] == site]
            if any(r["quantity"] == self.final for r in mine):
                ixt = [r for r in mine if r["quantity"] == "I_XT"]
                if ixt[0]["value"] != "":
                    known[site] = float(ixt[0]["ci_high"])
            else:
                if mine:
                    self.run.discard(epoch, site)  # cut short: measured again in full
                todo.append(site)
        self._known[epoch] = known
        return todo

    def write(self, epoch: int, meas: LayerMeasurement) -> None:
        """Append one layer's rows (the layers of an epoch arrive in forward order)."""
        dpi = dpi_violation(meas, self.sites, self._known[epoch])
        self.run.append([{"epoch": epoch, **r} for r in layer_rows(meas, dpi_violation=dpi)])


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
                      schedule: list[int], *, seed: int, flow: dict, desc: str, measurer=None) -> None:
    """Train to the end of ``schedule``, measuring at each of its epochs (see the module docstring).

    ``flow`` holds keyword arguments of :func:`noisynet.flow.iter_information_flow` (every layer of every
    epoch starts its replica doubling at ``min_replicas``: a measurement depends on (seed, epoch, layer) and
    the checkpoint only). ``measurer``: where the measurements run, :class:`InProcess` (default) or
    ``experiments.parallel.RayMeasurer`` (Ray tasks, while training goes on); the rows are the same."""
    measurer = InProcess() if measurer is None else measurer
    final = last_quantity(y is not None, flow.get("diagnostics", True))
    ckpt = _Checkpoints(run)
    writer = EpochRows(run, twin.site_names, final)
    start, redo = resume_point(ckpt, run.rows(), schedule, twin.site_names, final)
    bar = tqdm(total=schedule[-1], initial=0, desc=desc, unit="epoch", dynamic_ncols=True)

    def write(wait: bool) -> None:
        for epoch, meas in measurer.results(wait):
            writer.write(epoch, meas)
            busy = f", {measurer.pending} epochs being measured" if measurer.pending else ""
            bar.set_postfix_str(f"epoch {epoch} {meas.site} I(X;T)={meas.i_xt.value:.2f}{busy}", refresh=True)

    def measure(epoch: int) -> None:
        todo = writer.open(epoch, trainer)
        if todo:
            measurer.submit(epoch, twin, x, y, sites=todo, seed=epoch_seed(seed, epoch), flow=flow)
        write(wait=False)

    for epoch, state in redo:  # epochs behind the resume point with rows missing: measured from their checkpoint
        trainer.load_state_dict(state)
        measure(epoch)
    if start is not None:
        trainer.load_state_dict(start)
    bar.update(trainer.epoch)
    for epoch in schedule:
        if epoch < trainer.epoch:
            continue  # verified above
        while trainer.epoch < epoch:
            trainer.train_epoch()
            bar.update(1)
        if epoch not in ckpt.epochs() or ckpt.get(epoch) is None:  # absent, or unreadable: written anew
            run.save_checkpoint(epoch, trainer.state_dict())
        measure(epoch)
    write(wait=True)
    bar.close()
