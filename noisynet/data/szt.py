"""The SZT data set of Shwartz-Ziv & Tishby (2017, arXiv:1703.00810): all 4096 12-bit inputs with binary
labels, and the 80/20 train/test split shipped by neuroinfo-os/deep-bottleneck (Saxe et al. 2018's ID).
Both files ship inside this package; provenance and licence notes are in data/szt/PROVENANCE.md."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import numpy as np
import scipy.io
import torch

_FULL = "var_u.mat"
_SPLIT = "IB_data_2017_12_21_16_51_3_275766.npz"


@dataclass(frozen=True)
class SZT:
    """x: Tensor (4096, 12) float32 in {0, 1} (row i is the binary expansion of i, most significant bit
    first); y: Tensor (4096,) int64 in {0, 1}; train, test: int64 index tensors into x (3277 and 819 rows,
    disjoint, covering all 4096)."""

    x: torch.Tensor
    y: torch.Tensor
    train: torch.Tensor
    test: torch.Tensor


def _index_of(bits: np.ndarray) -> np.ndarray:
    return bits.astype(np.int64) @ (1 << np.arange(bits.shape[1] - 1, -1, -1))


def load_szt() -> SZT:
    """Load SZT from the package data. Raises ValueError if the files do not have the documented layout."""
    root = resources.files("noisynet.data") / "szt"
    with resources.as_file(root / _FULL) as p:
        mat = scipy.io.loadmat(p)
    f = np.ascontiguousarray(mat["F"])
    y = mat["y"].ravel().astype(np.int64)
    if f.shape != (4096, 12) or not np.array_equal(_index_of(f), np.arange(4096)):
        raise ValueError(f"{_FULL}: F is not the 4096 12-bit patterns in binary order")
    with resources.as_file(root / _SPLIT) as p:
        split = np.load(p)
        train, test = _index_of(split["X_train"]), _index_of(split["X_test"])
        if not (np.array_equal(y[train], split["y_train"]) and np.array_equal(y[test], split["y_test"])):
            raise ValueError(f"{_SPLIT}: labels disagree with {_FULL}")
    if np.intersect1d(train, test).size or np.union1d(train, test).size != 4096:
        raise ValueError(f"{_SPLIT}: the split is not a partition of the 4096 inputs")
    return SZT(
        torch.as_tensor(f, dtype=torch.float32),
        torch.as_tensor(y),
        torch.as_tensor(train),
        torch.as_tensor(test),
    )
