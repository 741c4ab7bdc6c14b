"""Ground truths for testing the estimators: laws whose smoothed entropy h(S + Z), Z ~ N(0, beta^2 I)
(beta the noise **standard deviation**), or whose I(X;T), is known, each computed at run time by closed form
or by deterministic quadrature with its own error bound (never by sampling, and independently of the
estimators it checks). Everything in nats; each truth is a :class:`Truth` (value, abs_error, method).

The one suite of cases: a :class:`Case` draws a :class:`~estimators.protocol.LayerData` and knows its truths
(cases.py); the cases that need a noisy network are built in ``noisynet.network_cases``. coverage.py runs
the SP estimator on cases repeatedly (:func:`run_case`), the one place here that calls an estimator.

Modules, one idea each:
* truth.py       -- the Truth record and input validation;
* quadrature.py  -- -int g ln g of a Gaussian mixture by scipy quad with breakpoints (1-D; nested in 2-D),
                    with the analytic bound on the truncated domain;
* hermite.py     -- the same by the component decomposition and tensor Gauss-Hermite (1-D, 2-D);
* smoothed.py    -- public entropies (Gaussian, discrete, Gaussian mixture) and the one-channel MI;
* networks.py    -- the single noisy neuron and the two-layer noisy tanh net (Goldfeld et al. ICML 2019);
* spiral.py      -- a spiral constellation (Greenewald et al. ISIT 2023);
* cases.py       -- the Case record, its constructors and the validation suite;
* coverage.py    -- SP's estimates of a case and the repeated-sampling coverage study.
"""

from estimators.ground_truth.cases import (
    Case,
    atoms_case,
    channel_case,
    gaussian_case,
    gaussian_channel_case,
    index_codes,
    mixture_case,
    sampled_atoms_case,
    separated_truth,
    suite,
)
from estimators.ground_truth.coverage import CaseResult, run_case, sp_estimates
from estimators.ground_truth.networks import (
    SINGLE_NEURON_INPUTS,
    SINGLE_NEURON_LABELS,
    SingleNeuronMI,
    TwoLayerMI,
    single_neuron_mi,
    two_layer_tanh_mi,
)
from estimators.ground_truth.smoothed import (
    coincident_limit,
    discrete_smoothed_entropy,
    entropy_of_weights,
    gaussian_entropy,
    gaussian_mixture_smoothed_entropy,
    gaussian_smoothed_entropy,
    merged_limit,
    mi_one_channel,
    mi_one_channel_labels,
    noise_entropy,
    separated_limit,
)
from estimators.ground_truth.spiral import spiral_points
from estimators.ground_truth.truth import Truth

__all__ = [
    "Case",
    "CaseResult",
    "SINGLE_NEURON_INPUTS",
    "SINGLE_NEURON_LABELS",
    "SingleNeuronMI",
    "Truth",
    "TwoLayerMI",
    "atoms_case",
    "channel_case",
    "coincident_limit",
    "discrete_smoothed_entropy",
    "entropy_of_weights",
    "gaussian_case",
    "gaussian_channel_case",
    "gaussian_entropy",
    "gaussian_mixture_smoothed_entropy",
    "gaussian_smoothed_entropy",
    "index_codes",
    "merged_limit",
    "mi_one_channel",
    "mi_one_channel_labels",
    "mixture_case",
    "noise_entropy",
    "run_case",
    "sampled_atoms_case",
    "separated_limit",
    "separated_truth",
    "single_neuron_mi",
    "sp_estimates",
    "spiral_points",
    "suite",
    "two_layer_tanh_mi",
]
