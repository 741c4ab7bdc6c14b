"""The IDX reader (real MNIST files and malformed ones), the digits loader and the CNN's layer widths."""

import gzip
import hashlib
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from noisynet import NoisyTwin
from noisynet.cnn import cnn, cnn_layer_widths
from noisynet.data.digits import load_digits
from noisynet.data.mnist import PACKAGED, load_mnist, read_idx, stratified_split

MNIST_DIR = PACKAGED  # the MNIST test set shipped in the package
# label counts of the 10,000 MNIST test images (noisynet/data/mnist/PROVENANCE.md)
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
# md5 of the canonical MNIST distribution files (the checksums torchvision checks)
CANONICAL_MD5 = {"t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
                 "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c"}


def test_the_shipped_mnist_files_are_the_canonical_ones():
    for name, md5 in CANONICAL_MD5.items():
        assert hashlib.md5((MNIST_DIR / name).read_bytes()).hexdigest() == md5, name


def test_real_mnist_test_files_have_the_documented_shapes_and_counts():
    images = read_idx(MNIST_DIR / "t10k-images-idx3-ubyte.gz", magic=0x803)
    labels = read_idx(MNIST_DIR / "t10k-labels-idx1-ubyte.gz", magic=0x801)
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10000,) and np.bincount(labels).tolist() == TEST_COUNTS
    assert abs(images.mean() - 33.79) < 0.01  # PROVENANCE.md: mean pixel 33.79


def test_load_mnist_splits_the_test_set_seeded_and_stratified():
    assert torch.equal(load_mnist(n_test=2000, seed=0).test, load_mnist(MNIST_DIR, n_test=2000, seed=0).test)
    d = load_mnist(MNIST_DIR, n_test=2000, seed=0)
    assert d.x.shape == (10000, 1, 28, 28) and d.x.dtype == torch.float32
    assert float(d.x.min()) == 0.0 and float(d.x.max()) == 1.0
    assert torch.bincount(d.y).tolist() == TEST_COUNTS
    assert len(d.train) == 8000 and len(d.test) == 2000
    assert len(set(d.train.tolist()) | set(d.test.tolist())) == 10000
    # stratified: every class keeps its share of the test split within one image
    share = torch.bincount(d.y[d.test]).double() / 2000
    assert torch.allclose(share, torch.tensor(TEST_COUNTS, dtype=torch.float64) / 10000, atol=1 / 2000)
    again = load_mnist(MNIST_DIR, n_test=2000, seed=0)
    assert torch.equal(again.test, d.test)
    assert not torch.equal(load_mnist(MNIST_DIR, n_test=2000, seed=1).test, d.test)


def _idx(path: Path, magic: int, dims: tuple, payload: bytes, compress: bool = True) -> Path:
    raw = struct.pack(">I", magic) + struct.pack(f">{len(dims)}I", *dims) + payload
    path.write_bytes(gzip.compress(raw) if compress else raw)
    return path


def test_idx_reader_round_trip_and_malformed_files(tmp_path):
    data = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    good = _idx(tmp_path / "good.gz", 0x803, (2, 3, 4), data.tobytes())
    assert np.array_equal(read_idx(good, magic=0x803), data)
    raw = _idx(tmp_path / "raw.idx", 0x801, (24,), data.tobytes(), compress=False)
    assert np.array_equal(read_idx(raw), data.ravel())

    wrong = _idx(tmp_path / "labels-as-images.gz", 0x801, (24,), data.tobytes())
    with pytest.raises(ValueError, match=r"path: .*labels-as-images\.gz.*0x00000801.*expected 0x00000803"):
        read_idx(wrong, magic=0x803)
    not_idx = _idx(tmp_path / "not_idx.gz", 0x12345678, (1,), b"\0")
    with pytest.raises(ValueError, match="not_idx.gz.*IDX magic"):
        read_idx(not_idx)
    short = _idx(tmp_path / "short.gz", 0x803, (2, 3, 4), data.tobytes()[:-1])
    with pytest.raises(ValueError, match="short.gz.*23 payload bytes, expected 24"):
        read_idx(short)
    broken = tmp_path / "broken.gz"
    broken.write_bytes(good.read_bytes()[:-6])
    with pytest.raises(ValueError, match="broken.gz"):
        read_idx(broken)


def test_load_mnist_rejects_a_directory_with_swapped_files(tmp_path):
    imgs = np.zeros((10000, 28, 28), np.uint8)
    _idx(tmp_path / "t10k-images-idx3-ubyte.gz", 0x801, (10000 * 28 * 28,), imgs.tobytes())
    _idx(tmp_path / "t10k-labels-idx1-ubyte.gz", 0x801, (10000,), np.zeros(10000, np.uint8).tobytes())
    with pytest.raises(ValueError, match="t10k-images-idx3-ubyte.gz.*expected 0x00000803"):
        load_mnist(tmp_path)
    with pytest.raises(FileNotFoundError, match="data_dir"):
        load_mnist(tmp_path / "nowhere")


def test_digits_loader_and_split():
    d = load_digits(n_test=500, seed=0)
    assert d.x.shape == (1797, 1, 8, 8) and d.x.dtype == torch.float32 and float(d.x.max()) == 1.0
    assert torch.bincount(d.y).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    assert len(d.test) == 500 and len(d.train) == 1297
    with pytest.raises(ValueError, match="n_test"):
        stratified_split(d.y, 5, seed=0)  # fewer test images than classes


@pytest.mark.parametrize("in_shape,kernel,widths", [((1, 28, 28), 5, (1568, 784, 32, 10)),
                                                     ((1, 8, 8), 3, (128, 64, 32, 10))])
def test_cnn_layer_widths_match_the_twin_sites(in_shape, kernel, widths):
    assert cnn_layer_widths(in_shape, (8, 16), (32, 10)) == widths
    twin = NoisyTwin(cnn(in_shape, (8, 16), (32, 10), kernel=kernel, seed=0), 0.1)
    assert twin.site_names == ["T1", "T2", "T3", "T4"]
    assert twin.layer_names == ["act1", "act2", "act3", "act4"]
    reps = twin.representations(torch.rand(3, *in_shape))
    assert tuple(r.shape[1] for r in reps.values()) == widths
    with twin.deterministic():
        assert twin(torch.rand(3, *in_shape)).shape == (3, 10)


def test_cnn_same_seed_same_initialisation_and_bad_arguments():
    a, b = cnn(seed=3), cnn(seed=3)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not torch.equal(next(cnn(seed=4).parameters()), next(a.parameters()))
    # pool before the activation is the same function as activation before pool (max pooling commutes
    # with a non-decreasing activation): tanh by default, ReLU on request
    z = a.conv1(torch.randn(4, 1, 28, 28))
    assert isinstance(a.act1, torch.nn.Tanh)
    assert torch.equal(a.act1(a.pool1(z)), a.pool1(torch.tanh(z)))
    r = cnn(activation="relu", seed=3)
    assert torch.equal(r.act1(r.pool1(z)), r.pool1(torch.relu(z)))
    for kwargs, name in (({"in_shape": (1, 30, 30)}, "in_shape"), ({"channels": (8,)}, "channels"),
                         ({"hidden": (0, 10)}, "hidden"), ({"kernel": 4}, "kernel"),
                         ({"activation": "swish"}, "activation"), ({"n_classes": 1}, "n_classes")):
        with pytest.raises(ValueError, match=name):
            cnn(**kwargs)
