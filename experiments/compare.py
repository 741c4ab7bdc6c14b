"""Deterministic network versus its noisy twin, for a sweep of beta (Goldfeld et al., ICML 2019, sections 3
and 6; docs/theory.md, sections 2, 7 and 8).

    python -m experiments.compare [--dataset szt|digits|mnist] [--betas 0.001 0.005 0.01 0.05 0.1]
                                  [--epochs N] [--seed 0] [--out runs] [--run-id ID] [--resume] ...

Trains one deterministic network (Trainer(noise=False)) and, for every beta, its noisy twin (noise of std
beta after every hidden layer), all from the same initialisation (the same model seed) and with the same
batch order (the Trainer's seed drives it). At the last epoch it measures on the measurement set (SZT: all
4096 inputs, each once; digits/MNIST: the held-out test split, each image once):

* test and train accuracy and loss, noise off and on (the deterministic network "noise on" = its weights
  with noise of std beta added after every hidden layer);
* per hidden layer, the clustering measures of both networks' noise-off representations (binned entropy
  H_bin for each Delta, class distance ratio, silhouette, number of clusters at scale beta);
* per hidden layer, the similarity of the twin's representation to the deterministic one: linear CKA
  (Kornblith et al., ICML 2019) and the mean cosine of matched representations (same input, same neurons);
* per hidden layer, I(X;T) of the twin by sample propagation with its 95% interval, for layers of width
  d <= --max-sp-dim; wider layers get a row with an empty value and a note (the SP error bound grows like
  c^d / sqrt(n): the samples needed grow exponentially in d), and a printed line saying so.

Defaults: SZT (the 12-10-7-5-4-3-2 tanh net of experiments/szt.py, Adam lr 4e-4, batch 256, the 80/20
split) for 1000 epochs and R = 16 replicas per input, fewer than the szt run's 3000 epochs and R = 32
(``--epochs 3000 --replicas 32`` for those), so that the default run stays within about 15 minutes on 2 CPU
cores; digits/MNIST: the tanh CNN of noisynet/cnn.py (see experiments/mnist_cnn.py). Single-threaded by
default (``--threads``): the networks are small, and on a shared 2-core machine threads only contend.

metrics.csv encoding (columns of experiments/runs.py). ``param`` is a ";"-separated list of key=value:
``net`` = ``deterministic`` (the network trained without noise), ``noisy`` (the twin trained with noise
beta) or ``pair`` (a similarity between the two); ``beta`` = the sweep value the row belongs to (absent on
deterministic rows that do not depend on beta); then the measure's own scale (``delta=`` bin side,
``eps=`` cluster scale), and notes (``not_estimated=...``, ``zero_rows=...``). Examples:
``net=deterministic;delta=0.001``, ``net=deterministic;beta=0.01`` (a noise-on accuracy),
``net=noisy;beta=0.01;eps=0.01``, ``net=pair;beta=0.01``. ``estimator`` keeps its meaning: for accuracies
and losses the noise at evaluation (``deterministic`` = off, ``noisy`` = on); ``sp``, ``binning``,
``pdist``, ``sklearn``, ``eps-graph``, ``linear-cka``, ``cosine`` otherwise. ``beta`` (column) is the twin's
noise std on twin and pair rows, the noise std added at evaluation on the deterministic network's noise-on
rows, and empty on its other rows. Quantities added here: ``cka`` (linear CKA, unitless) and ``cos_match``
(mean matched cosine, unitless). All rows carry the last epoch in ``epoch``.

A run writes ``<out>/<experiment>/<run-id>/``: config.json, setup.txt (data, split, network), metrics.csv,
checkpoints/ (the latest of each network, every tenth of the epochs) and figures/ (accuracy, similarity,
clustering and I(X;T) against beta). ``--resume`` continues training from the latest checkpoints and
measures only what is missing: rows are appended block by block (a network's accuracies; one layer of one
network), and a block cut short is removed and measured again in full. A network whose checkpoint is
unreadable (corrupt, truncated, empty) is trained again from scratch, with a warning naming the file; a
checkpoint that would run code is refused (the command stops, nothing is executed). :func:`results_section`
turns a finished run into markdown for docs/results.md.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm.auto import tqdm

from estimators import similarity
from experiments import arguments, parallel, threads
from experiments.compare_figures import (
    DET,
    all_figures,
    param,
    results_markdown,
    unit_of,
)
from experiments.loop import InProcess
from experiments.rows import clustering_rows, dpi_violation, layer_rows
from experiments.runs import Run, UnsafeCheckpoint, read_csv
from noisynet.cnn import cnn
from noisynet.data import load_szt
from noisynet.data.digits import load_digits
from noisynet.data.mnist import load_mnist
from noisynet.flow import diagnose
from noisynet.models import mlp
from noisynet.training import Trainer
from noisynet.twin import NoisyTwin

SZT_WIDTHS = (12, 10, 7, 5, 4, 3, 2)
DEFAULTS = {  # per data set: epochs, lr, batch size, replicas R
    "szt": {"epochs": 1000, "lr": 4e-4, "batch_size": 256, "replicas": 16},
    "digits": {"epochs": 40, "lr": 2e-3, "batch_size": 64, "replicas": 16},
    "mnist": {"epochs": 8, "lr": 2e-3, "batch_size": 64, "replicas": 16},
}
CNN = {"digits": {"in_shape": (1, 8, 8), "kernel": 3, "n_test": 500},
       "mnist": {"in_shape": (1, 28, 28), "kernel": 5, "n_test": 2000}}


class _Formatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows defaults, except None (a per-data-set default, spelled out in the help text)."""

    def _get_help_string(self, action):
        return action.help if action.default is None else super()._get_help_string(action)


