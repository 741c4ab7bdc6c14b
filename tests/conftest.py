"""Test-wide settings: one torch thread. The suite's tensors are small, where a second thread mostly adds
synchronisation (measured on this project's 2-core machines: the run tests took 165 s with two threads and
54 s with one under load), and results do not depend on the thread count."""

import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
