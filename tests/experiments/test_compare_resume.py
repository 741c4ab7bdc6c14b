"""experiments.compare keeps only the latest checkpoint of each network: if that file is unreadable on
--resume, the network is trained again from scratch (a warning names the file) and the run ends as an
uninterrupted one would."""

import csv
import shutil

import pytest
import torch

from experiments import compare
from experiments.compare_figures import DET, unit_of
from experiments.runs import COLUMNS

TINY = ["--dataset", "digits", "--n-test", "100", "--epochs", "2", "--replicas", "8", "--channels", "2", "4",
        "--betas", "0.1", "--run-id", "r"]


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    return compare.main(TINY + ["--out", str(tmp_path_factory.mktemp("full"))])


@pytest.mark.parametrize("content", [b"", "truncated"])
def test_an_unreadable_checkpoint_is_retrained_from_scratch(full, tmp_path, content):
    reference = _rows(full.metrics)
    ckpt = full.checkpoint_path(2, "deterministic_")
    assert full.checkpoint_epochs("deterministic_") == [2]  # only the latest is kept
    state = torch.load(ckpt, weights_only=True)

    cut = tmp_path / "cut"
    shutil.copytree(full.dir.parent.parent, cut)
    bad = cut / "compare" / "r" / "checkpoints" / ckpt.name
    bad.write_bytes(bad.read_bytes()[:300] if content == "truncated" else content)
    metrics = cut / "compare" / "r" / "metrics.csv"
    kept = [r for r in reference if unit_of(r) != DET]  # the deterministic network's rows: measured again
    with open(metrics, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(kept)
    with pytest.warns(UserWarning, match=rf"{ckpt.name} is not a readable checkpoint.*training deterministic "
                                         "again from scratch"):
        resumed = compare.main(TINY + ["--out", str(cut), "--resume"])

    again = torch.load(bad, weights_only=True)  # written anew by the retraining
    assert again["epoch"] == 2
    for k, v in state["model"].items():
        assert torch.equal(again["model"][k], v), k
    key = lambda r: (r["layer"], r["quantity"], r["estimator"], r["param"])  # noqa: E731
    assert sorted(map(key, _rows(resumed.metrics))) == sorted(map(key, reference))
    ref = {key(r): r["value"] for r in reference}
    assert all(r["value"] == ref[key(r)] for r in _rows(resumed.metrics))
