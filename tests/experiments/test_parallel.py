"""Measurement on Ray: the rows do not depend on the number of workers, and an interrupted parallel run
resumes without losing or duplicating a row."""

import pytest
import torch

from experiments.loop import InProcess, train_and_measure
from experiments.parallel import RayMeasurer
from experiments.runs import Run
from noisynet import NoisyTwin, Trainer, mlp

FLOW = {"replicas": 8, "n_mc": 2, "n_query": 2, "diagnostics": True}
SCHEDULE = [0, 1, 2, 4]


def _setup(root):
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 2, (64, 6), generator=g).float()
    y = (x[:, 0] + x[:, 1] > 0).long()
    twin = NoisyTwin(mlp((6, 4, 3, 2), "tanh", seed=0), 0.05)
    trainer = Trainer(twin, x[:48], y[:48], x[48:], y[48:], lr=1e-2, batch_size=16, seed=0)
    run = Run(root, "toy", "r", {"k": 1}, resume=(root / "toy" / "r").exists())
    return run, trainer, twin, x, y


def _key(r):
    return r["epoch"], r["layer"], r["quantity"], r["estimator"], r["param"]


def _same_rows(rows, reference):
    """The same measurements, each once, with the same values (every column but the time taken)."""
    assert sorted(map(_key, rows)) == sorted(map(_key, reference))
    ref = {_key(r): r for r in reference}
    for r in rows:
        assert {k: v for k, v in r.items() if k != "seconds"} == {
            k: v for k, v in ref[_key(r)].items() if k != "seconds"}, _key(r)


def _train(path, measurer):
    run, trainer, twin, x, y = _setup(path)
    train_and_measure(run, trainer, twin, x, y, SCHEDULE, seed=0, flow=FLOW, desc="toy", measurer=measurer)
    return run.rows()


def test_rows_of_ray_workers_equal_the_in_process_rows(tmp_path):
    serial = _train(tmp_path / "serial", InProcess())
    ray_rows = _train(tmp_path / "ray", RayMeasurer())
    _same_rows(ray_rows, serial)


@pytest.mark.parametrize("keep", [0.5, 0.0])
def test_an_interrupted_parallel_run_resumes_to_the_same_rows(tmp_path, keep):
    reference = _train(tmp_path / "serial", InProcess())
    cut = tmp_path / "cut"
    _train(cut, RayMeasurer())
    metrics = cut / "toy" / "r" / "metrics.csv"
    lines = metrics.read_text().splitlines(keepends=True)
    metrics.write_text("".join(lines[: 1 + int(keep * (len(lines) - 1))]) + "3,T2,3,H_b")  # and a partial line
    for p in (cut / "toy" / "r" / "checkpoints").glob("epoch_000004.pt"):
        p.unlink()  # killed before the last checkpoint
    _same_rows(_train(cut, RayMeasurer(cap=1)), reference)
