"""Command-line errors of every experiment (issue 13, item 5): one line on stderr naming the option (what it
got, what it expected), a non-zero exit, and the --out folder unchanged (not created, or byte-identical).

Each case runs the command's ``main(argv)`` in-process: the SystemExit's message is what Python prints to
stderr, and nothing else may be written there. The work after validation is replaced by a function that
fails the test, so that a case that is not rejected fails at once instead of running an experiment. A few
cases run as ``python -m experiments.<name>`` to check the real process: exit status 1, exactly one line on
stderr, nothing on stdout.
"""

import dataclasses
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from experiments import compare, report, szt
from experiments.runs import Run

ROOT = Path(__file__).resolve().parents[2]
NAMES = ("szt", "orthonormal", "spiral", "single_neuron", "compare", "mnist_cnn", "compare_estimators",
         "validate", "report")
WORK = {"szt": ("szt", "_main"), "orthonormal": ("orthonormal", "_run"), "spiral": ("spiral", "_run"),
        "single_neuron": ("single_neuron", "_run"), "compare": ("compare", "_main"),
        "mnist_cnn": ("compare", "_main"), "compare_estimators": ("compare_estimators", "_main"),
        "validate": ("validate", "_validate"), "report": ("report", "_run")}
RUNS = ("szt", "orthonormal", "spiral", "single_neuron", "compare", "mnist_cnn", "compare_estimators")
FOLDER = {"mnist_cnn": "mnist_cnn", "compare_estimators": "compare_estimators"}  # <out>/<folder>/<run-id>


def snapshot(path: Path) -> dict:
    """Every file and folder under ``path`` with its bytes (folders: None); {} if it does not exist."""
    if not path.exists():
        return {}
    return {str(p.relative_to(path)): (p.read_bytes() if p.is_file() else None) for p in sorted(path.rglob("*"))}


@pytest.fixture
def env(tmp_path, monkeypatch):
    """out: the --out folder (absent); a_file: a plain file; existing: an out folder holding run 'r' of
    every experiment, with a config that matches no command line."""
    a_file = tmp_path / "a_file"
    a_file.write_text("not a folder\n")
    existing = tmp_path / "existing"
    for name in RUNS:
        d = existing / FOLDER.get(name, name) / "r"
        d.mkdir(parents=True)
        (d / "config.json").write_text(json.dumps({"written": "by another command"}))
    (tmp_path / "empty_dir").mkdir()
    for name, (module, attr) in WORK.items():
        def never(*args, _name=name, **kwargs):
            raise AssertionError(f"{_name}: the arguments were accepted, the command would run")
        monkeypatch.setattr(importlib.import_module(f"experiments.{module}"), attr, never)
    return {"out": tmp_path / "out", "file": a_file, "existing": existing, "tmp": tmp_path}


def run_main(name: str, argv: list[str]) -> str:
    """main(argv) of experiments.<name>; returns the SystemExit message (which must be a string)."""
    main = importlib.import_module(f"experiments.{name}").main
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert isinstance(info.value.code, str), f"exit code {info.value.code!r}, expected a message"
    return info.value.code


