"""What :func:`igmlib.fit` shows its callbacks (:class:`TrainState`), and the callbacks igmlib ships."""
from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from ._validation import check_positive_int
from .runtime import fork_rng


class TrainState(NamedTuple):
    """What callbacks see after each step: ``step`` (completed steps, 1-based), the model,
    the history so far and the optimizers by player name."""

    step: int
    model: nn.Module
    history: dict[str, list[float]]
    optimizers: dict[str, torch.optim.Optimizer]


class Snapshots:
    """Callback: every ``every`` steps (and after step 1) store ``model.sample(n)`` on the CPU, for animations.

    Samples are drawn under a forked RNG seeded with ``seed``, so the snapshots use the same latent
    draws each time and never change the training run's random stream.

    Attributes:
        steps: the steps at which snapshots were taken.
        samples: the snapshots, each of shape ``(n, ...)``.
    """

    needs_history = False  # fit need not copy the losses to the host each step for this callback

    def __init__(self, every: int, n: int = 1000, seed: int = 0):
        self.every = check_positive_int(every, "every")
        self.n = check_positive_int(n, "n")
        self.seed = seed
        self.steps: list[int] = []
        self.samples: list[torch.Tensor] = []

    def __call__(self, state: TrainState) -> None:
        if state.step % self.every and state.step != 1:
            return
        with fork_rng(self.seed):
            x = state.model.sample(self.n)
        self.steps.append(state.step)
        self.samples.append(x.detach().cpu())
