"""The version of the mixture engine a benchmark timed: sha1 prefix and newest modification time of the
sources of ``estimators/mixture/``, printed in every benchmark header so that a table names its engine."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path


def engine_fingerprint() -> str:
    """'<sha1 prefix> (<YYYY-mm-dd HH:MM>)' over the engine package's *.py files, in name order."""
    files = sorted((Path(__file__).resolve().parents[1] / "estimators" / "mixture").glob("*.py"))
    digest = hashlib.sha1(b"".join(f.read_bytes() for f in files)).hexdigest()[:12]
    newest = max(f.stat().st_mtime for f in files)
    return f"{digest} ({time.strftime('%Y-%m-%d %H:%M', time.localtime(newest))})"
