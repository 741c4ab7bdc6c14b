"""Data sets: SZT (shipped with the package), MNIST from a user-given directory, scikit-learn's digits, a
generated spiral."""

from noisynet.data.digits import load_digits
from noisynet.data.mnist import ImageSet, load_mnist, read_idx
from noisynet.data.spiral import Spiral, make_spiral
from noisynet.data.szt import SZT, load_szt

__all__ = ["SZT", "ImageSet", "Spiral", "load_digits", "load_mnist", "load_szt", "make_spiral", "read_idx"]
