"""Unit round-offs and the classical accumulated-error factor (Higham, Accuracy and Stability of Numerical
Algorithms, 2nd ed., section 3.1): a sum or dot product of n terms computed in floating point differs from
the exact one by at most gamma(n) times the sum of the terms' magnitudes."""

U64 = 2.0**-53  # float64 unit round-off
U32 = 2.0**-24  # float32 unit round-off


def gamma(n: int, u: float = U64) -> float:
    """n u / (1 - n u), for n u < 1."""
    return n * u / (1.0 - n * u)
