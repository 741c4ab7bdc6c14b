"""The noisy twin of a deterministic network (docs/theory.md, section 2; Goldfeld et al., ICML 2019, section 3).

For chosen hidden layers with (pre-noise) output S_l, the twin outputs T_l = S_l + Z_l, Z_l ~ N(0, beta^2 I),
independent across layers and inputs. The noise is a Pyro sample site per layer,

    pyro.sample("T<l>", Normal(S_l, beta).to_event(k)),

inserted by forward hooks on the wrapped module **only while the twin runs**: the hooks are registered at
the start of the twin's forward pass and removed at its end (also when it raises), so the wrapped model
computes exactly what it computed before, and several twins of one model (a beta sweep) coexist and run
interleaved. A ``pyro.poutine.trace`` of one forward pass exposes S_l (the site's ``fn.base_dist.loc``) and
T_l (its value) by name, and effect handlers change the noise without touching the network:
:class:`NoiseOff` gives the deterministic network with the same weights, :class:`SeededNoise` draws the
noise from a torch.Generator, ``pyro.poutine.condition`` fixes a layer. Training and measuring use this one
forward definition.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence

import pyro
import pyro.distributions as dist
import torch
from pyro.poutine.messenger import Messenger
from torch import nn

from estimators import checks

# modules counted as activations when the twin picks its default layers
ACTIVATION_TYPES = (
    nn.Tanh, nn.ReLU, nn.Sigmoid, nn.Identity, nn.LeakyReLU, nn.ELU, nn.GELU, nn.Hardtanh, nn.Softplus, nn.SiLU,
)


class NoiseOff(Messenger):
    """Effect handler: every twin site returns its mean S_l (deterministic network, same weights)."""

    def __init__(self, sites: Sequence[str]):
        super().__init__()
        self.sites = set(sites)

    def _pyro_sample(self, msg) -> None:
        if msg["name"] in self.sites and msg["value"] is None:
            msg["value"] = msg["fn"].base_dist.loc


class SeededNoise(Messenger):
    """Effect handler: twin sites draw their noise from ``generator`` (reproducible sample propagation)."""

    def __init__(self, sites: Sequence[str], generator: torch.Generator):
        super().__init__()
        self.sites, self.generator = set(sites), generator

    def _pyro_sample(self, msg) -> None:
        if msg["name"] in self.sites and msg["value"] is None:
            base = msg["fn"].base_dist
            z = torch.randn(base.loc.shape, generator=self.generator, dtype=base.loc.dtype,
                            device=self.generator.device)
            msg["value"] = base.loc + base.scale * z.to(base.loc.device)


class NoisyTwin(nn.Module):
    """A deterministic ``nn.Module`` with Gaussian noise of std beta added after each chosen layer.

    Args:
        model: any deterministic torch module; its weights are shared, not copied.
        beta: noise standard deviation (> 0): one number for every layer, or a mapping from layer name to
            its beta.
        layers: names (as in ``model.named_modules()``) of the modules whose outputs get noise, in forward
            order; default: every activation module (types in ACTIVATION_TYPES) of the model. The output
            layer must not be among them (the logits get no noise).

    Sites are named "T1", "T2", ... in the order of ``layers``; ``site_names`` and ``layer_names`` map
    them. Calling the twin samples the noise from torch's global RNG (what Pyro does); use
    :meth:`deterministic` for noise off and :meth:`propagate` for seeded sample propagation. The wrapped
    model is left alone: the noise sites exist only during the twin's own forward pass (the model must not
    be run by another thread at the same time as a twin of it).

    Raises:
        ValueError: beta not a number in :data:`estimators.checks.BETA_RANGE` (> 0, with beta^2 and
            1/beta^2 finite and nonzero in float64: about 1e-154 < beta < 1e154; the range the estimators
            accept), a mapping missing a layer, a name that is not a submodule, no activation modules to
            default to.
        TypeError: model not an nn.Module, beta not a number (a bool or a string included) or mapping.

    Examples:
        >>> import torch
        >>> from noisynet import NoisyTwin, mlp
        >>> model = mlp((12, 10, 7, 2), "tanh", seed=0)
        >>> twin = NoisyTwin(model, beta=0.01)
        >>> twin.site_names, twin.layer_names
        (['T1', 'T2'], ['1', '3'])
        >>> x = torch.zeros(5, 12)
        >>> before = model(x)
        >>> noisy = twin(x)  # noise of std 0.01 after each hidden layer
        >>> torch.equal(model(x), before)  # the model itself is unchanged
        True
        >>> twin.propagate(x, replicas=4, generator=0)["T2"].shape  # (m, R, d_l)
        torch.Size([5, 4, 7])
    """

    def __init__(self, model: nn.Module, beta: float | Mapping[str, float], layers: Sequence[str] | None = None):
        super().__init__()
        if not isinstance(model, nn.Module):
            raise TypeError(f"model: got {type(model).__name__}, expected a torch.nn.Module")
        self.model = model
        modules = dict(model.named_modules())
        if layers is None:
            layers = [name for name, mod in modules.items() if name and isinstance(mod, ACTIVATION_TYPES)]
            if not layers:
                raise ValueError("layers: the model has no activation modules; pass the layer names explicitly")
        unknown = [name for name in layers if name not in modules or not name]
        if unknown:
            raise ValueError(f"layers: got {unknown}, expected names of submodules of the model")
        self.layer_names = list(layers)
        self.site_names = [f"T{i + 1}" for i in range(len(self.layer_names))]
        if isinstance(beta, Mapping):
            missing = [n for n in self.layer_names if n not in beta]
            if missing:
                raise ValueError(f"beta: no value for layers {missing}")
            betas = [beta[n] for n in self.layer_names]
        else:
            betas = [beta] * len(self.layer_names)
        self.betas = dict(zip(self.site_names, (checks.beta(b, "beta") for b in betas)))
        self._modules_by_site = {site: modules[name] for name, site in zip(self.layer_names, self.site_names)}

    def _hook(self, site: str):
        def hook(module, inputs, output):
            event = output.dim() - 1  # every dimension but the batch one belongs to one input
            # beta is checked once at construction; argument validation on every pass was a third of
            # Pyro's overhead over a plain forward (benchmarks/bench_propagation.py)
            normal = dist.Normal(output, self.betas[site], validate_args=False)
            return pyro.sample(site, normal.to_event(event))

        return hook

    @contextlib.contextmanager
    def _noise_sites(self) -> Iterator[None]:
        """The twin's forward hooks on the model, for the duration of the block (removed on exit)."""
        handles = []
        try:
            for site, module in self._modules_by_site.items():
                handles.append(module.register_forward_hook(self._hook(site)))
            yield
        finally:
            for h in handles:
                h.remove()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of the noisy twin for a batch x (batch first); noise from torch's global RNG (or the
        active effect handler)."""
        with self._noise_sites():
            return self.model(x)

    @contextlib.contextmanager
    def deterministic(self) -> Iterator[None]:
        """Within this context the twin is the deterministic network (every site returns S_l)."""
        with NoiseOff(self.site_names):
            yield

    def trace(self, x: torch.Tensor, *, noise: bool = True, generator: torch.Generator | None = None):
        """A pyro trace of one forward pass: ``trace.nodes["T<l>"]`` holds S_l (fn.base_dist.loc) and T_l."""
        handler = NoiseOff(self.site_names) if not noise else (
            SeededNoise(self.site_names, generator) if generator is not None else contextlib.nullcontext()
        )
        with handler:
            return pyro.poutine.trace(self.forward).get_trace(x)

    def _check_input(self, x) -> None:
        """ValueError / TypeError naming ``x`` where the model could not take it as a batch."""
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"x: got {type(x).__name__}, expected a torch.Tensor (batch first)")
        if x.dim() < 1 or x.shape[0] < 1:
            raise ValueError(f"x: got shape {tuple(x.shape)}, expected (m, ...) with m >= 1 inputs")
        if x.device.type == "meta":
            raise ValueError("x: got a tensor on the meta device (no data), expected a real device")
        param = next(self.model.parameters(), None)
        if param is not None and x.is_floating_point() and x.dtype != param.dtype:
            raise ValueError(f"x: got dtype {x.dtype}, expected the model's dtype {param.dtype} "
                             f"(convert with x.to({param.dtype}) or the model with model.to({x.dtype}))")

    @torch.no_grad()
    def representations(self, x: torch.Tensor, *, noise: bool = False, generator: torch.Generator | None = None,
                        chunk: int = 8192) -> dict[str, torch.Tensor]:
        """Per site, S_l (noise=False: the deterministic network's layer outputs) of shape (m, d_l), float32,
        flattened after the batch dimension; with noise=True, the pre-noise S_l of one noisy pass."""
        self._check_input(x)
        out: dict[str, list[torch.Tensor]] = {s: [] for s in self.site_names}
        for a in range(0, x.shape[0], chunk):
            tr = self.trace(x[a : a + chunk], noise=noise, generator=generator)
            for s in self.site_names:
                out[s].append(tr.nodes[s]["fn"].base_dist.loc.flatten(1))
        return {s: torch.cat(v) for s, v in out.items()}

    @torch.no_grad()
    def propagate(self, x: torch.Tensor, replicas: int, *, generator: torch.Generator | int | None = None,
                  sites: Sequence[str] | None = None, chunk: int = 65536) -> dict[str, torch.Tensor]:
        """Sample propagation: each input pushed through the twin ``replicas`` times with fresh noise.

        Args:
            x: Tensor (m, ...) of inputs (batch first), each input once.
            replicas: R >= 1 noisy passes per input.
            generator: torch.Generator or int seed for the noise; None: fresh.
            sites: which sites to return (default: all).
            chunk: rows (input-replica pairs) per forward pass, bounding memory.

        Returns:
            {site: Tensor (m, R, d_l)} of the pre-noise S_l, float32, flattened after the batch dimension.
            S_1 is the same for all replicas (no noise reaches it); deeper S_l differ.

        Raises:
            ValueError: replicas < 1, an unknown site, x not a tensor with a batch dimension on a real device
                with the model's floating dtype.
        """
        self._check_input(x)
        if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 1:
            raise ValueError(f"replicas: got {replicas!r}, expected an integer >= 1")
        sites = list(self.site_names if sites is None else sites)
        bad = [s for s in sites if s not in self.site_names]
        if bad:
            raise ValueError(f"sites: got {bad}, expected some of {self.site_names}")
        if not isinstance(generator, torch.Generator):
            seed = generator
            generator = torch.Generator(device=x.device)
            generator.manual_seed(seed) if seed is not None else generator.seed()
        m = x.shape[0]
        rows = x.repeat_interleave(replicas, dim=0)
        out: dict[str, list[torch.Tensor]] = {s: [] for s in sites}
        for a in range(0, rows.shape[0], chunk):
            tr = self.trace(rows[a : a + chunk], noise=True, generator=generator)
            for s in sites:
                out[s].append(tr.nodes[s]["fn"].base_dist.loc.flatten(1))
        return {s: torch.cat(v).reshape(m, replicas, -1) for s, v in out.items()}