# (experiment, argv with {out} {file} {existing} {tmp} filled in, the option the line must name)
COMMON = [
    (["--out", "{file}"], "--out"),
    (["--out", "{file}/runs"], "--out"),
    (["--run-id", "../../x", "--out", "{out}"], "--run-id"),
    (["--run-id", "a/b", "--out", "{out}"], "--run-id"),
    (["--run-id", ".hidden", "--out", "{out}"], "--run-id"),
    (["--seed", str(2**70), "--out", "{out}"], "--seed"),
    (["--seed", "-1", "--out", "{out}"], "--seed"),
    (["--seed", "x", "--out", "{out}"], "--seed"),
    (["--bogus", "--out", "{out}"], "--bogus"),
    (["--threads", "0", "--out", "{out}"], "--threads"),
    (["--run-id", "r", "--out", "{existing}"], "--run-id"),  # exists, no --resume
    (["--run-id", "r", "--resume", "--out", "{existing}"], "--resume"),  # config differs
    (["--run-id", "new", "--resume", "--out", "{existing}"], "--resume"),  # nothing to resume
    (["--resume", "--out", "{out}"], "--resume"),
]
TRAINING = [
    (["--lr", "-1", "--out", "{out}"], "--lr"),
    (["--lr", "nan", "--out", "{out}"], "--lr"),
    (["--epochs", "0", "--out", "{out}"], "--epochs"),
    (["--epochs", "x", "--out", "{out}"], "--epochs"),
    (["--batch-size", "0", "--out", "{out}"], "--batch-size"),
    (["--n-query", "1", "--out", "{out}"], "--n-query"),
    (["--n-mc", "0", "--out", "{out}"], "--n-mc"),
    (["--replicas", "4", "--out", "{out}"], "--replicas"),
]
SP = [  # the SZT-style measurement options
    (["--measure", "1", "--out", "{out}"], "--measure"),
    (["--target-half-width", "nan", "--out", "{out}"], "--target-half-width"),
    (["--target-half-width", "-1", "--out", "{out}"], "--target-half-width"),
    (["--beta", "1e-300", "--out", "{out}"], "--beta"),
    (["--beta", "0", "--out", "{out}"], "--beta"),
    (["--min-replicas", "4", "--out", "{out}"], "--min-replicas"),
]
DIGITS = ["--dataset", "digits"]
CASES = (
    [(n, a, o) for n in RUNS for a, o in COMMON]
    + [(n, a, o) for n in ("szt", "orthonormal", "spiral", "compare", "mnist_cnn", "compare_estimators")
       for a, o in TRAINING]
    + [(n, a, o) for n in ("szt", "orthonormal", "spiral", "compare_estimators") for a, o in SP]
    + [("orthonormal", ["--alpha", "0.9", "--out", "{out}"], "--alpha"),
       ("orthonormal", ["--alpha", "nan", "--out", "{out}"], "--alpha"),
       ("spiral", ["--m", "91", "--out", "{out}"], "--m"),
       ("spiral", ["--arms", "1", "--out", "{out}"], "--arms"),
       ("spiral", ["--noise", "nan", "--out", "{out}"], "--noise"),
       ("spiral", ["--turns", "0", "--out", "{out}"], "--turns"),
       ("spiral", ["--hidden", "8", "0", "--out", "{out}"], "--hidden"),
       ("single_neuron", ["--betas", "0.1", "0.1", "--out", "{out}"], "--betas"),
       ("single_neuron", ["--betas", "0", "--out", "{out}"], "--betas"),
       ("single_neuron", ["--betas", "1e300", "--out", "{out}"], "--betas"),
       ("single_neuron", ["--level", "1.5", "--out", "{out}"], "--level"),
       ("single_neuron", ["--w-min", "0", "--out", "{out}"], "--w-min"),
       ("single_neuron", ["--n-w", "1", "--out", "{out}"], "--n-w"),
       ("compare", ["--betas", "0.1", "0.1", "--out", "{out}"], "--betas"),
       ("compare", ["--betas", "1e-300", "--out", "{out}"], "--betas"),
       ("compare", [*DIGITS, "--channels", "0", "0", "--out", "{out}"], "--channels"),
       ("compare", [*DIGITS, "--hidden", "0", "10", "--out", "{out}"], "--hidden"),
       ("compare", [*DIGITS, "--n-test", "0", "--out", "{out}"], "--n-test"),
       ("compare", ["--max-sp-dim", "0", "--out", "{out}"], "--max-sp-dim"),
       ("compare", ["--dataset", "cifar", "--out", "{out}"], "--dataset"),
       ("compare", ["--n-test", "100", "--out", "{out}"], "--n-test"),  # szt measures all its inputs
       ("compare", ["--data-dir", "{tmp}", "--out", "{out}"], "--data-dir"),  # only mnist reads files
       ("mnist_cnn", ["--dataset", "digits", "--data-dir", "{tmp}", "--out", "{out}"], "--data-dir"),
       ("mnist_cnn", ["--data-dir", "/nonexistent", "--out", "{out}"], "--data-dir"),
       ("mnist_cnn", ["--data-dir", "{tmp}/empty_dir", "--out", "{out}"], "--data-dir"),
       ("mnist_cnn", ["--n-test", "0", "--out", "{out}"], "--n-test"),
       ("mnist_cnn", ["--channels", "0", "0", "--out", "{out}"], "--channels"),
       ("compare_estimators", ["--activation", "tanh", "tanh", "--out", "{out}"], "--activation"),
       ("compare_estimators", ["--bits", "4", "4", "--out", "{out}"], "--bits"),
       ("compare_estimators", ["--bits", "0", "--out", "{out}"], "--bits"),
       ("compare_estimators", ["--kde-rel-noise", "nan", "--out", "{out}"], "--kde-rel-noise"),
       ("compare_estimators", ["--ksg-replicas", "3", "--out", "{out}"], "--ksg-replicas"),
       ("compare_estimators", ["--inputs", "1", "--out", "{out}"], "--inputs"),
       ("validate", ["--out", "{file}"], "--out"),
       ("validate", ["--out", "{file}/docs"], "--out"),
       ("validate", ["--cache", "{file}", "--out", "{out}"], "--cache"),
       ("validate", ["--reps", "1", "--out", "{out}"], "--reps"),
       ("validate", ["--seed", "-1", "--out", "{out}"], "--seed"),
       ("validate", ["--threads", "0", "--out", "{out}"], "--threads"),
       ("report", ["--out", "{file}", "--docs", "{out}"], "--out"),
       ("report", ["--no-run", "--out", "{file}", "--docs", "{out}"], "--out"),
       ("report", ["--docs", "{file}", "--out", "{out}"], "--docs"),
       ("report", ["--only", "nope", "--out", "{out}"], "--only")]
)


