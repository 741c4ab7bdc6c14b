"""One embedded Ray instance (2 CPUs, as on CI) for the experiments' tests: the commands' default --workers is
the cores available, and a command that finds Ray running uses it instead of starting its own (about 10 s
each)."""

import pytest
import torch

from experiments import parallel
from experiments.loop import train_and_measure
from experiments.runs import Run
from noisynet import NoisyTwin, Trainer, mlp


@pytest.fixture(autouse=True, scope="session")
def _ray():
    with parallel.session(2):
        yield


class ToyRun:
    """A 6-4-3-2 tanh twin (beta 0.05) on 64 random binary inputs, trained and measured at epochs SCHEDULE
    with FLOW under ``root/toy/r``: every kind of metrics row, in seconds."""

    FLOW = {"replicas": 8, "n_mc": 2, "n_query": 2, "diagnostics": True}
    SCHEDULE = [0, 1, 2, 4]

    def train(self, root, measurer=None) -> list[dict]:
        """Train and measure (resuming what ``root`` holds); returns the run's rows."""
        g = torch.Generator().manual_seed(0)
        x = torch.randint(0, 2, (64, 6), generator=g).float()
        y = (x[:, 0] + x[:, 1] > 0).long()
        twin = NoisyTwin(mlp((6, 4, 3, 2), "tanh", seed=0), 0.05)
        trainer = Trainer(twin, x[:48], y[:48], x[48:], y[48:], lr=1e-2, batch_size=16, seed=0)
        run = Run(root, "toy", "r", {"k": 1}, resume=(root / "toy" / "r").exists())
        train_and_measure(run, trainer, twin, x, y, self.SCHEDULE, seed=0, flow=self.FLOW, desc="toy",
                          measurer=measurer)
        return run.rows()

    @staticmethod
    def key(r: dict) -> tuple:
        return r["epoch"], r["layer"], r["quantity"], r["estimator"], r["param"]

    def same_rows(self, rows, reference) -> None:
        """The same measurements, each once, with the same values (every column but the time taken)."""
        assert sorted(map(self.key, rows)) == sorted(map(self.key, reference))
        ref = {self.key(r): r for r in reference}
        for r in rows:
            assert {k: v for k, v in r.items() if k != "seconds"} == {
                k: v for k, v in ref[self.key(r)].items() if k != "seconds"}, self.key(r)


@pytest.fixture
def toy():
    return ToyRun()
