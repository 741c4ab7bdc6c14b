"""Bad input to the estimators' entry points: a ValueError or TypeError naming the argument, saying what it
got and what it expected (issue 13, item 6), and the edge values that are still accepted."""

import numpy as np
import pytest
import torch

from estimators import LayerData, checks, sp_entropy, sp_mutual_information

G = torch.Generator().manual_seed(0)
SAMPLES = torch.randn(16, 8, 2, generator=G, dtype=torch.float64)  # (m, R, d)
LABELS = torch.tensor([0, 1] * 8)


def _sp_entropy(samples=SAMPLES, beta=0.1, level=0.95):
    return sp_entropy(samples[:, 0], beta, level=level)


def _sp_mi(samples=SAMPLES, beta=0.1, labels=LABELS, level=0.95):
    return sp_mutual_information(samples, beta, labels, level=level)


def _layer(samples=SAMPLES, beta=0.1, labels=LABELS):
    return LayerData(samples, beta, labels=labels)


ENTRIES = {"sp_entropy": _sp_entropy, "sp_mutual_information": _sp_mi, "LayerData": _layer}

CASES = [  # (case, keyword arguments, error, argument named, entry points that take the argument)
    ("beta 1e-300: 1/beta^2 overflows", {"beta": 1e-300}, ValueError, "beta", None),
    ("beta 1e300: beta^2 overflows", {"beta": 1e300}, ValueError, "beta", None),
    ("beta True", {"beta": True}, TypeError, "beta", None),
    ("beta a string", {"beta": "0.1"}, TypeError, "beta", None),
    ("beta nan", {"beta": float("nan")}, ValueError, "beta", None),
    ("samples of 1e200: squared distances overflow", {"samples": SAMPLES * 1e200}, ValueError, "samples", None),
    ("samples on the meta device", {"samples": SAMPLES.to("meta")}, ValueError, "samples", None),
    ("samples of strings", {"samples": np.full((16, 8, 2), "a")}, TypeError, "samples", None),
    ("level 'x'", {"level": "x"}, TypeError, "level", ("sp_entropy", "sp_mutual_information")),
    ("level 1", {"level": 1.0}, ValueError, "level", ("sp_entropy", "sp_mutual_information")),
    ("labels of strings", {"labels": np.array(["a", "b"] * 8)}, TypeError, "labels",
     ("sp_mutual_information", "LayerData")),
    ("labels 1e30 and 2e30: one int64", {"labels": torch.tensor([1e30, 2e30] * 8, dtype=torch.float64)},
     ValueError, "labels", ("sp_mutual_information", "LayerData")),
    ("labels inf", {"labels": torch.tensor([0.0, float("inf")] * 8)}, ValueError, "labels",
     ("sp_mutual_information", "LayerData")),
    ("labels on the meta device", {"labels": LABELS.to("meta")}, ValueError, "labels",
     ("sp_mutual_information", "LayerData")),
    ("labels bool", {"labels": LABELS.bool()}, TypeError, "labels", ("sp_mutual_information", "LayerData")),
]


RUNS = [(entry, *case[1:4]) for case in CASES for entry in ENTRIES if case[4] is None or entry in case[4]]
IDS = [f"{entry}: {case[0]}" for case in CASES for entry in ENTRIES if case[4] is None or entry in case[4]]


@pytest.mark.parametrize("entry,kwargs,error,name", RUNS, ids=IDS)
def test_bad_input_names_the_argument(entry, kwargs, error, name):
    with pytest.raises(error) as info:
        ENTRIES[entry](**kwargs)
    text = str(info.value)
    assert text.startswith(f"{name}: got "), text
    assert "expected" in text


def test_layer_data_x_and_s_on_the_meta_device():
    with pytest.raises(ValueError, match="^x: got a tensor on the meta device"):
        LayerData(SAMPLES, 0.1, x=torch.zeros(16, 3, device="meta"))
    with pytest.raises(ValueError, match="^s: got a tensor on the meta device"):
        LayerData(SAMPLES, 0.1, s=SAMPLES[:, 0].to("meta"))


def test_the_edges_that_are_accepted():
    # beta: the range in which beta^2 and 1/beta^2 are finite nonzero float64 numbers
    lo, hi = checks.BETA_RANGE
    assert lo**2 > 0 and 1 / lo**2 < float("inf") and hi**2 < float("inf") and 1 / hi**2 > 0
    assert checks.beta(1e-150) == 1e-150 and checks.beta(np.float32(0.5)) == 0.5
    assert checks.beta(torch.tensor(0.25)) == 0.25
    # samples: the largest entries whose squared distances stay finite are accepted, d = 1 and d = 4
    limit1 = np.sqrt(np.finfo(np.float64).max / 4)
    pair = torch.tensor([[-0.99 * limit1], [0.99 * limit1]], dtype=torch.float64)
    assert torch.isfinite(((pair[0] - pair[1]) ** 2).sum())
    checks.samples(pair, "samples", rank=2, distances=True)
    with pytest.raises(ValueError, match="samples: got entries as large as"):
        checks.samples(pair * 1.02, "samples", rank=2, distances=True)
    checks.samples(pair * 1.02, "t", rank=2)  # where no distance is taken (binning), only finiteness
    wide = torch.full((2, 4), 0.99 * limit1 / 2, dtype=torch.float64)
    wide[1] *= -1
    assert torch.isfinite(((wide[0] - wide[1]) ** 2).sum())
    checks.samples(wide, "samples", rank=2, distances=True)
    # weights are not distances: large ones are normalised
    assert torch.allclose(checks.weights(torch.tensor([1e200, 3e200], dtype=torch.float64), "weights", length=2),
                          torch.tensor([0.25, 0.75], dtype=torch.float64))
    # float labels that int64 holds exactly stay distinct classes
    y = checks.labels(torch.tensor([1e18, 2e18, -3.0], dtype=torch.float64), "labels", length=3)
    assert y.tolist() == [10**18, 2 * 10**18, -3]
    assert checks.labels(np.array([2, 5, 2]), "labels", length=3).dtype == torch.int64
