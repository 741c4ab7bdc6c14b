"""A generated 2-D, multi-class spiral data set (the spiral task of Greenewald, Kingsbury, Yu, *High-
dimensional smoothed entropy estimation via dimensionality reduction*, ISIT 2023; docs/theory.md, section 8).

Generator (deterministic from its seed): ``arms`` interleaved Archimedean spirals, arm a holding the points
j = 0..n-1 (n = m / arms) at

    u_j = (j + 1) / n,   r = radius * u_j,   theta = 2 pi (turns * u_j + a / arms),
    x = r (cos theta, sin theta) + noise * radius * N(0, I_2),

with label a. The noise-free points are :func:`estimators.ground_truth.spiral_points` (one definition of the
constellation for the whole project); the Gaussian jitter is drawn from ``numpy.random.default_rng(seed)``.
The train/test split is stratified by class and seeded (scikit-learn ``train_test_split``), so classes are
balanced in both parts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from estimators.ground_truth import spiral_points


@dataclass(frozen=True)
class Spiral:
    """x: Tensor (m, 2) float32; y: Tensor (m,) int64 in {0..arms-1}, m / arms inputs per class;
    train, test: int64 index tensors into x (disjoint, covering all m, stratified by class);
    params: the generator's arguments (for a run's config)."""

    x: torch.Tensor
    y: torch.Tensor
    train: torch.Tensor
    test: torch.Tensor
    params: dict


def make_spiral(m: int = 600, *, arms: int = 3, turns: float = 1.0, radius: float = 1.0, noise: float = 0.03,
                test_fraction: float = 0.2, seed: int = 0) -> Spiral:
    """Generate the spiral data set (see the module docstring for the generator).

    Args:
        m: number of points (int), a multiple of ``arms`` with at least 4 points per arm (balanced classes).
        arms: number of arms = classes (int >= 2). turns: turns of each arm (float > 0).
        radius: outer radius (float > 0; 1 keeps the noise-free points in the tanh range [-1, 1]^2).
        noise: std of the Gaussian jitter as a fraction of ``radius`` (float >= 0).
        test_fraction: fraction of each class held out for testing, in (0, 1).
        seed: seeds the jitter (numpy default_rng(seed)) and the split (random_state=seed): same seed, same
            data set and split.

    Returns:
        Spiral.

    Raises:
        ValueError: arms < 2; m not a multiple of arms or fewer than 4 points per arm; turns, radius <= 0;
            noise < 0 or not finite; test_fraction outside (0, 1) or leaving a class empty in a part.
    """
    from sklearn.model_selection import train_test_split

    if isinstance(arms, bool) or not isinstance(arms, (int, np.integer)) or arms < 2:
        raise ValueError(f"arms: got {arms!r}, expected an integer >= 2 (classes)")
    if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 4 * arms or m % arms:
        raise ValueError(f"m: got {m!r}, expected a multiple of arms = {arms} with at least 4 points per arm")
    if not (math.isfinite(float(noise)) and noise >= 0):
        raise ValueError(f"noise: got {noise!r}, expected a finite number >= 0")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction: got {test_fraction!r}, expected a fraction in (0, 1)")
    n_test = round(test_fraction * m)
    if n_test < arms or m - n_test < arms:
        raise ValueError(f"test_fraction: got {test_fraction!r}, which leaves a class empty in one part "
                         f"for m = {m}, arms = {arms}")
    pts, labels = spiral_points(int(m), turns, arms=int(arms), radius=radius, jitter=float(noise), seed=seed)
    idx = np.arange(m)
    train, test = train_test_split(idx, test_size=n_test, stratify=labels, random_state=seed)
    return Spiral(
        torch.as_tensor(pts, dtype=torch.float32),
        torch.as_tensor(labels, dtype=torch.int64),
        torch.as_tensor(np.sort(train), dtype=torch.int64),
        torch.as_tensor(np.sort(test), dtype=torch.int64),
        {"m": int(m), "arms": int(arms), "turns": float(turns), "radius": float(radius), "noise": float(noise),
         "test_fraction": float(test_fraction), "seed": int(seed)},
    )
