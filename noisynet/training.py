"""Training a noisy twin (noise on) and evaluating it (noise off, and on where asked).

docs/theory.md, section 2: the twin is trained with the noise on; accuracy and loss are reported with the
noise off (the deterministic network with the same weights). Everything random (batch order, training
noise, evaluation noise) comes from generators seeded from one seed and saved in the state, so a run that
is interrupted and resumed from a checkpoint continues exactly as it would have.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from noisynet.twin import NoisyTwin, SeededNoise


@torch.no_grad()
def evaluate(twin: nn.Module, x: torch.Tensor, y: torch.Tensor, *, noise: bool,
             generator: torch.Generator | None = None, chunk: int = 8192) -> dict[str, float]:
    """Cross-entropy and accuracy of ``twin`` on (x, y), noise off or on.

    Args:
        twin: a :class:`~noisynet.twin.NoisyTwin` (or any module with ``site_names`` and ``deterministic()``).
        x: Tensor (n, ...) inputs in the model's dtype; y: Tensor (n,) int64 labels.
        noise: evaluate the noisy twin (noise drawn from ``generator``, in chunk order) or the deterministic
            network (noise off, the same weights).
        generator: torch.Generator for the noise (required with noise=True).
        chunk: rows per forward pass (bounds memory; the noise draws follow the chunks).

    Returns:
        {"loss": mean cross-entropy in nats, "acc": fraction correct}.

    Raises:
        ValueError: noise=True without a generator, x and y of different lengths.
    """
    if noise and generator is None:
        raise ValueError("generator: got None with noise=True, expected a torch.Generator for the noise")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"y: got {y.shape[0]} labels for {x.shape[0]} inputs, expected one per input")
    twin.eval()
    loss, correct = 0.0, 0
    for a in range(0, x.shape[0], chunk):
        with SeededNoise(twin.site_names, generator) if noise else twin.deterministic():
            logits = twin(x[a:a + chunk])
        loss += float(nn.functional.cross_entropy(logits.double(), y[a:a + chunk], reduction="sum"))
        correct += int((logits.argmax(1) == y[a:a + chunk]).sum())
    return {"loss": loss / x.shape[0], "acc": correct / x.shape[0]}


class Trainer:
    """Mini-batch training of a twin with Adam and cross-entropy on its logits.

    Args:
        twin: the NoisyTwin to train (its model's weights are updated in place).
        x_train, y_train: Tensor (n, ...) float inputs and (n,) int64 labels.
        x_test, y_test: the same for the test set.
        lr: Adam learning rate (SZT: 4e-4); batch_size: mini-batch size (SZT: 256).
        seed: seeds the batch order and the noise; noise: train with the twin's noise on (default True).
        after_step: optional callable(model) run after every optimiser step (e.g. the Parseval retraction).

    Raises:
        ValueError: mismatched lengths, lr <= 0 or batch_size < 1.
    """

    def __init__(
        self,
        twin: NoisyTwin,
        x_train: torch.Tensor,
        y_train: torch.Tensor,
        x_test: torch.Tensor,
        y_test: torch.Tensor,
        *,
        lr: float = 4e-4,
        batch_size: int = 256,
        seed: int = 0,
        noise: bool = True,
        after_step: Callable[[nn.Module], None] | None = None,
    ) -> None:
        for name, (a, b) in {"y_train": (x_train, y_train), "y_test": (x_test, y_test)}.items():
            if a.shape[0] != b.shape[0]:
                raise ValueError(f"{name}: got {b.shape[0]} labels for {a.shape[0]} inputs, expected equal lengths")
        if not lr > 0:
            raise ValueError(f"lr: got {lr!r}, expected a learning rate > 0")
        if batch_size < 1:
            raise ValueError(f"batch_size: got {batch_size!r}, expected >= 1")
        self.twin, self.noise, self.after_step = twin, noise, after_step
        self.x_train, self.y_train, self.x_test, self.y_test = x_train, y_train, x_test, y_test
        self.batch_size = batch_size
        self.optimizer = torch.optim.Adam(twin.parameters(), lr=lr)
        self.order = torch.Generator().manual_seed(seed)
        self.train_noise = torch.Generator().manual_seed(seed + 1)
        self.seed = seed
        self.epoch = 0
        self.loss = nn.CrossEntropyLoss()

    def _forward(self, x: torch.Tensor, noise: bool, generator: torch.Generator) -> torch.Tensor:
        if noise:
            with SeededNoise(self.twin.site_names, generator):
                return self.twin(x)
        with self.twin.deterministic():
            return self.twin(x)

    def train_epoch(self) -> float:
        """One pass over the training set in a fresh random order; returns the mean training loss (nats)."""
        self.twin.train()
        perm = torch.randperm(self.x_train.shape[0], generator=self.order)
        total = 0.0
        for a in range(0, perm.numel(), self.batch_size):
            idx = perm[a : a + self.batch_size]
            loss = self.loss(self._forward(self.x_train[idx], self.noise, self.train_noise), self.y_train[idx])
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            if self.after_step is not None:
                self.after_step(self.twin.model)
            total += float(loss.detach()) * idx.numel()
        self.epoch += 1
        return total / perm.numel()

    def evaluate(self, *, noise: bool = False, twin: nn.Module | None = None) -> dict[str, float]:
        """Loss (nats) and accuracy on the training and test sets, noise off (default) or on (noise seeded
        from the seed and the epoch, so an evaluation does not depend on the ones before it), of the
        trained twin or of another ``twin`` of the same model (e.g. with another beta).

        Returns:
            {"train_loss", "train_acc", "test_loss", "test_acc"} (nats, fractions)."""
        twin = self.twin if twin is None else twin
        noise_gen = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch + 2)
        out = {}
        for split, x, y in (("train", self.x_train, self.y_train), ("test", self.x_test, self.y_test)):
            ev = evaluate(twin, x, y, noise=noise, generator=noise_gen)
            out[f"{split}_loss"], out[f"{split}_acc"] = ev["loss"], ev["acc"]
        return out

    def state_dict(self) -> dict:
        """Everything needed to resume: weights, optimiser, generator states, epoch."""
        return {
            "model": self.twin.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "order": self.order.get_state(),
            "train_noise": self.train_noise.get_state(),
            "epoch": self.epoch,
        }

    def load_state_dict(self, state: dict) -> None:
        self.twin.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.order.set_state(state["order"])
        self.train_noise.set_state(state["train_noise"])
        self.epoch = int(state["epoch"])
