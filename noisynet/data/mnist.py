"""MNIST from its original IDX files (LeCun, Cortes & Burges; LeCun et al., Proc. IEEE 1998), read with a
small reader (gzip + struct + numpy), and the image-set container shared with the 8x8 digits.

MNIST's 10,000 test images and labels ship inside the package (``noisynet/data/mnist/``, CC BY-SA 3.0;
provenance and checksums in its PROVENANCE.md); the 60,000 training images do not. :func:`load_mnist` splits
those 10,000 images into a seeded, class-stratified train/test split (default 8000/2000, scikit-learn's
``train_test_split``), from the packaged copy or from a folder the user gives.

IDX layout (http://yann.lecun.com/exdb/mnist/): a 4-byte big-endian magic number ``0x0000TTNN`` (two zero
bytes, TT the element type, NN the number of dimensions), NN big-endian uint32 dimension sizes, then the
elements in C order. Images are magic 0x00000803 (uint8, 3-D), labels 0x00000801 (uint8, 1-D).
"""

from __future__ import annotations

import gzip
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

# IDX element type code -> numpy dtype (big-endian as stored)
IDX_TYPES = {0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
             0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
IMAGES_MAGIC, LABELS_MAGIC = 0x00000803, 0x00000801
TEST_IMAGES, TEST_LABELS = "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"
N_TEST_IMAGES = 10_000
PACKAGED = Path(__file__).resolve().parent / "mnist"
"""The packaged copy of the MNIST test set (images and labels, IDX, gzip)."""


@dataclass(frozen=True)
class ImageSet:
    """Labelled images with a train/test split.

    x: Tensor (N, 1, H, W) float32 in [0, 1]; y: Tensor (N,) int64 class labels 0..9; train, test: int64
    index tensors into x (disjoint, together covering all N rows, stratified by class); name: e.g. "mnist";
    source: one line saying where the images came from and how they were split."""

    x: torch.Tensor
    y: torch.Tensor
    train: torch.Tensor
    test: torch.Tensor
    name: str
    source: str


def read_idx(path: str | Path, *, magic: int | None = None) -> np.ndarray:
    """Read one IDX file (gzip-compressed if it starts with the gzip signature, else raw).

    Args:
        path: the file.
        magic: the expected magic number (e.g. 0x803 for MNIST images, 0x801 for labels); None accepts any
            valid IDX magic.

    Returns:
        numpy array of the stored dtype (uint8 for MNIST) and the stored shape, e.g. (10000, 28, 28).

    Raises:
        ValueError naming ``path``: not gzip-readable, a magic number that is not IDX or not ``magic``,
            a header shorter than its dimensions, or a payload whose size differs from the product of the
            dimensions times the element size.
        FileNotFoundError: ``path`` does not exist.
    """
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as err:
            raise ValueError(f"path: {path} is not a readable gzip file ({err})") from err
    if len(raw) < 4:
        raise ValueError(f"path: {path} holds {len(raw)} bytes, expected at least a 4-byte IDX magic number")
    (found,) = struct.unpack(">I", raw[:4])
    zero, code, ndim = found >> 16, (found >> 8) & 0xFF, found & 0xFF
    if zero != 0 or code not in IDX_TYPES or ndim == 0:
        raise ValueError(f"path: {path} has magic number 0x{found:08x}, expected an IDX magic 0x0000TTNN "
                         f"(TT in {[hex(c) for c in IDX_TYPES]}, NN >= 1)")
    if magic is not None and found != magic:
        raise ValueError(f"path: {path} has magic number 0x{found:08x}, expected 0x{magic:08x}")
    head = 4 + 4 * ndim
    if len(raw) < head:
        raise ValueError(f"path: {path} ends inside its header ({len(raw)} bytes, expected >= {head})")
    shape = struct.unpack(f">{ndim}I", raw[4:head])
    dtype = IDX_TYPES[code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - head != expected:
        raise ValueError(f"path: {path} has {len(raw) - head} payload bytes, expected {expected} for shape "
                         f"{shape} of {dtype}")
    return np.frombuffer(raw, dtype=dtype, offset=head).reshape(shape)


def stratified_split(y: torch.Tensor, n_test: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded class-stratified split of ``range(len(y))`` (scikit-learn ``train_test_split``).

    Returns (train, test): sorted int64 index tensors, ``len(test) == n_test``.

    Raises:
        ValueError: ``n_test`` not in [number of classes, len(y) - number of classes].
    """
    from sklearn.model_selection import train_test_split

    n, k = int(y.shape[0]), int(torch.unique(y).numel())
    if isinstance(n_test, bool) or not isinstance(n_test, int) or not k <= n_test <= n - k:
        raise ValueError(f"n_test: got {n_test!r}, expected an integer in [{k}, {n - k}] ({n} images, {k} classes)")
    train, test = train_test_split(np.arange(n), test_size=n_test, random_state=seed, stratify=y.numpy())
    return torch.as_tensor(np.sort(train)), torch.as_tensor(np.sort(test))


def load_mnist(data_dir: str | Path | None = None, *, n_test: int = 2000, seed: int = 0) -> ImageSet:
    """MNIST's 10,000 test images, split into a seeded, stratified train/test split.

    Args:
        data_dir: folder holding ``t10k-images-idx3-ubyte.gz`` and ``t10k-labels-idx1-ubyte.gz``; None
            (default): the copy shipped in the package (:data:`PACKAGED`).
        n_test: images held out for testing (default 2000: an 8000/2000 split).
        seed: seeds the split.

    Returns:
        ImageSet with x (10000, 1, 28, 28) float32 = pixel / 255, y (10000,) int64 in 0..9.

    Raises:
        FileNotFoundError: a file is missing (the message names it and ``data_dir``).
        ValueError: a file with the wrong magic number or shape (names the file), labels outside 0..9, or a
            bad ``n_test``.
    """
    root = PACKAGED if data_dir is None else Path(data_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"data_dir: got {root}, expected a folder holding {TEST_IMAGES} and {TEST_LABELS}")
    paths = root / TEST_IMAGES, root / TEST_LABELS
    for p in paths:
        if not p.is_file():
            raise FileNotFoundError(f"data_dir: got {root}, which has no {p.name}; expected a folder holding the "
                                    "MNIST test set (IDX format)")
    images = read_idx(paths[0], magic=IMAGES_MAGIC)
    labels = read_idx(paths[1], magic=LABELS_MAGIC)
    if images.shape != (N_TEST_IMAGES, 28, 28):
        raise ValueError(f"path: {paths[0]} has shape {images.shape}, expected ({N_TEST_IMAGES}, 28, 28)")
    if labels.shape != (N_TEST_IMAGES,):
        raise ValueError(f"path: {paths[1]} has shape {labels.shape}, expected ({N_TEST_IMAGES},)")
    if labels.max() > 9:
        raise ValueError(f"path: {paths[1]} holds label {labels.max()}, expected labels 0..9")
    x = torch.as_tensor(images.astype(np.float32) / 255.0).unsqueeze(1)
    y = torch.as_tensor(labels.astype(np.int64))
    train, test = stratified_split(y, n_test, seed)
    where = "shipped with noisynet" if data_dir is None else str(root)
    source = (f"MNIST test set ({N_TEST_IMAGES} images, {where}), stratified split seed {seed}: "
              f"{len(train)} train / {len(test)} test")
    return ImageSet(x, y, train, test, "mnist", source)
