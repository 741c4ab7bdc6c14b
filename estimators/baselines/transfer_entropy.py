"""Transfer entropy from one layer to another across training epochs (docs/theory.md, section 9).

Transfer entropy is not an estimator of I(X;T) or I(T;Y) of one layer (it measures how one layer's state
predicts another's next state across training), so it stays outside the estimator protocol
(:class:`~estimators.protocol.Estimator`): a function of two layers' activations over epochs that returns
one :class:`~estimators.estimate.Estimate`.

Following Moldovan, Cataron & Andonie ("Learning in feedforward neural networks accelerated by transfer
entropy", Entropy 2020, and their follow-up on transfer entropy in the information plane), who measure
transfer entropy between discretised neuron activations during training. The definition used here, with
history length 1, is written out in :func:`transfer_entropy`. Plug-in estimate, nats, no interval.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from estimators import checks
from estimators.baselines.discrete import NO_INTERVAL, _cmi, _row_ids, _rows
from estimators.estimate import Estimate


def _series(x: Any, name: str) -> np.ndarray:
    """Finite float64 array (epochs, m, d) with epochs >= 2."""
    shape = tuple(x.shape) if isinstance(x, torch.Tensor) else np.shape(x)
    if len(shape) != 3:
        raise ValueError(f"{name}: got shape {shape}, expected (epochs, m, d)")
    arr = _rows(x, name, rank=3)
    if arr.shape[0] < 2:
        raise ValueError(f"{name}: got {arr.shape[0]} epoch(s), expected at least 2 (consecutive epoch pairs)")
    return arr


def _discretise(x: np.ndarray, name: str, threshold: float | None, n_bins: int | None) -> np.ndarray:
    """Integer codes of the same shape (see :func:`transfer_entropy` for the three modes)."""
    if threshold is not None:
        return (x > threshold).astype(np.int64)
    if n_bins is not None:
        lo, hi = float(x.min()), float(x.max())
        if lo == hi:
            return np.zeros(x.shape, dtype=np.int64)
        return np.digitize(x, np.linspace(lo, hi, n_bins + 1)[1:-1])
    if not np.array_equal(x, np.round(x)):
        raise ValueError(f"{name}: got non-integer values, expected integer codes; to discretise real "
                         f"activations pass threshold= (binarise) or n_bins= (equal bins over the observed range)")
    return x.astype(np.int64)


def _state_ids(codes: np.ndarray) -> np.ndarray:
    """Id of each (epoch, input) layer state, (epochs, m); the same vector gets the same id at every epoch."""
    e, m, d = codes.shape
    return _row_ids(codes.reshape(e * m, d)).reshape(e, m)


def transfer_entropy(
    a: Any, b: Any, *, threshold: float | None = None, n_bins: int | None = None
) -> Estimate:
    """Transfer entropy TE_{A->B} from layer A to layer B across measured training epochs, history length 1.

    Let a_t^i, b_t^i be the (discretised) state vectors of layers A and B for input i at the t-th measured
    epoch, t = 0 .. E-1. Each input i and each consecutive pair (t, t+1), t = 0 .. E-2, contributes one triple
    (b_{t+1}^i, b_t^i, a_t^i); p is the empirical law of these N = m (E - 1) triples, each weighted 1/N. Then

        TE_{A->B} = sum_{b', b, a} p(b_{t+1}=b', b_t=b, a_t=a) ln[ p(b' | b, a) / p(b' | b) ]
                  = I(B_{t+1}; A_t | B_t)   (nats),

    how much A's state at epoch t tells about B's next state beyond what B's own state at t tells. Not
    symmetric: TE_{B->A} = transfer_entropy(b, a). Per-neuron TE is ``transfer_entropy(a[:, :, [i]],
    b[:, :, [j]])``. A state is the whole layer vector (rows compared entry by entry); the plug-in estimate is
    biased upward when the number of states is not small compared with N, and it carries no interval.
    Definition after Moldovan, Cataron & Andonie (Entropy 2020; 2024 follow-up), who use binarised activations.

    Discretisation (at most one of ``threshold``/``n_bins``):
        * neither: ``a`` and ``b`` are already integer codes (integer dtype or whole-number floats);
        * ``threshold``: each activation becomes 1 if it is > threshold, else 0 (binarisation);
        * ``n_bins``: each tensor gets n_bins equal-width bins spanning its own observed range [min, max] over
          all epochs, inputs and neurons (one grid per tensor, so codes compare across epochs; nothing can fall
          outside, so nothing is clipped); bin k is [e_k, e_{k+1}), the last bin also holds the maximum.

    Args:
        a: Tensor or array (E, m, d_a), real; layer A at E >= 2 consecutive measured epochs.
        b: Tensor or array (E, m, d_b), real; layer B at the same epochs, same inputs in the same order.
        threshold: finite number, or None.
        n_bins: integer >= 1, or None.

    Returns:
        Estimate in nats, >= 0, a point estimate (no interval; bound "no interval: plug-in estimator"),
        params {"history": 1, "discretiser", "threshold", "n_bins"}, n = N = m (E - 1),
        diagnostics {"epochs", "m", "n_states_a", "n_states_b"}.

    Raises:
        ValueError: ``a``/``b`` not 3-D, empty, with NaN/inf, fewer than 2 epochs, or with different numbers of
            epochs or inputs; non-integer values with no discretiser (names the argument); both ``threshold``
            and ``n_bins`` given; ``threshold`` not finite; ``n_bins`` < 1.
        TypeError: non-numeric ``a``/``b``, non-integer ``n_bins``.
    """
    xa, xb = _series(a, "a"), _series(b, "b")
    if xa.shape[:2] != xb.shape[:2]:
        raise ValueError(f"b: got (epochs, m) = {xb.shape[:2]}, expected {xa.shape[:2]} as in a")
    if threshold is not None and n_bins is not None:
        raise ValueError(f"threshold, n_bins: got both ({threshold!r}, {n_bins!r}), expected at most one")
    if threshold is not None:
        threshold = float(threshold)
        if not math.isfinite(threshold):
            raise ValueError(f"threshold: got {threshold!r}, expected a finite number")
        mode = "threshold"
    elif n_bins is not None:
        n_bins = checks.positive_int(n_bins, "n_bins")
        mode = "n_bins"
    else:
        mode = "none (integer codes)"
    sa = _state_ids(_discretise(xa, "a", threshold, n_bins))
    sb = _state_ids(_discretise(xb, "b", threshold, n_bins))
    b_next, b_now, a_now = sb[1:].reshape(-1), sb[:-1].reshape(-1), sa[:-1].reshape(-1)
    te = _cmi(b_next, a_now, b_now)
    e, m = xa.shape[:2]
    return Estimate.point(
        te, estimator="transfer_entropy",
        params={"history": 1, "discretiser": mode, "threshold": threshold, "n_bins": n_bins},
        n=b_next.size, bound=NO_INTERVAL,
        diagnostics={"epochs": e, "m": m, "n_states_a": int(sa.max()) + 1, "n_states_b": int(sb.max()) + 1},
    )
