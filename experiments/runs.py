"""A run on disk: ``<out>/<experiment>/<run-id>/`` with config.json, metrics.csv, checkpoints/ and figures/.

metrics.csv is long format, one row per measurement (columns: :mod:`experiments.rows`; README, "What a run
writes"), appended and flushed row by row so an interrupted run loses no finished measurement; config.json
and checkpoints are written atomically (write a temporary file, then rename). ``--resume`` reopens a run,
checks that its configuration is the same, and continues from the latest checkpoint.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from experiments.rows import COLUMNS


def read_csv(path: Path) -> list[dict[str, str]]:
    """The rows of a CSV file with a header row (metrics.csv, summary.csv, ground_truth.csv), as dicts of
    strings keyed by the header.

    Raises:
        OSError: the file cannot be read.
    """
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def log_schedule(epochs: int, n: int) -> list[int]:
    """About ``n`` distinct epochs from 0 to ``epochs``, log-spaced (0 and 1 included, ``epochs`` last)."""
    if epochs < 1 or n < 2:
        raise ValueError(f"epochs, n: got ({epochs}, {n}), expected epochs >= 1 and n >= 2")
    if n == 2:
        return [0, epochs]
    pts = np.unique(np.round(np.logspace(0, np.log10(epochs), n - 1)).astype(int))
    return [0] + [int(p) for p in pts]


RUN_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._=+-]*")


def check_run_id(run_id: Any) -> str:
    """A run id is a single folder name: letters, digits and ``._=+-``, not starting with a dot or a dash
    (so never ``..``, a path, or a hidden folder), at most 200 characters.

    Raises:
        ValueError: names ``run_id``, what it got and what was expected."""
    if not isinstance(run_id, str) or len(run_id) > 200 or not RUN_ID.fullmatch(run_id):
        raise ValueError(f"run_id: got {run_id!r}, expected a single folder name (letters, digits and ._=+-, "
                         "not starting with . or -, at most 200 characters)")
    return run_id


def check_folder(path: str | Path, name: str) -> Path:
    """That ``path`` is, or can be made, a folder this process can write into, without creating it: the path
    and its ancestors that exist are folders, and the deepest one that exists is writable.

    Raises:
        ValueError: names ``name`` (the argument the path comes from), the path and what is wrong."""
    path = Path(path)
    probe = path
    while not probe.exists():
        if probe.is_symlink():
            raise ValueError(f"{name}: got {path}, but {probe} is a dangling symbolic link, expected a folder")
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        raise ValueError(f"{name}: got {path}, but {probe} is a file, expected a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ValueError(f"{name}: got {path}, but {probe} is not writable, expected a folder you can write to")
    return path


class Run:
    """The files of one run.

    Args:
        out: root folder (e.g. "runs"); experiment: its name; run_id: the folder name of this run.
        config: the run's settings (JSON-serialisable); stored in config.json.
        resume: reopen an existing run (its config must match, apart from keys in ``volatile``).
        volatile: config keys allowed to differ on resume (e.g. "resume" itself).

    Raises:
        ValueError: the run exists and ``resume`` is False, or it does not exist / its config differs on resume;
            ``run_id`` not a single folder name; ``out`` not a folder that can be written (:meth:`check`, which
            runs before anything is created).
    """

    def __init__(self, out: str | Path, experiment: str, run_id: str, config: dict[str, Any], *,
                 resume: bool = False, volatile: tuple[str, ...] = ("resume",)) -> None:
        self.dir = Run.check(out, experiment, run_id, config, resume=resume, volatile=volatile)
        self.metrics = self.dir / "metrics.csv"
        self.checkpoints = self.dir / "checkpoints"
        self.figures = self.dir / "figures"
        self.config = dict(config)
        for d in (self.dir, self.checkpoints, self.figures):
            d.mkdir(parents=True, exist_ok=True)
        if not resume:  # on resume config.json is kept: it matches, apart from the volatile keys
            atomic_write_bytes(self.dir / "config.json", json.dumps(self.config, indent=2, sort_keys=True).encode())
        self._repair_metrics()

    @staticmethod
    def check(out: str | Path, experiment: str, run_id: str, config: dict[str, Any], *, resume: bool = False,
              volatile: tuple[str, ...] = ("resume",)) -> Path:
        """What the constructor checks, without creating or changing anything: a command validates its run
        before it writes a file. Arguments as for :class:`Run`; returns the run's folder.

        Raises:
            ValueError: its message starts with the argument at fault: ``run_id`` not a single folder name
                (see :func:`check_run_id`), or the run exists and ``resume`` is False; ``out`` not a folder
                that can be written (see :func:`check_folder`); ``resume`` with no run, or a config that
                differs (or a config.json that is not JSON); ``config`` not JSON-serialisable.
        """
        check_run_id(run_id)
        run_dir = Path(out) / experiment / run_id
        check_folder(run_dir, "out")
        try:
            json.dumps(config)
        except (TypeError, ValueError) as err:
            raise ValueError(f"config: got a value JSON cannot store ({err}), expected plain values") from err
        cfg_path = run_dir / "config.json"
        if cfg_path.exists():
            if not resume:
                raise ValueError(f"run_id: got {run_id!r}, whose run {run_dir} exists; expected a new run id, or "
                                 "--resume to continue that run")
            try:
                old = json.loads(cfg_path.read_text())
            except (ValueError, UnicodeDecodeError) as err:
                raise ValueError(f"resume: got {cfg_path}, which is not JSON ({err}); expected the config.json of "
                                 "a run") from err
            diff = {k for k in set(old) | set(config) if k not in volatile and old.get(k) != config.get(k)}
            if diff:
                raise ValueError(f"resume: got a config that differs from that of {run_dir} in {sorted(diff)}; "
                                 "expected the same settings (or another --run-id for a new run)")
        elif resume:
            raise ValueError(f"resume: got no run at {run_dir}; expected a run to continue (without --resume: "
                             "a new run)")
        return run_dir

    def _repair_metrics(self) -> None:
        """Create metrics.csv with its header, or cut a partial last line left by an interruption."""
        if not self.metrics.exists() or self.metrics.stat().st_size == 0:
            with open(self.metrics, "w", newline="") as f:
                csv.writer(f).writerow(COLUMNS)
            return
        data = self.metrics.read_bytes()
        if not data.endswith(b"\n"):
            atomic_write_bytes(self.metrics, data[: data.rfind(b"\n") + 1])

    def rows(self) -> list[dict[str, str]]:
        """The rows written so far, as strings (pandas.read_csv reads the same file with types)."""
        return read_csv(self.metrics)

    def append(self, rows: list[dict[str, Any]] | dict[str, Any]) -> None:
        """Append rows (dicts with keys in COLUMNS; missing keys are left empty) and flush them to disk."""
        rows = [rows] if isinstance(rows, dict) else rows
        with open(self.metrics, "a", newline="") as f:
            w = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="raise")
            for r in rows:
                w.writerow({k: ("" if v is None else v) for k, v in r.items()})
            f.flush()
            os.fsync(f.fileno())

    def discard(self, epoch: int, layer: str) -> int:
        """Remove the rows of one layer at one epoch (a measurement cut short, about to be redone in full,
        so that nothing is duplicated). Returns how many rows went."""
        return self.discard_rows(lambda r: int(r["epoch"]) == epoch and r["layer"] == layer)

    def discard_rows(self, drop: Callable[[dict[str, str]], bool]) -> int:
        """Remove the rows for which ``drop(row)`` is true (rows as read by :meth:`rows`); rewrites
        metrics.csv atomically. Returns how many rows went."""
        rows = self.rows()
        keep = [r for r in rows if not drop(r)]
        if len(keep) == len(rows):
            return 0
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(keep)
        atomic_write_bytes(self.metrics, buf.getvalue().encode())
        return len(rows) - len(keep)

    def checkpoint_path(self, epoch: int, prefix: str = "") -> Path:
        """checkpoints/<prefix>epoch_<epoch>.pt (``prefix`` names one of several networks of a run)."""
        return self.checkpoints / f"{prefix}epoch_{epoch:06d}.pt"

    def save_checkpoint(self, epoch: int, state: dict[str, Any], prefix: str = "") -> Path:
        """Write the checkpoint of ``epoch`` atomically (written, flushed to disk, then renamed); ``state``
        holds tensors and plain types only (it is loaded with ``weights_only=True``). Returns its path."""
        path = self.checkpoint_path(epoch, prefix)
        buf = io.BytesIO()
        torch.save(state, buf)
        atomic_write_bytes(path, buf.getvalue())
        return path

    def checkpoint_epochs(self, prefix: str = "") -> list[int]:
        """Epochs with a checkpoint (of the network ``prefix``), ascending."""
        return sorted(int(p.stem.rsplit("_", 1)[1]) for p in self.checkpoints.glob(f"{prefix}epoch_*.pt"))

    def load_checkpoint(self, epoch: int, prefix: str = "") -> dict[str, Any]:
        """The checkpoint of ``epoch``, loaded without unpickling code (``weights_only=True``).

        Raises:
            UnsafeCheckpoint: the file refers to a Python callable (a pickle that would run code on loading:
                nothing is executed); the message names the file and the callable.
            ValueError: the file is not a readable checkpoint (corrupt, truncated, empty); names the file.
        """
        path = self.checkpoint_path(epoch, prefix)
        try:
            return torch.load(path, weights_only=True)
        except Exception as err:  # torch raises UnpicklingError, EOFError, RuntimeError, ... by content
            text = str(err)
            found = re.search(r"unsupported GLOBAL (\S+)", text)
            if found:
                raise UnsafeCheckpoint(f"checkpoint: {path} refers to {found.group(1)}, which a checkpoint of "
                                       "tensors and plain types never does: refused, nothing was run") from err
            first = next((line for line in text.splitlines() if line.strip()), "")
            raise ValueError(f"checkpoint: {path} is not a readable checkpoint ({type(err).__name__}"
                             + (f": {first[:120]}" if first else "") + ")") from err


class UnsafeCheckpoint(ValueError):
    """A checkpoint file that would run code if it were unpickled (refused; never loaded)."""


def shown(path: Path) -> Path:
    """``path`` relative to the working folder where it lies below it (docs name no machine's folders)."""
    here = Path.cwd().resolve()
    return path.resolve().relative_to(here) if path.resolve().is_relative_to(here) else path
