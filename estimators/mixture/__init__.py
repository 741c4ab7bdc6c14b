"""Log-density of an isotropic Gaussian mixture at points drawn around its own centres, exact to a stated
tolerance (docs/theory.md, sections 4-5 and 10).

The SP estimator evaluates

    ln g(q) = LSE_k( ln w_k - ||q - c_k||^2 / (2 beta^2) ) - (d/2) ln(2 pi beta^2)

at q = s_i + z, z ~ N(0, beta^2 I), for centres s_i; every value comes with a bound: the true ln g lies in
``[value - below, value + above]``. :class:`GaussianMixture` is the one entry point (module
:mod:`~estimators.mixture.engine`: components, error budget, path choice); one module per evaluation path:

* :mod:`~estimators.mixture.dense`: a chunked float64 log-sum-exp over all (exactly merged) components;
* :mod:`~estimators.mixture.lists`: truncation to each owner component's neighbours (near-duplicates
  merged, k-d tree lists evaluated per owner group), for components spread out at the noise scale;
* :mod:`~estimators.mixture.clustered`: queries grouped by cell of a grid on the leading principal axes
  (:mod:`~estimators.mixture.grid`), each group summed over the components within its queries' truncation
  distance in dense float32 blocks, for components clustered at the noise scale.

Memory: each pass holds at most about ``memory_mb`` MiB of intermediates, whatever n.
"""

from estimators.mixture.components import unique_rows
from estimators.mixture.engine import GaussianMixture, LogDensity

__all__ = ["GaussianMixture", "LogDensity", "unique_rows"]
