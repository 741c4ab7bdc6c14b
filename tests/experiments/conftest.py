"""One embedded Ray instance (2 CPUs, as on CI) for the experiments' tests: the commands' default --workers is
the cores available, and a command that finds Ray running uses it instead of starting its own (about 10 s
each)."""

import pytest

from experiments import parallel


@pytest.fixture(autouse=True, scope="session")
def _ray():
    with parallel.session(2):
        yield
