"""A deterministic 2-D spiral constellation (the spiral task of Greenewald, Kingsbury, Yu, ISIT 2023,
docs/theory.md, section 8), for I(X;T) of a noisy channel on a spiral by :func:`mi_one_channel`."""

from __future__ import annotations

import math

import numpy as np

from estimators import checks


def spiral_points(
    m: int, turns: float = 1.5, *, arms: int = 2, radius: float = 1.0, jitter: float = 0.0, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """m points on ``arms`` interleaved Archimedean spirals r = radius * u, theta = 2 pi (turns u + a / arms),
    u = (j + 1) / n_a for the n_a points j = 0..n_a - 1 of arm a (point i belongs to arm i mod arms).

    Args:
        m: number of points (int >= arms). turns: turns of each arm (float > 0). arms: number of arms and
            classes (int >= 1). radius: outer radius (float > 0; 1 keeps the points in the tanh range).
        jitter: std of an optional Gaussian perturbation, as a fraction of ``radius`` (float >= 0).
        seed: seed of numpy's default_rng for the jitter (unused when jitter = 0): same seed, same points.

    Returns:
        (points, labels): ndarray (m, 2) float64 and ndarray (m,) int64 (the arm of each point).

    Raises:
        ValueError: m < arms, arms < 1, turns or radius <= 0, jitter < 0 or non-finite.
    """
    arms = checks.positive_int(arms, "arms")
    m = checks.positive_int(m, "m", minimum=arms)
    turns = checks.positive(turns, "turns")
    radius = checks.positive(radius, "radius")
    jitter = float(jitter)
    if not (jitter >= 0.0 and math.isfinite(jitter)):
        raise ValueError(f"jitter: got {jitter!r}, expected a finite number >= 0")
    labels = np.arange(m) % arms
    points = np.empty((m, 2))
    for a in range(arms):
        idx = np.flatnonzero(labels == a)
        u = (np.arange(idx.size) + 1.0) / idx.size
        theta = 2 * math.pi * (turns * u + a / arms)
        points[idx] = radius * u[:, None] * np.stack([np.cos(theta), np.sin(theta)], axis=1)
    if jitter > 0:
        points += jitter * radius * np.random.default_rng(seed).standard_normal((m, 2))
    return points, labels.astype(np.int64)