def parser(description: str = __doc__, dataset: str = "szt", betas=(0.001, 0.005, 0.01, 0.05, 0.1),
           datasets=("szt", "digits", "mnist")) -> argparse.ArgumentParser:
    p = arguments.ArgumentParser(description=description.split("\n\n")[0], formatter_class=_Formatter)
    p.add_argument("--dataset", choices=datasets, default=dataset)
    p.add_argument("--data-dir", default=None,
                   help="folder of the MNIST IDX test files (default: the copy shipped with noisynet)")
    p.add_argument("--betas", type=float, nargs="+", default=list(betas), help="noise stds of the twins")
    p.add_argument("--epochs", type=int, default=None,
                   help="training epochs (default: szt 1000, digits 40, mnist 8)")
    p.add_argument("--lr", type=float, default=None,
                   help="Adam learning rate (default: szt 4e-4, digits and mnist 2e-3)")
    p.add_argument("--batch-size", type=int, default=None,
                   help="mini-batch size (default: szt 256, digits and mnist 64)")
    p.add_argument("--n-test", type=int, default=None,
                   help="digits/MNIST: held-out images = the measured inputs m (default: digits 500, mnist 2000)")
    p.add_argument("--activation", choices=("tanh", "relu"), default="tanh", help="hidden activation")
    p.add_argument("--channels", type=int, nargs=2, default=(8, 16), help="CNN: conv output channels")
    p.add_argument("--hidden", type=int, nargs=2, default=(32, 10), help="CNN: fully connected widths")
    p.add_argument("--max-sp-dim", type=int, default=12,
                   help="estimate I(X;T) by SP only for layers of width d <= this (SP needs samples exponential in d)")
    p.add_argument("--seed", type=int, default=0, help="seeds init, split, batch order, noise, Monte Carlo")
    p.add_argument("--replicas", type=int, default=None, help="R, noisy passes per input (default: 16)")
    p.add_argument("--n-query", type=int, default=2, help="replicas per input that own Monte Carlo queries")
    p.add_argument("--n-mc", type=int, default=1, help="Monte Carlo draws per query unit")
    threads.add_argument(p)
    parallel.add_arguments(p)
    p.add_argument("--out", default="runs", help="root folder of the runs")
    p.add_argument("--run-id", default=None, help="folder name of the run (default: from the settings)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run with the same settings")
    return p


