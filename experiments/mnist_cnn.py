"""MNIST with a small CNN, deterministic and noisy for several beta (Goldfeld et al., ICML 2019, section 6;
docs/theory.md, section 8).

    python -m experiments.mnist_cnn [--data-dir DIR] [--dataset mnist|digits]
                                    [--betas 0.01 0.05 0.1 0.2] [--epochs 8] [--max-sp-dim 12] [--seed 0]
                                    [--out runs] [--run-id ID] [--resume]

Data: MNIST's 10,000 test images, shipped with noisynet (noisynet/data/mnist/, CC BY-SA 3.0; or the same
files from ``--data-dir``), split into a seeded, class-stratified 8000/2000 train/test split (``--n-test``); ``--dataset digits`` uses
scikit-learn's 1797 8x8 digits (1297/500). Network (noisynet/cnn.py): conv 5x5 (8 channels) -> maxpool ->
tanh -> conv 5x5 (16) -> maxpool -> tanh -> fc 32 -> tanh -> fc 10 -> tanh -> 10 logits; hidden widths
1568, 784, 32, 10 on MNIST (128, 64, 32, 10 on digits, 3x3 kernels). tanh rather than ReLU: with PyTorch's
default initialisation the width-10 ReLU layer starts with 2-6 of its units dead for every input (and they
stay dead), and a bounded activation gives beta an absolute scale (|S| <= 1), as in the SZT runs
(``--activation relu`` is available). One deterministic network (beta = 0, trained without noise) and one
noisy twin per beta (noise std beta after every hidden layer), all from the same initialisation and the same
batch order; Adam lr 2e-3, batch 64, 8 epochs on MNIST (digits: 40), single-threaded (``--threads``).

Measured after training, on the m held-out images (2000 for MNIST, each once; X uniform on them):
accuracy noise off and on; cosine-similarity matrices of every layer ordered by class (figure
``cosine_similarity.png``, 50 images per class); the clustering measures (estimators.clustering); the
similarity of each twin to the deterministic network (linear CKA, matched cosine); and I(X;T) of the twins
by sample propagation (R = 16 replicas per image) for the layers of width d <= ``--max-sp-dim`` (default 12:
the last hidden layer, d = 10). Wider layers are not estimated: the SP estimator's error bound grows like
c^d / sqrt(n) (Goldfeld et al.), so the samples it needs grow exponentially in d; the run prints
"layer T1 has d = 1568 > --max-sp-dim 12: ... not estimated" and writes an I_XT row with an empty value and
``not_estimated=d 1568 > max_sp_dim 12`` in ``param``. Rows and the ``param`` encoding are those of
experiments/compare.py, with which this experiment shares its training and measuring code.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from estimators import clustering
from experiments import compare
from experiments.compare_figures import DET
from experiments.plotting import plt
from experiments.runs import Run

BETAS = (0.01, 0.05, 0.1, 0.2)


def class_subsample(y: torch.Tensor, per_class: int, seed: int) -> np.ndarray:
    """Indices of ``per_class`` inputs of each class (fewer where a class has fewer), drawn without
    replacement by numpy default_rng(seed), sorted."""
    rng = np.random.default_rng(seed)
    y = y.numpy()
    picks = [rng.choice(np.flatnonzero(y == c), size=min(per_class, int((y == c).sum())), replace=False)
             for c in np.unique(y)]
    return np.sort(np.concatenate(picks))


def within_between(t: torch.Tensor, y: torch.Tensor) -> tuple[float, float, int]:
    """Mean cosine similarity of pairs of distinct inputs of the same class and of different classes, over
    the inputs whose representation is nonzero; and how many inputs had a zero representation."""
    keep = (t != 0).any(1)
    mat, order = clustering.cosine_similarity_matrix(t[keep], y[keep])
    lab = y[keep].numpy()[order]
    same = lab[:, None] == lab[None, :]
    np.fill_diagonal(same, False)
    diff = lab[:, None] != lab[None, :]
    return float(mat[same].mean()), float(mat[diff].mean()), int((~keep).sum())


def cosine_figure(comp: compare.Comparison, path: Path, title: str, per_class: int = 50) -> tuple[Path, list[str]]:
    """Class-ordered cosine-similarity matrices (rows: networks, columns: layers) of the noise-off
    representations of ``per_class`` measured inputs per class; each panel's title gives the mean within-
    and between-class cosine over all measured inputs. Returns the path and one summary line per panel."""
    x, y = comp.setup.x_meas, comp.setup.y_meas
    idx = torch.as_tensor(class_subsample(y, per_class, comp.args.seed))
    units = comp.units
    fig, axes = plt.subplots(len(units), len(comp.sites), figsize=(3.1 * len(comp.sites), 3.0 * len(units)),
                             squeeze=False)
    lines = []
    for i, unit in enumerate(units):
        reps = comp.trained(unit).twin.representations(x)
        for j, site in enumerate(comp.sites):
            t = reps[site].double()
            w, b, zero = within_between(t, y)
            sub = t[idx]
            keep = (sub != 0).any(1)
            mat, order = clustering.cosine_similarity_matrix(sub[keep], y[idx][keep])
            ax = axes[i, j]
            im = ax.imshow(mat, vmin=-1, vmax=1, cmap="viridis", interpolation="nearest")
            lab = y[idx][keep].numpy()[order]
            edges = np.flatnonzero(np.diff(lab)) + 0.5
            for e in edges:
                ax.axhline(e, color="w", lw=0.4)
                ax.axvline(e, color="w", lw=0.4)
            centres = [(np.flatnonzero(lab == c).mean()) for c in np.unique(lab)]
            ax.set_xticks(centres, [str(c) for c in np.unique(lab)], fontsize=6)
            ax.set_yticks(centres, [str(c) for c in np.unique(lab)], fontsize=6)
            name = "deterministic" if unit == DET else f"twin {unit.replace('beta', 'β')}"
            ax.set_title(f"{name}, {site} (d={t.shape[1]})\nwithin {w:.2f} / between {b:.2f}"
                         + (f"; {zero} zero rows" if zero else ""), fontsize=8)
            lines.append(f"{unit:14} {site}: mean cosine within class {w:.3f}, between classes {b:.3f}"
                         + (f" ({zero} all-zero representations left out)" if zero else ""))
    fig.suptitle(f"{title}: cosine similarity of noise-off representations, ordered by class\n(tick = digit; "
                 f"{per_class} images per class shown; within / between = mean cosine over all pairs of the "
                 f"{x.shape[0]} measured images of the same / of different classes)", fontsize=10)
    fig.tight_layout(rect=(0, 0, 0.9, 1))
    cax = fig.add_axes((0.91, 0.3, 0.015, 0.4))
    fig.colorbar(im, cax=cax, label="cosine similarity")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path, lines


def main(argv: list[str] | None = None) -> Run:
    def extra(comp, run, title):
        path, lines = cosine_figure(comp, run.figures / "cosine_similarity.png", title)
        print("\nCosine similarity of the noise-off representations (class structure):")
        print("\n".join("  " + line for line in lines))
        return [path]

    return compare.main(argv, experiment="mnist_cnn", dataset="mnist", betas=BETAS, description=__doc__,
                        extra_figures=extra, datasets=("mnist", "digits"))


if __name__ == "__main__":
    main()
