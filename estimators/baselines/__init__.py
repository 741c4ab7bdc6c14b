"""Baseline estimators from the information-plane literature (docs/theory.md, section 9), for comparison runs.

Each estimator takes tensors (representations (m, d), labels (m,), and what it needs, such as a bin size)
and returns :class:`~estimators.estimate.Estimate` objects in nats with its hyperparameters in ``params``.
Baselines that give no interval say so: their interval fields are None and ``bound`` reads
"no interval: plug-in estimator".

Each module below has one import block: the import line(s) and the names it adds to ``__all__``.
"""

__all__: list[str] = []

# Exact finite sums for discrete / quantized representations (Lorenzen, Igel & Nielsen, ICLR 2022).
from estimators.baselines.discrete import (  # noqa: E402
    InformationPlanePoint,
    discrete_entropy,
    discrete_mutual_information,
    quantize,
)

__all__ += ["InformationPlanePoint", "discrete_entropy", "discrete_mutual_information", "quantize"]

# Fixed (Shwartz-Ziv & Tishby 2017) and adaptive (Chelombiev, Houghton & O'Donnell 2019) binning.
from estimators.baselines.binning import activation_range, adaptive_binning_mi, fixed_binning_mi  # noqa: E402

__all__ += ["activation_range", "adaptive_binning_mi", "fixed_binning_mi"]

# Transfer entropy between layers across training epochs (Moldovan, Cataron & Andonie).
from estimators.baselines.transfer_entropy import transfer_entropy  # noqa: E402

__all__ += ["transfer_entropy"]

# Pairwise-distance KDE bounds (Kolchinsky & Tracey 2017; Saxe et al. 2018), adaptive-noise KDE (Chelombiev 2019).
from estimators.baselines.kde_bounds import (  # noqa: E402
    adaptive_noise_kde_mi,
    kde_mutual_information,
    mixture_entropy_bounds,
)

__all__ += ["adaptive_noise_kde_mi", "kde_mutual_information", "mixture_entropy_bounds"]

# k-nearest-neighbour estimators: KSG (Kraskov et al. 2004), Ross (2014), Kozachenko-Leonenko.
from estimators.baselines.ksg import ksg_entropy, ksg_mi_discrete_labels, ksg_mutual_information  # noqa: E402

__all__ += ["ksg_entropy", "ksg_mi_discrete_labels", "ksg_mutual_information"]

# Matrix-based Renyi alpha-entropy (Giraldo, Rao & Principe 2015; Wickstrom et al. 2019).
from estimators.baselines.renyi import (  # noqa: E402
    kernel_width,
    renyi_entropy,
    renyi_mi_labels,
    renyi_mutual_information,
)

__all__ += ["kernel_width", "renyi_entropy", "renyi_mi_labels", "renyi_mutual_information"]