def configure(args: argparse.Namespace) -> argparse.Namespace:
    """Fill the per-data-set defaults and check the arguments (SystemExit naming the option); the data
    options (--data-dir, --n-test) are checked by loading the data (:func:`main`)."""
    for k, v in DEFAULTS[args.dataset].items():
        if getattr(args, k) is None:
            setattr(args, k, v)
    if args.dataset == "szt" and args.n_test is not None:
        raise SystemExit(f"--n-test: got {args.n_test} with --dataset szt, which measures all its 4096 inputs; "
                         "expected it only with --dataset digits or mnist")
    if args.dataset != "mnist" and args.data_dir is not None:
        raise SystemExit(f"--data-dir: got {args.data_dir} with --dataset {args.dataset}, expected it only with "
                         "--dataset mnist")
    if args.n_test is None and args.dataset != "szt":
        args.n_test = CNN[args.dataset]["n_test"]
    arguments.training(args)
    arguments.at_least_one(args, ("n_mc", "max_sp_dim", "channels", "hidden"))
    arguments.at_least(args, ("replicas",), 8)
    arguments.at_least(args, ("n_query",), 2)
    if args.dataset == "mnist" and args.data_dir is not None and not Path(args.data_dir).is_dir():
        raise SystemExit(f"--data-dir: got {args.data_dir}, expected a folder holding the MNIST IDX test files")
    arguments.betas(args, "betas")
    args.betas = sorted(args.betas)
    parallel.check(args)
    return args


@dataclass
class Setup:
    """The data and the network family of a comparison: ``make_model()`` returns the same initialisation at
    every call; x_meas (m, ...) / y_meas (m,) are the measured inputs, each once."""

    make_model: object
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    x_meas: torch.Tensor
    y_meas: torch.Tensor
    description: str


def make_setup(args: argparse.Namespace) -> Setup:
    if args.dataset == "szt":
        d = load_szt()
        return Setup(lambda: mlp(SZT_WIDTHS, args.activation, seed=args.seed), d.x[d.train], d.y[d.train],
                     d.x[d.test], d.y[d.test], d.x, d.y,
                     f"SZT 12-10-7-5-4-3-2 {args.activation} network; measured on all 4096 inputs")
    spec = CNN[args.dataset]
    if args.dataset == "mnist":
        d = load_mnist(args.data_dir, n_test=args.n_test, seed=args.seed)
    else:
        d = load_digits(n_test=args.n_test, seed=args.seed)
    make = lambda: cnn(spec["in_shape"], args.channels, args.hidden, kernel=spec["kernel"],  # noqa: E731
                       activation=args.activation, seed=args.seed)
    return Setup(make, d.x[d.train], d.y[d.train], d.x[d.test], d.y[d.test], d.x[d.test], d.y[d.test],
                 f"{d.source}; {args.activation} CNN, channels {tuple(args.channels)}, hidden {tuple(args.hidden)}; "
                 f"measured on the {len(d.test)} test images")


