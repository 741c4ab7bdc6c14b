"""Measurement on Ray: the rows do not depend on the number of workers, and an interrupted parallel run
resumes without losing or duplicating a row."""

import pytest

from experiments.loop import InProcess
from experiments.parallel import RayMeasurer


def test_rows_of_ray_workers_equal_the_in_process_rows(tmp_path, toy):
    serial = toy.train(tmp_path / "serial", InProcess())
    ray_rows = toy.train(tmp_path / "ray", RayMeasurer())
    toy.same_rows(ray_rows, serial)


@pytest.mark.parametrize("keep", [0.5, 0.0])
def test_an_interrupted_parallel_run_resumes_to_the_same_rows(tmp_path, keep, toy):
    reference = toy.train(tmp_path / "serial", InProcess())
    cut = tmp_path / "cut"
    toy.train(cut, RayMeasurer())
    metrics = cut / "toy" / "r" / "metrics.csv"
    lines = metrics.read_text().splitlines(keepends=True)
    metrics.write_text("".join(lines[: 1 + int(keep * (len(lines) - 1))]) + "3,T2,3,H_b")  # and a partial line
    for p in (cut / "toy" / "r" / "checkpoints").glob("epoch_000004.pt"):
        p.unlink()  # killed before the last checkpoint
    toy.same_rows(toy.train(cut, RayMeasurer(cap=1)), reference)
