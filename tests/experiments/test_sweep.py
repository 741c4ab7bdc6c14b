"""The sweep end to end on the local Ray instance: runs, summary, compression statistics, resume, and bad
arguments that leave nothing behind."""

import csv
import math
import shutil
import socket

import pytest

from experiments import sweep, sweep_summary, szt

TINY = ["--activations", "tanh", "--epochs", "2", "--measure", "2", "--replicas", "8", "--no-extra-figures"]


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _strip(rows):
    return sorted(tuple(sorted((k, v) for k, v in r.items() if k != "seconds")) for r in rows)


@pytest.fixture(scope="module")
def done(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep")
    return out, sweep.main(["--seeds", "0", "1", *TINY, "--workers", "2", "--out", str(out)])


def test_a_tiny_sweep_writes_its_runs_summary_and_figures(done, tmp_path):
    out, sweep_dir = done
    runs = sorted(p.name for p in (out / "szt").iterdir())
    assert runs == ["tanh_beta0.005_seed0_e2", "tanh_beta0.005_seed1_e2"]
    summary = _rows(sweep_dir / "summary.csv")
    assert len(summary) == 2 * 5 * 2  # runs x layers x measured epochs
    assert {(r["seed"], r["activation"], r["beta"], r["epochs"]) for r in summary} == {
        ("0", "tanh", "0.005", "2"), ("1", "tanh", "0.005", "2")}
    for r in summary:
        assert float(r["I_XT_low"]) <= float(r["I_XT"]) <= float(r["I_XT_high"]) <= math.log(4096) + 0.1
        assert int(r["replicas"]) in (2, 8) and r["H_bin"] and r["class_ratio"] and r["test_acc"]
    stats = _rows(sweep_dir / "compression.csv")
    assert [s["layer"] for s in stats] == ["T1", "T2", "T3", "T4", "T5"] and {s["seeds"] for s in stats} == {"2"}
    for name in ("mi_vs_epoch_tanh", "information_planes_tanh"):
        assert (sweep_dir / "figures" / f"{name}.png").stat().st_size > 10_000
    # the rows of a run measured by Ray workers equal those of the same run measured in-process
    alone = szt.main(["--seed", "1", "--epochs", "2", "--measure", "2", "--replicas", "8", "--no-extra-figures",
                      "--workers", "1", "--out", str(tmp_path)])
    assert _strip(alone.rows()) == _strip(_rows(out / "szt" / "tanh_beta0.005_seed1_e2" / "metrics.csv"))


def test_resume_measures_what_an_interruption_left_out_and_skips_finished_runs(done, tmp_path):
    out, sweep_dir = done
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    cut = copy / "szt" / "tanh_beta0.005_seed0_e2"
    lines = (cut / "metrics.csv").read_text().splitlines(keepends=True)
    (cut / "metrics.csv").write_text("".join(lines[:-7]) + "2,T5,2,H_b")  # killed while writing epoch 2's T5
    kept = copy / "szt" / "tanh_beta0.005_seed1_e2" / "metrics.csv"
    stamp = kept.stat().st_mtime_ns
    with pytest.raises(SystemExit, match="exists: pass --resume"):
        sweep.main(["--seeds", "0", "1", *TINY, "--workers", "2", "--out", str(copy)])
    resumed = sweep.main(["--seeds", "0", "1", *TINY, "--workers", "2", "--out", str(copy), "--resume"])
    assert kept.stat().st_mtime_ns == stamp  # a finished run is not touched
    assert _strip(_rows(cut / "metrics.csv")) == _strip(_rows(out / "szt" / cut.name / "metrics.csv"))
    assert _rows(resumed / "summary.csv") == _rows(sweep_dir / "summary.csv")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("argv, message", [
    (["--activations", "sigmoid"], r"--activations: invalid choice: 'sigmoid'"),
    (["--seeds"], r"--seeds: expected at least one argument"),
    (["--seeds", "3", "3"], r"--seeds: got \[3, 3\], expected distinct seeds"),
    (["--seed", "3"], r"--seed: set by the sweep"),
    (["--workers", "0"], r"--workers: got 0, expected >= 1"),
    (["--address", "127.0.0.1:PORT"], r"--address: cannot reach a Ray cluster at 127.0.0.1:\d+"),
])
def test_bad_arguments_are_one_line_and_leave_nothing(tmp_path, argv, message):
    argv = [a.replace("PORT", str(_closed_port())) for a in argv]
    with pytest.raises(SystemExit, match=message) as err:
        sweep.main([*TINY[2:], *argv, "--out", str(tmp_path / "out")])
    assert "\n" not in str(err.value.code)
    assert not (tmp_path / "out").exists()


def test_an_unreachable_address_stops_the_main_job_before_it_writes(tmp_path):
    with pytest.raises(SystemExit, match=r"^--address: cannot reach a Ray cluster at 127\.0\.0\.1:\d+ \(.*\); start"):
        szt.main(["--epochs", "1", "--address", f"127.0.0.1:{_closed_port()}", "--out", str(tmp_path / "out")])
    assert not (tmp_path / "out").exists()


def test_compression_statistics_against_a_hand_count():
    def rows(seed, values, lows, highs, h, ratio):
        return [{"activation": "tanh", "beta": "0.005", "layer": "T5", "seed": str(seed), "epoch": str(e),
                 "I_XT": str(v), "I_XT_low": str(lo), "I_XT_high": str(hi), "H_bin": str(hb),
                 "class_ratio": str(cr)} for e, v, lo, hi, hb, cr in zip((0, 10, 100), values, lows, highs, h, ratio)]
    summary = (rows(0, [2.0, 3.0, 2.0], [1.9, 2.9, 1.9], [2.1, 3.1, 2.1], [5, 6, 4], [0.5, 0.5, 0.4])  # falls by 1
               + rows(1, [2.0, 2.5, 2.4], [1.9, 2.3, 2.2], [2.1, 2.7, 2.6], [5, 6, 4], [0.5, 0.5, 0.6])  # overlaps
               + rows(2, [2.0, 2.2, 2.4], [1.9, 2.1, 2.3], [2.1, 2.3, 2.5], [5, 6, 7], [0.5, 0.5, 0.4]))  # rises
    (s,) = sweep_summary.compression(summary)
    assert (s["seeds"], s["significant"], s["h_bin_falls"], s["ratio_falls"]) == (3, 1, 1, 1)
    assert s["fall_median"] == pytest.approx(0.1) and s["fall_q25"] == pytest.approx(0.05)
    assert s["fall_q75"] == pytest.approx(0.55) and s["peak_epoch_median"] == 10


def test_the_report_section_of_a_sweep_and_only_that_section_rewritten(done, tmp_path):
    from experiments import report

    out, sweep_dir = done
    text = sweep_summary.results_section(sweep_dir)
    assert "| tanh | T5 |" in text and "mi_vs_epoch_tanh.png" in text and "information_planes_tanh.png" in text
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "results.md").write_text("# Results\n\n## Spiral\n\nkept as it was\n\n## Something else\n\nalso kept\n")
    report.main(["--only", "sweep", "--no-run", "--out", str(tmp_path / "none"), "--docs", str(docs)])
    new = (docs / "results.md").read_text()
    assert "## Spiral\n\nkept as it was" in new and "## Something else\n\nalso kept" in new
    assert "## Across seeds" in new and new.index("## Spiral") < new.index("## Across seeds")