class Comparison:
    """Trains and measures the networks of one run, resumable block by block (one block: a network's
    accuracies, or one layer of one network; a block is appended whole, and an incomplete one is redone).
    Training, evaluation, checkpoints and measurement are the shared ones (noisynet.training.Trainer,
    experiments.runs.Run, noisynet.flow); what is particular to a comparison is which networks, and the
    similarity of each twin to the deterministic network."""

    def __init__(self, run: Run, setup: Setup, args: argparse.Namespace):
        self.run, self.setup, self.args = run, setup, args
        self.betas = list(args.betas)
        self.units = [DET] + [f"beta={b:g}" for b in self.betas]
        probe = NoisyTwin(setup.make_model(), 1.0)
        self.sites = probe.site_names
        self.epoch = args.epochs
        self._trainers: dict[str, Trainer] = {}
        self._told: set[str] = set()  # layers whose "not estimated" message was printed
        self._todo: dict[str, list[str]] = {}  # unit -> layers being measured
        self._got: dict[str, dict] = {}  # unit -> {site: LayerMeasurement} arrived so far
        # read before any training starts, so that a refused checkpoint stops the run before it does work
        self._saved = {unit: self._latest_state(unit) for unit in self.units}

    # ---- networks -------------------------------------------------------------------------------------
    def beta_of(self, unit: str) -> float | None:
        return None if unit == DET else float(unit.split("=")[1])

    @staticmethod
    def _prefix(unit: str) -> str:
        return unit.replace("=", "") + "_"

    def _latest_state(self, unit: str) -> dict | None:
        """The latest checkpoint of ``unit``, or None: none written yet, or unreadable (corrupt, truncated,
        empty: a warning names the file, and the network is trained again from scratch).

        Raises:
            UnsafeCheckpoint: a checkpoint that would run code (refused; nothing is executed)."""
        prefix = self._prefix(unit)
        saved = self.run.checkpoint_epochs(prefix)
        if not saved:
            return None
        try:
            return self.run.load_checkpoint(saved[-1], prefix)
        except UnsafeCheckpoint:
            raise
        except ValueError as err:
            warnings.warn(f"{err}; training {unit} again from scratch", stacklevel=2)
            return None

    def trained(self, unit: str, bar: tqdm | None = None) -> Trainer:
        """The Trainer of ``unit`` trained to the last epoch (resumed from its latest checkpoint, and
        checkpointed every tenth of the epochs; only the latest checkpoint of a unit is kept: a new one
        replaces every earlier file, an unreadable one included). Its ``twin`` has the unit's beta (the
        deterministic network's: the smallest beta, for noise-on evaluation only)."""
        if unit in self._trainers:
            return self._trainers[unit]
        s, a, b = self.setup, self.args, self.beta_of(unit)
        twin = NoisyTwin(s.make_model(), b if b is not None else self.betas[0])
        trainer = Trainer(twin, s.x_train, s.y_train, s.x_test, s.y_test, lr=a.lr, batch_size=a.batch_size,
                          seed=a.seed, noise=b is not None)
        prefix = self._prefix(unit)
        state = self._saved.pop(unit, None)
        if state is not None:
            trainer.load_state_dict(state)
            if bar is not None:
                bar.update(trainer.epoch)
        every = max(1, self.epoch // 10)
        while trainer.epoch < self.epoch:
            trainer.train_epoch()
            if bar is not None:
                bar.update(1)
            if trainer.epoch % every == 0 or trainer.epoch == self.epoch:
                self.run.save_checkpoint(trainer.epoch, trainer.state_dict(), prefix)
                for old in self.run.checkpoint_epochs(prefix):
                    if old != trainer.epoch:
                        self.run.checkpoint_path(old, prefix).unlink()
        self._trainers[unit] = trainer
        return trainer

    # ---- blocks ---------------------------------------------------------------------------------------
    def _block(self, unit: str, layer: str) -> list[dict]:
        return [r for r in self.run.rows() if int(r["epoch"]) == self.epoch and r["layer"] == layer
                and unit_of(r) == unit]

    def _done(self, unit: str, layer: str) -> bool:
        """A block is complete when its last row (known from its structure) is present; an incomplete one is
        removed so that it is measured again in full."""
        rows = self._block(unit, layer)
        b = self.beta_of(unit)
        if layer == "":
            end = ("test_loss", "noisy", param(DET, self.betas[-1]) if b is None else param("noisy", b))
        elif b is None:
            end = ("n_clusters", "eps-graph", param(DET, eps=self.betas[-1]))
        else:
            end = ("cka", "linear-cka", param("pair", b))
        if any((r["quantity"], r["estimator"], r["param"]) == end for r in rows):
            return True
        if rows:
            self.run.discard_rows(lambda r: int(r["epoch"]) == self.epoch and r["layer"] == layer
                                  and unit_of(r) == unit)
        return False

    def accuracy_block(self, unit: str, trainer: Trainer) -> list[dict]:
        """Accuracy and loss, noise off and on: a twin at its own beta; the deterministic network at every
        beta of the sweep (a twin of its weights per beta)."""
        b = self.beta_of(unit)
        modes = [(False, b, param(DET) if b is None else param("noisy", b))]
        modes += ([(True, beta, param(DET, beta)) for beta in self.betas] if b is None
                  else [(True, b, param("noisy", b))])
        rows = []
        for noise, beta, p in modes:
            twin = NoisyTwin(trainer.twin.model, beta) if (b is None and noise) else trainer.twin
            ev = trainer.evaluate(noise=noise, twin=twin)
            est = "noisy" if noise else "deterministic"
            for split in ("train", "test"):
                for q, unit_name in (("acc", "fraction"), ("loss", "nat")):
                    rows.append({"epoch": self.epoch, "quantity": f"{split}_{q}", "estimator": est, "param": p,
                                 "value": ev[f"{split}_{q}"], "unit": unit_name,
                                 "beta": beta if noise or b else None})
        return rows

    def clustering_block(self, unit: str, site: str, t: torch.Tensor) -> list[dict]:
        """Clustering measures of one layer's noise-off representation t (m, d) (docs/theory.md, section 7),
        at the cluster scales eps = every beta (deterministic network) or the twin's beta."""
        b = self.beta_of(unit)
        c = diagnose(t, self.setup.y_meas, self.betas if b is None else [b])
        rows = clustering_rows(site, t.shape[1], t.shape[0], c, param=param(DET if b is None else "noisy", b))
        return [{"epoch": self.epoch, **r} for r in rows]

    def similarity_rows(self, unit: str, site: str, t_det: torch.Tensor, t: torch.Tensor) -> list[dict]:
        b = self.beta_of(unit)
        base = {"epoch": self.epoch, "layer": site, "layer_dim": t.shape[1], "n": t.shape[0], "unit": "", "beta": b}
        zero = int(((t_det == 0).all(1) | (t == 0).all(1)).sum())
        extra = {"zero_rows": zero} if zero else {}
        try:
            cos = similarity.matched_cosine(t_det, t, skip_zero_rows=True)
        except ValueError:
            cos, extra = None, {"undefined": "every input has a zero row"}
        try:
            cka, note = similarity.linear_cka(t_det, t), {}
        except ValueError:
            cka, note = None, {"undefined": "constant representation"}
        return [{**base, "quantity": "cos_match", "estimator": "cosine", "param": param("pair", b, **extra),
                 "value": cos},
                {**base, "quantity": "cka", "estimator": "linear-cka", "param": param("pair", b, **note),
                 "value": cka}]

    def submit(self, unit: str, trainer: Trainer, measurer, reps_det: dict, bar: tqdm) -> None:
        """Append the accuracy block of ``unit`` if missing, then ask ``measurer`` (experiments.loop's
        interface) for the SP measurement of the twin's layers still missing; the deterministic network's
        blocks (no SP) are written at once."""
        if not self._done(unit, ""):
            bar.set_postfix_str(f"{unit}: accuracy", refresh=True)
            self.run.append(self.accuracy_block(unit, trainer))
        b = self.beta_of(unit)
        self._todo[unit] = [s for s in self.sites if not self._done(unit, s)]
        self._got[unit] = {}
        if b is None or not self._todo[unit]:
            self.write(unit, reps_det, bar)
            return
        flow = {"replicas": self.args.replicas, "n_mc": self.args.n_mc, "n_query": self.args.n_query,
                "diagnostics": False, "max_width": self.args.max_sp_dim}
        measurer.submit(unit, trainer.twin, self.setup.x_meas, None, sites=self._todo[unit],
                        seed=self.args.seed * 1000 + self.betas.index(b) + 1, flow=flow)

    def collect(self, measurer, reps_det: dict, bar: tqdm, wait: bool) -> None:
        """Write the blocks of every network whose SP measurements have all arrived (``wait``: until all have)."""
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="layer .* not estimated")  # told once, in write
            for unit, meas in measurer.results(wait):
                self._got[unit][meas.site] = meas
                if len(self._got[unit]) == len(self._todo[unit]):
                    self.write(unit, reps_det, bar)

    def write(self, unit: str, reps_det: dict, bar: tqdm) -> None:
        """Append the missing layer blocks of ``unit``: SP rows (twins), clustering, similarity (twins)."""
        twin, todo, measured = self._trainers[unit].twin, self._todo.pop(unit), self._got.pop(unit)
        b = self.beta_of(unit)
        reps = twin.representations(self.setup.x_meas)
        known = {}
        if b is not None:
            for r in self.run.rows():
                if (int(r["epoch"]) == self.epoch and unit_of(r) == unit and r["quantity"] == "I_XT"
                        and r["value"] and r["layer"] not in todo):
                    known[r["layer"]] = float(r["ci_high"])
        for site in todo:
            bar.set_postfix_str(f"{unit}: {site}", refresh=True)
            rows = []
            if b is not None:
                meas = measured[site]
                if not meas.supported and site not in self._told:
                    self._told.add(site)
                    tqdm.write(f"layer {site} has d = {meas.width} > --max-sp-dim {self.args.max_sp_dim}: the SP "
                               "estimator needs samples exponential in d; I(X;T) not estimated (any beta)")
                dpi = dpi_violation(meas, self.sites, known)
                rows += [{"epoch": self.epoch, **r} for r in layer_rows(meas, dpi_violation=dpi, param=param("noisy", b))]
            rows += self.clustering_block(unit, site, reps[site].double())
            if b is not None:
                rows += self.similarity_rows(unit, site, reps_det[site].double(), reps[site].double())
            for r in rows:
                if r.get("beta") is None:
                    r["beta"] = b
            self.run.append(rows)

    def run_all(self, desc: str, measurer=None) -> None:
        """Train every network and measure it; the twins' SP measurements run on ``measurer``
        (:class:`experiments.loop.InProcess` by default, or Ray tasks while the next network trains)."""
        measurer = InProcess() if measurer is None else measurer
        bar = tqdm(total=self.epoch * len(self.units), desc=desc, unit="epoch", dynamic_ncols=True)
        det = self.trained(DET, bar)
        self.submit(DET, det, measurer, {}, bar)
        reps_det = det.twin.representations(self.setup.x_meas)
        for unit in self.units[1:]:
            bar.set_postfix_str(f"{unit}: training", refresh=True)
            self.submit(unit, self.trained(unit, bar), measurer, reps_det, bar)
            self.collect(measurer, reps_det, bar, wait=False)
        self.collect(measurer, reps_det, bar, wait=True)
        bar.close()


