"""scikit-learn's bundled 8x8 handwritten digits (UCI ML hand-written digits, 1797 images, 10 classes) as
tensors, with a seeded stratified train/test split. Ships with scikit-learn: no download."""

from __future__ import annotations

import numpy as np
import torch

from noisynet.data.mnist import ImageSet, stratified_split

N_DIGITS = 1797


def load_digits(*, n_test: int = 500, seed: int = 0) -> ImageSet:
    """The 1797 8x8 digits of ``sklearn.datasets.load_digits``.

    Args:
        n_test: images held out for testing (default 500: a 1297/500 split).
        seed: seeds the stratified split.

    Returns:
        ImageSet with x (1797, 1, 8, 8) float32 = pixel / 16 (pixels are integers 0..16), y (1797,) int64
        in 0..9.

    Raises:
        ValueError: ``n_test`` out of range (names it).
    """
    from sklearn.datasets import load_digits as sk_load_digits

    bunch = sk_load_digits()
    x = torch.as_tensor(bunch.images.astype(np.float32) / 16.0).unsqueeze(1)
    y = torch.as_tensor(bunch.target.astype(np.int64))
    train, test = stratified_split(y, n_test, seed)
    source = (f"scikit-learn 8x8 digits ({N_DIGITS} images), stratified split seed {seed}: "
              f"{len(train)} train / {len(test)} test")
    return ImageSet(x, y, train, test, "digits", source)