def _fill(argv, env):
    return [a.format(**env) for a in argv]


@pytest.mark.parametrize("name,argv,option", CASES, ids=[f"{n} {' '.join(a)}" for n, a, _ in CASES])
def test_one_line_naming_the_option_and_no_folder_changed(name, argv, option, env, capsys):
    before = {k: snapshot(env[k]) for k in ("out", "existing")}
    message = run_main(name, _fill(argv, env))
    assert "\n" not in message and message.strip() == message and message, repr(message)
    assert option in message, message
    if not message.endswith("(see --help)"):  # argparse's own errors say what they got in their words
        assert "got" in message and "expected" in message, message
    assert capsys.readouterr().err == ""  # nothing else on stderr
    assert {k: snapshot(env[k]) for k in ("out", "existing")} == before
    assert not env["file"].with_name("runs").exists() and not (ROOT / "runs" / "x").exists()


def test_the_report_runs_the_experiments_under_its_out(tmp_path):
    """report --out was ignored when the report ran the experiments; now every command gets it, and a run
    that exists is resumed."""
    calls = []

    def fake(argv):
        calls.append(argv)
        if "--resume" not in argv:
            raise SystemExit("--run-id: run x exists: pass --resume to continue it, or choose another --run-id")
        return tmp_path / "the_run"

    exp = dataclasses.replace(report.EXPERIMENTS[0], run=fake)
    assert report._run(exp, tmp_path / "elsewhere") == tmp_path / "the_run"
    assert [c[c.index("--out") + 1] for c in calls] == [str(tmp_path / "elsewhere")] * 2
    assert "--resume" in calls[1]


class _Payload:
    """Pickles to a call of os.system (what a planted checkpoint would run on an unpickling load)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os

        return os.system, (f"touch {self.marker}",)


SZT_TINY = ["--epochs", "1", "--measure", "2", "--replicas", "8", "--no-diagnostics", "--no-extra-figures",
            "--run-id", "r"]
CMP_TINY = ["--dataset", "digits", "--n-test", "100", "--epochs", "1", "--replicas", "8", "--channels", "2", "4",
            "--betas", "0.1", "--run-id", "r"]


def _planted_szt(out: Path, marker: Path) -> None:
    args = szt.parser().parse_args(SZT_TINY + ["--out", str(out)])
    run_id, config = szt.run_settings(args)
    run = Run(out, "szt", run_id, config)
    torch.save({"model": _Payload(marker), "epoch": 1}, run.checkpoint_path(1))


def test_a_planted_checkpoint_on_resume_is_one_line_and_runs_nothing(tmp_path, capsys):
    """szt (the shared train-and-measure loop) and compare (its own checkpoints) refuse it before any work."""
    marker = tmp_path / "executed"
    _planted_szt(tmp_path / "szt_out", marker)
    args = compare.configure(compare.parser().parse_args(CMP_TINY + ["--out", str(tmp_path / "cmp_out")]))
    run = Run(tmp_path / "cmp_out", "compare", compare.run_id_of(args), compare.config_of(args, "compare"))
    torch.save({"model": _Payload(marker), "epoch": 1}, run.checkpoint_path(1, "deterministic_"))
    for name, argv, out in (("szt", SZT_TINY, "szt_out"), ("compare", CMP_TINY, "cmp_out")):
        before = snapshot(tmp_path / out)
        message = run_main(name, argv + ["--out", str(tmp_path / out), "--resume"])
        assert message.startswith("--resume: checkpoint: ") and "\n" not in message
        assert "epoch_000001.pt refers to posix.system" in message and "refused" in message
        assert capsys.readouterr().err == ""
        assert snapshot(tmp_path / out) == before
    assert not marker.exists()


def _python_m(name: str, argv: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", f"experiments.{name}", *argv], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.parametrize("name,argv,option", [
    ("szt", ["--lr", "-1", "--out", "{out}"], "--lr"),
    ("validate", ["--out", "{file}"], "--out"),  # at once, not after the whole computation
])
def test_the_real_command_prints_one_line_and_exits_1(name, argv, option, tmp_path):
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    done = _python_m(name, [a.format(out=tmp_path / "out", file=a_file) for a in argv])
    assert done.returncode == 1 and done.stdout == ""
    assert len(done.stderr.splitlines()) == 1 and option in done.stderr, done.stderr
    assert not (tmp_path / "out").exists()


def test_a_planted_checkpoint_through_the_real_command(tmp_path):
    marker = tmp_path / "executed"
    out = tmp_path / "out"
    _planted_szt(out, marker)
    before = snapshot(out)
    done = _python_m("szt", SZT_TINY + ["--out", str(out), "--resume"])
    assert done.returncode == 1 and done.stdout == ""
    assert len(done.stderr.splitlines()) == 1 and done.stderr.startswith("--resume: checkpoint: "), done.stderr
    assert not marker.exists() and snapshot(out) == before