def run_id_of(args: argparse.Namespace) -> str:
    return args.run_id or f"{args.dataset}_{args.activation}_seed{args.seed}_e{args.epochs}"


def config_of(args: argparse.Namespace, experiment: str) -> dict:
    """The config.json of the run ``args`` (as :func:`configure` left them) describe."""
    config = {k: v for k, v in vars(args).items() if k not in ("out", "run_id", "threads", *parallel.EXECUTION)}
    config.update(experiment=experiment, channels=list(args.channels), hidden=list(args.hidden))
    if args.dataset != "mnist":
        config.pop("data_dir")
    return config


@arguments.command
def main(argv: list[str] | None = None, *, experiment: str = "compare", dataset: str = "szt",
         betas=(0.001, 0.005, 0.01, 0.05, 0.1), description: str = __doc__, extra_figures=None,
         datasets=("szt", "digits", "mnist")) -> Run:
    """Run the comparison (module docstring); ``extra_figures(comparison, run, title) -> [paths]`` adds
    figures (experiments.mnist_cnn). Returns the Run."""
    args = configure(parser(description, dataset, betas, datasets).parse_args(argv))
    config = config_of(args, experiment)
    with threads.limited(args.threads):
        try:  # the data and the network, before the run's folder exists
            setup = make_setup(args)
            setup.make_model()
        except (ValueError, FileNotFoundError) as err:  # names data_dir, n_test, or path (a file of --data-dir)
            raise arguments.as_option(err, rename={"path": "data_dir"}) from err
        arguments.run_folder(args.out, experiment, run_id_of(args), config, resume=args.resume)
        with parallel.measurer(args) as measurer:
            return _main(args, config, experiment, extra_figures, setup, measurer)


