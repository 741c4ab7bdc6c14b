"""Runs on disk: append-only metrics, atomic files, and a resumed run equal to an uninterrupted one."""

import csv
import math
import shutil

import pytest
import torch

from experiments import szt
from experiments.runs import COLUMNS, Run, UnsafeCheckpoint, log_schedule


def test_log_schedule():
    s = log_schedule(10_000, 100)
    assert s[0] == 0 and s[1] == 1 and s[-1] == 10_000 and s == sorted(set(s))
    assert 80 <= len(s) <= 101
    with pytest.raises(ValueError):
        log_schedule(0, 10)


def test_metrics_are_appended_and_a_partial_line_is_repaired(tmp_path):
    run = Run(tmp_path, "exp", "r", {"a": 1})
    run.append({"epoch": 0, "layer": "T1", "quantity": "I_XT", "value": 1.5})
    with open(run.metrics, "a") as f:
        f.write("1,T1,3,I_XT,sp,,2.")  # an interruption mid-row
    with pytest.raises(ValueError, match="exists"):
        Run(tmp_path, "exp", "r", {"a": 1})
    with pytest.raises(ValueError, match="differs"):
        Run(tmp_path, "exp", "r", {"a": 2}, resume=True)
    again = Run(tmp_path, "exp", "r", {"a": 1}, resume=True)
    rows = again.rows()
    assert len(rows) == 1 and float(rows[0]["value"]) == 1.5 and list(rows[0]) == list(COLUMNS)


def test_interrupted_run_resumes_without_losing_or_duplicating_rows(tmp_path, toy):
    full = tmp_path / "full"
    reference = toy.train(full)

    # an interruption in the middle of epoch 2's measurement: rows of layer T2 at epoch 2 cut short
    cut = tmp_path / "cut"
    shutil.copytree(full, cut)
    rows = reference
    last_t1 = max(i for i, r in enumerate(rows) if r["epoch"] == "2" and r["layer"] == "T1")
    keep = rows[: last_t1 + 3]  # T1 done, two rows of T2
    with open(cut / "toy" / "r" / "metrics.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(keep)
        f.write("2,T2,3,H_bin,binn")  # and a partial line
    for p in (cut / "toy" / "r" / "checkpoints").glob("epoch_000004.pt"):
        p.unlink()
    resumed = toy.train(cut)

    key = toy.key
    assert len(resumed) == len(reference) == len({key(r) for r in reference})
    ref = {key(r): r for r in reference}
    for r in resumed:
        a, b = r["value"], ref[key(r)]["value"]
        assert math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=1e-12), key(r)


def test_szt_command_smoke(tmp_path, capsys):
    """The main job end to end at the smallest settings: files, columns, figures, summary."""
    run = szt.main(["--epochs", "1", "--measure", "2", "--replicas", "8", "--no-extra-figures", "--out", str(tmp_path)])
    rows = run.rows()
    ixt = [r for r in rows if r["quantity"] == "I_XT"]
    assert {r["layer"] for r in ixt} == {"T1", "T2", "T3", "T4", "T5"} and {r["epoch"] for r in ixt} == {"0", "1"}
    for r in ixt:  # every I row has its interval
        assert float(r["ci_low"]) <= float(r["value"]) <= float(r["ci_high"])
        assert -0.1 <= float(r["value"]) <= math.log(4096) + 0.1
    t1 = [r for r in ixt if r["layer"] == "T1"]
    assert all(abs(float(r["value"]) - math.log(4096)) < 0.05 for r in t1)
    for name in ("information_plane", "mi_vs_epoch", "accuracy", "clustering"):
        assert (run.figures / f"{name}.png").stat().st_size > 10_000
    out = capsys.readouterr().out
    assert "I(X;T)" in out and str(run.dir) in out


def _reference(tmp_path, toy):
    full = tmp_path / "full"
    return full, toy.train(full)


@pytest.mark.parametrize("keep", [0.4, 0.0, None])  # truncated to 40%, emptied, deleted
def test_resume_measures_again_every_epoch_whose_rows_are_missing(tmp_path, keep, toy):
    full, reference = _reference(tmp_path, toy)
    cut = tmp_path / "cut"
    shutil.copytree(full, cut)
    metrics = cut / "toy" / "r" / "metrics.csv"
    if keep is None:
        metrics.unlink()
    else:
        lines = metrics.read_text().splitlines(keepends=True)
        metrics.write_text("".join(lines[: 1 + int(keep * (len(lines) - 1))]))
    toy.same_rows(toy.train(cut), reference)


@pytest.mark.parametrize("content", [b"", b"not a checkpoint" * 20, "truncated"])
def test_a_corrupt_newest_checkpoint_falls_back_to_the_previous_one(tmp_path, content, toy):
    full, reference = _reference(tmp_path, toy)
    cut = tmp_path / "cut"
    shutil.copytree(full, cut)
    newest = cut / "toy" / "r" / "checkpoints" / "epoch_000004.pt"
    newest.write_bytes(newest.read_bytes()[:200] if content == "truncated" else content)
    metrics = cut / "toy" / "r" / "metrics.csv"
    lines = metrics.read_text().splitlines(keepends=True)
    metrics.write_text("".join(l for l in lines if not l.startswith("4,")))  # epoch 4 not measured yet
    with pytest.warns(UserWarning, match="epoch_000004.pt is not a readable checkpoint.*earlier checkpoint"):
        toy.same_rows(toy.train(cut), reference)
    assert torch.load(newest, weights_only=True)["epoch"] == 4  # written anew


class _Payload:
    """Pickles to a call of os.system (what a planted checkpoint would run on an unpickling load)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os

        return os.system, (f"touch {self.marker}",)


def test_a_planted_checkpoint_is_refused_and_nothing_runs(tmp_path, toy):
    full, _ = _reference(tmp_path, toy)
    marker = tmp_path / "executed"
    newest = full / "toy" / "r" / "checkpoints" / "epoch_000004.pt"
    torch.save({"model": _Payload(marker), "epoch": 4}, newest)
    with pytest.raises(UnsafeCheckpoint, match=r"epoch_000004.pt refers to posix.system.*refused"):
        toy.train(full)
    assert not marker.exists()
