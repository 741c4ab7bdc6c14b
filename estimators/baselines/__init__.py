"""Baseline estimators from the information-plane literature (docs/theory.md, section 9), for comparison runs.

Each estimator of I(X;T) and I(T;Y) is an :class:`~estimators.protocol.Estimator` (a frozen dataclass:
hyperparameters at construction, ``estimator(layer, generator=None) -> MIEstimate`` on a
:class:`~estimators.protocol.LayerData`), as the SP estimator :class:`estimators.SP` is:

    FixedBinning (and FixedBinning.szt()), AdaptiveBinning, KDEBound, AdaptiveNoiseKDE, KSG, RossKNN,
    MatrixRenyi, DiscreteExact.

Their functions (``fixed_binning_mi``, ``kde_mutual_information``, ...) stay as the low-level API on plain
tensors; those that give I(X;T) and I(T;Y) return the same :class:`~estimators.protocol.MIEstimate`, the
single-quantity ones an :class:`~estimators.estimate.Estimate`. Values in nats with the hyperparameters in
``params``; baselines give no interval (interval fields None, ``bound`` "no interval: ..."). Transfer entropy
is not an estimator of I(X;T) or I(T;Y) and stays a function returning an Estimate.

Each module below has one import block: the import line(s) and the names it adds to ``__all__``.
"""

__all__: list[str] = []

# Exact finite sums for discrete / quantized representations (Lorenzen, Igel & Nielsen, ICLR 2022).
from estimators.baselines.discrete import (  # noqa: E402
    DiscreteExact,
    discrete_entropy,
    discrete_mutual_information,
    quantize,
)

__all__ += ["DiscreteExact", "discrete_entropy", "discrete_mutual_information", "quantize"]

# Fixed (Shwartz-Ziv & Tishby 2017) and adaptive (Chelombiev, Houghton & O'Donnell 2019) binning.
from estimators.baselines.binning import (  # noqa: E402
    AdaptiveBinning,
    FixedBinning,
    activation_range,
    adaptive_binning_mi,
    fixed_binning_mi,
)

__all__ += ["AdaptiveBinning", "FixedBinning", "activation_range", "adaptive_binning_mi", "fixed_binning_mi"]

# Transfer entropy between layers across training epochs (Moldovan, Cataron & Andonie).
from estimators.baselines.transfer_entropy import transfer_entropy  # noqa: E402

__all__ += ["transfer_entropy"]

# Pairwise-distance KDE bounds (Kolchinsky & Tracey 2017; Saxe et al. 2018), adaptive-noise KDE (Chelombiev 2019).
from estimators.baselines.kde_bounds import (  # noqa: E402
    AdaptiveNoiseKDE,
    KDEBound,
    adaptive_noise_kde_mi,
    kde_mutual_information,
    mixture_entropy_bounds,
)

__all__ += ["AdaptiveNoiseKDE", "KDEBound", "adaptive_noise_kde_mi", "kde_mutual_information",
            "mixture_entropy_bounds"]

# k-nearest-neighbour estimators: KSG (Kraskov et al. 2004), Ross (2014), Kozachenko-Leonenko.
from estimators.baselines.ksg import (  # noqa: E402
    KSG,
    RossKNN,
    ksg_entropy,
    ksg_mi_discrete_labels,
    ksg_mutual_information,
)

__all__ += ["KSG", "RossKNN", "ksg_entropy", "ksg_mi_discrete_labels", "ksg_mutual_information"]

# Matrix-based Renyi alpha-entropy (Giraldo, Rao & Principe 2015; Wickstrom et al. 2019).
from estimators.baselines.renyi import (  # noqa: E402
    MatrixRenyi,
    kernel_width,
    renyi_entropy,
    renyi_mi_labels,
    renyi_mutual_information,
)

__all__ += ["MatrixRenyi", "kernel_width", "renyi_entropy", "renyi_mi_labels", "renyi_mutual_information"]
