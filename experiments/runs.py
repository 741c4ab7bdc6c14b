"""A run on disk: ``<out>/<experiment>/<run-id>/`` with config.json, metrics.csv, checkpoints/ and figures/.

metrics.csv is long format, one row per measurement (DESIGN.md), appended and flushed row by row so an
interrupted run loses no finished measurement; config.json and checkpoints are written atomically (write a
temporary file, then rename). ``--resume`` reopens a run, checks that its configuration is the same, and
continues from the latest checkpoint.
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


class Run:
    """The files of one run.

    Args:
        out: root folder (e.g. "runs"); experiment: its name; run_id: the folder name of this run.
        config: the run's settings (JSON-serialisable); stored in config.json.
        resume: reopen an existing run (its config must match, apart from keys in ``volatile``).
        volatile: config keys allowed to differ on resume (e.g. "resume" itself).

    Raises:
        ValueError: the run exists and ``resume`` is False, or it does not exist / its config differs on resume.
    """

    def __init__(self, out: str | Path, experiment: str, run_id: str, config: dict[str, Any], *,
                 resume: bool = False, volatile: tuple[str, ...] = ("resume",)) -> None:
        self.dir = Path(out) / experiment / run_id
        self.metrics = self.dir / "metrics.csv"
        self.checkpoints = self.dir / "checkpoints"
        self.figures = self.dir / "figures"
        self.config = dict(config)
        cfg_path = self.dir / "config.json"
        if cfg_path.exists():
            if not resume:
                raise ValueError(f"run {self.dir} exists: pass --resume to continue it, or choose another --run-id")
            old = json.loads(cfg_path.read_text())
            diff = {k for k in set(old) | set(self.config) if k not in volatile and old.get(k) != self.config.get(k)}
            if diff:
                raise ValueError(f"resume: the config of {self.dir} differs in {sorted(diff)}; "
                                 "resume with the same settings or start another run")
        elif resume:
            raise ValueError(f"resume: no run at {self.dir} to resume")
        for d in (self.dir, self.checkpoints, self.figures):
            d.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(cfg_path, json.dumps(self.config, indent=2, sort_keys=True).encode())
        self._repair_metrics()

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
        with open(self.metrics, newline="") as f:
            return list(csv.DictReader(f))

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
