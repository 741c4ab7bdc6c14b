"""The shipped SZT data, and training that resumes exactly."""

import math

import torch

from noisynet import NoisyTwin, Trainer, mlp
from noisynet.data import load_szt


def test_szt_is_all_12_bit_patterns_with_the_documented_labels_and_split():
    d = load_szt()
    assert d.x.shape == (4096, 12) and d.y.shape == (4096,)
    idx = (d.x.long() * (2 ** torch.arange(11, -1, -1))).sum(1)
    assert torch.equal(idx, torch.arange(4096))  # row i is the binary expansion of i
    assert int((d.y == 0).sum()) == 1978 and int((d.y == 1).sum()) == 2118  # README of the data
    assert len(d.train) == 3277 and len(d.test) == 819
    assert len(set(d.train.tolist()) | set(d.test.tolist())) == 4096
    p = 2118 / 4096
    assert abs(-(p * math.log(p) + (1 - p) * math.log(1 - p)) - 0.6926) < 1e-4  # H(Y) of the issue


def _trainer(seed=0):
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 2, (96, 6), generator=g).float()
    y = (x.sum(1) > 3).long()
    twin = NoisyTwin(mlp((6, 5, 4, 2), "tanh", seed=seed), 0.05)
    return Trainer(twin, x[:64], y[:64], x[64:], y[64:], lr=1e-2, batch_size=16, seed=seed)


def test_training_learns_and_resumes_exactly():
    a = _trainer()
    for _ in range(6):
        a.train_epoch()
    b = _trainer()
    for _ in range(3):
        b.train_epoch()
    state = b.state_dict()
    c = _trainer(seed=5)  # different init: everything must come from the state
    c.load_state_dict(state)
    for _ in range(3):
        c.train_epoch()
    assert c.epoch == 6
    for p, q in zip(a.twin.parameters(), c.twin.parameters()):
        assert torch.equal(p, q)
    assert a.evaluate() == c.evaluate()
    assert a.evaluate()["train_loss"] < _trainer().evaluate()["train_loss"]
