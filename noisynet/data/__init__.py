"""Data sets: SZT (shipped with the package), MNIST from a user-given directory, a generated spiral."""

from noisynet.data.szt import SZT, load_szt

__all__ = ["SZT", "load_szt"]
