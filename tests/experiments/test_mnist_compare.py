"""Smoke tests of ``experiments.mnist_cnn`` and ``experiments.compare`` at their smallest settings (digits),
and an interrupted comparison resumed without losing or duplicating a measurement."""

import csv
import math
import shutil

import pytest

from experiments import compare, compare_figures, mnist_cnn
from experiments.compare_figures import parse_param
from experiments.runs import COLUMNS

# digits, 100 measured test images, one beta, one epoch, a narrow CNN: hidden widths 32, 16, 32, 10
TINY = ["--dataset", "digits", "--n-test", "100", "--epochs", "1", "--replicas", "8", "--channels", "2", "4"]


def _rows(run):
    with open(run.metrics, newline="") as f:
        return list(csv.DictReader(f))


def test_mnist_cnn_smoke_writes_rows_figures_and_says_what_it_cannot_estimate(tmp_path, capsys):
    run = mnist_cnn.main(TINY + ["--betas", "0.1", "--out", str(tmp_path)])
    out = capsys.readouterr()
    rows = _rows(run)
    assert list(rows[0]) == list(COLUMNS)
    ixt = {r["layer"]: r for r in rows if r["quantity"] == "I_XT"}
    assert set(ixt) == {"T1", "T2", "T3", "T4"}
    # widths 16, 32 exceed --max-sp-dim 12: an empty value, the a-priori interval, a note, a printed line
    for layer, d in (("T2", 16), ("T3", 32)):
        r = ixt[layer]
        assert r["value"] == "" and int(r["layer_dim"]) == d
        assert (float(r["ci_low"]), float(r["ci_high"])) == (0.0, pytest.approx(math.log(100)))
        assert parse_param(r["param"])["not_estimated"] == f"d {d} > max width 12"
        assert f"layer {layer} has d = {d} > --max-sp-dim 12" in out.out + out.err
        assert "not estimated" in out.out + out.err
    # the first layer (width 32) is a deterministic function of X: estimated at any width
    t1 = ixt["T1"]
    assert int(t1["layer_dim"]) == 32 and float(t1["ci_low"]) <= float(t1["value"]) <= float(t1["ci_high"])
    t4 = ixt["T4"]
    assert int(t4["layer_dim"]) == 10 and 0.0 <= float(t4["value"]) <= math.log(100) + 0.1
    assert float(t4["ci_low"]) <= float(t4["value"]) <= float(t4["ci_high"])
    nets = {parse_param(r["param"])["net"] for r in rows}
    assert nets == {"deterministic", "noisy", "pair"}
    for q in ("test_acc", "H_bin", "class_ratio", "silhouette", "n_clusters", "cka", "cos_match"):
        assert any(r["quantity"] == q for r in rows), q
    for name in ("accuracy_vs_beta", "similarity_vs_beta", "clustering_vs_beta", "mi_vs_beta", "cosine_similarity"):
        assert (run.figures / f"{name}.png").stat().st_size > 10_000, name
    assert "mean cosine within class" in out.out


def test_compare_smoke_results_section_and_resume(tmp_path):
    args = TINY + ["--betas", "1e-06", "0.2"]
    run = compare.main(args + ["--out", str(tmp_path / "full")])
    reference = _rows(run)
    text = compare.results_section(run.dir)
    assert "Criterion:" in text and "| 1e-06 |" in text and "| 0.2 |" in text

    # same initialisation and batch order: with noise of std 1e-6 the twin is the deterministic network
    def one(q, p, layer=""):
        return [float(r["value"]) for r in reference if r["quantity"] == q and r["param"] == p
                and r["layer"] == layer][0]
    assert one("test_acc", "net=noisy;beta=1e-06") == one("test_acc", "net=deterministic")
    for layer in ("T1", "T2", "T3", "T4"):
        assert one("cka", "net=pair;beta=1e-06", layer) > 0.9999
        assert one("cos_match", "net=pair;beta=1e-06", layer) > 0.9999
        assert 0.0 <= one("cka", "net=pair;beta=0.2", layer) <= 1.0 + 1e-9
    # and its last layer keeps the m = 100 inputs apart: I(X;T4) = ln 100 within the interval
    t4 = [r for r in reference if r["quantity"] == "I_XT" and r["layer"] == "T4" and "1e-06" in r["param"]][0]
    assert float(t4["ci_low"]) - 1e-9 <= math.log(100) <= float(t4["ci_high"]) + 1e-9

    # interrupt in the middle of the first twin's layer T2, with a partial line, and lose the last twin
    cut = tmp_path / "cut"
    shutil.copytree(tmp_path / "full", cut)
    unit = compare_figures.unit_of
    first = [i for i, r in enumerate(reference) if unit(r) == "beta=1e-06" and r["layer"] == "T2"][0]
    with open(cut / "compare" / run.dir.name / "metrics.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(reference[: first + 3])
        f.write("1,T2,16,H_bin,bin")
    for p in (cut / "compare" / run.dir.name / "checkpoints").glob("beta0.2_*.pt"):
        p.unlink()
    resumed = _rows(compare.main(args + ["--out", str(cut), "--resume"]))

    key = lambda r: (r["epoch"], r["layer"], r["quantity"], r["estimator"], r["param"])  # noqa: E731
    assert len(resumed) == len(reference) == len({key(r) for r in reference})
    ref = {key(r): r for r in reference}
    for r in resumed:
        a, b = r["value"], ref[key(r)]["value"]
        assert (a == b == "") or math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12), key(r)