def _main(args, config, experiment, extra_figures, setup: Setup, measurer) -> Run:
    run = Run(args.out, experiment, run_id_of(args), config, resume=args.resume)
    t0 = time.perf_counter()
    comp = Comparison(run, setup, args)  # reads the checkpoints: a refused one stops the run here
    (run.dir / "setup.txt").write_text(setup.description + "\n")
    comp.run_all(f"{experiment} {run.dir.name}", measurer)
    rows = run.rows()
    title = f"{args.dataset}, {args.epochs} epochs, seed {args.seed}"
    figs = all_figures(rows, run.figures, title, m=setup.x_meas.shape[0])
    if extra_figures is not None:
        figs += extra_figures(comp, run, title)
    print(f"\nResults in {run.dir}  (wall time {(time.perf_counter() - t0) / 60:.1f} min); {setup.description}\n")
    print(results_section(run.dir))
    for f in figs:
        print(f"  figure: {f}")
    print(f"  metrics: {run.metrics} (one row per measurement; param encoding in experiments/compare.py)")
    return run


def results_section(run_dir: str | Path) -> str:
    """A markdown section for docs/results.md: per beta, the accuracies, the similarity of the twin to the
    deterministic network and I(X;T) of the last hidden layer, and whether the twin is a good proxy.

    Criterion (stated in the text): the twin is a good proxy of the deterministic network at beta when its
    noise-off test accuracy is within 1 percentage point of the deterministic network's AND the linear CKA
    between their noise-off representations is >= 0.9 in every hidden layer."""
    run_dir = Path(run_dir)
    cfg = json.loads((run_dir / "config.json").read_text())
    rows = read_csv(run_dir / "metrics.csv")
    return results_markdown(rows, cfg, run_dir)


if __name__ == "__main__":
    main()
