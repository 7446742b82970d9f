"""f-GAN (Nowozin et al. 2016): a generator trained to minimise any f-divergence from the data.

A critic ``V: x -> R`` and the output activation ``g_f`` of the chosen divergence give the
variational function ``T = g_f(V)``; the critic maximises and the generator minimises

    F(theta, omega) = E_{x ~ P}[g_f(V(x))] - E_{z}[f*(g_f(V(G(z))))],

a lower bound on ``D_f(P || Q_theta)`` that is tight for the best critic
(:mod:`igmlib.divergences.f`).
"""
from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call

from .._validation import check_betas, check_choice, check_module, check_positive
from ..divergences.f import FDivergence, f_divergence
from ..player import Player
from .base import LatentSampler, PlayerLR, adam

GENERATOR_OBJECTIVES = ("bound", "non_saturating")


class _ReverseGradient(torch.autograd.Function):
    """Identity forward, negated gradient backward (Ganin and Lempitsky 2015)."""

    @staticmethod
    def forward(ctx, x):
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return -grad


class FGAN(LatentSampler):
    """Generator ``G: z -> x`` and critic ``V: x -> R`` playing the f-GAN saddle-point game.

    Alternating updates (default), each step: (1) update the critic to maximise ``F`` on a data
    minibatch and a generated one, (2) update the generator to minimise ``F``. With
    ``single_step=True`` one player holds both networks and one forward pass of ``F`` updates both
    at once (the paper's Algorithm 1): the critic's parameters enter ``F`` through a
    gradient-reversal map, so minimising that one loss descends ``F`` in the generator's
    parameters and ascends it in the critic's. The two parameter sets share one Adam optimizer,
    which acts per parameter, so it equals two Adams with the same settings.

    Args:
        generator: maps ``(N, latent_dim)`` to samples ``(N, ...)``.
        critic: maps samples ``(N, ...)`` to unconstrained outputs ``V``, ``(N, 1)`` or ``(N,)``.
        latent_dim: size of ``z ~ N(0, I)``.
        divergence: a name of :data:`igmlib.divergences.F_DIVERGENCES` (``"js"`` by default) or an
            :class:`igmlib.divergences.FDivergence`.
        lr: Adam learning rate of both players.
        lr_critic, lr_generator: one player's own learning rate (``None``: ``lr``; the two
            time-scale update rule of Heusel et al. 2017). Not with ``single_step`` (one optimizer).
        betas: Adam betas.
        single_step: simultaneous updates of both players from one forward pass (Algorithm 1).
        generator_objective: ``"bound"`` (minimise ``-E f*(g_f(V(G(z))))``, the saddle-point game) or
            ``"non_saturating"`` (maximise ``E g_f(V(G(z)))``, the paper's generalisation of
            Goodfellow et al.'s ``-log D`` trick; it no longer minimises ``D_f`` exactly). Only
            ``"bound"`` is available with ``single_step``.
        ema: decay of the generator's weight average that :meth:`sample` and :meth:`bound` draw
            from (e.g. 0.999; ``None``: off); see :class:`~igmlib.models.LatentSampler`.
        decay_start: fraction of the run after which the learning rates decay linearly to 0
            (``None``: constant); see :class:`~igmlib.models.LatentSampler`.

    Raises:
        TypeError: non-module networks.
        ValueError: unknown divergence or generator loss (the message lists the valid ones),
            non-positive ``lr``, ``single_step`` with ``generator_objective="non_saturating"`` or
            with ``lr_critic`` / ``lr_generator``; ``ema`` outside (0, 1), ``decay_start`` outside [0, 1).

    References:
        Nowozin, Cseke, Tomioka, "f-GAN: Training Generative Neural Samplers using Variational
        Divergence Minimization", NeurIPS 2016, eq. (6), Algorithm 1, section 3.2.
    """

    # lr_<player>: the value given, else lr (see PlayerLR)
    lr_critic = PlayerLR()
    lr_generator = PlayerLR()

    def __init__(
        self,
        generator: nn.Module,
        critic: nn.Module,
        latent_dim: int,
        *,
        divergence: str | FDivergence = "js",
        lr: float = 2e-4,
        lr_critic: float | None = None,
        lr_generator: float | None = None,
        betas: tuple[float, float] = (0.5, 0.999),
        single_step: bool = False,
        generator_objective: str = "bound",
        ema: float | None = None,
        decay_start: float | None = None,
    ):
        super().__init__(generator, latent_dim, ema=ema, decay_start=decay_start)
        check_module(critic, "critic")
        self.critic = critic
        self.divergence = f_divergence(divergence)
        self.lr = check_positive(lr, "lr")
        self.lr_critic = lr_critic
        self.lr_generator = lr_generator
        self.betas = check_betas(betas)
        self.single_step = bool(single_step)
        self.generator_objective = check_choice(generator_objective, "generator_objective", GENERATOR_OBJECTIVES)
        if self.single_step and self.generator_objective != "bound":
            raise ValueError(
                "single_step=True updates both players from the one objective F: use generator_objective='bound'"
            )
        if self.single_step and (lr_critic is not None or lr_generator is not None):
            raise ValueError("single_step=True trains both networks with one optimizer at learning rate lr: "
                             "drop lr_critic and lr_generator, or use alternating updates (single_step=False)")

    def critic_output(self, x: torch.Tensor) -> torch.Tensor:
        """``V(x)`` as ``(N,)``."""
        return self.critic(x).reshape(len(x))

    def objective(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """``F = mean g_f(V(real)) - mean f*(g_f(V(fake)))`` (nats), differentiable in both players."""
        return self.divergence.bound(self.critic_output(real), self.critic_output(fake))

    @torch.no_grad()
    def bound(self, real: torch.Tensor, n: int | None = None) -> torch.Tensor:
        """Estimate of the lower bound on ``D_f(data || model)`` (nats) from data and ``n`` model samples.

        With a well-trained critic it estimates the divergence itself (the bound is tight at
        ``T*(x) = f'(p(x) / q(x))``); with a poor critic it underestimates it.

        Args:
            real: data samples ``(N, ...)``.
            n: number of model samples (default ``N``), drawn with :meth:`sample` (from the averaged
                generator when ``ema`` is on).

        Returns:
            A scalar tensor (nats).
        """
        fake = self.sample(len(real) if n is None else n)
        return self.objective(real, fake)

    def critic_loss(self, real: torch.Tensor) -> dict[str, torch.Tensor]:
        # (1) Update the critic: maximise F = E_P g_f(V(x)) - E_Q f*(g_f(V(G(z)))); G is fixed.
        fake = self.generator(self.prior(len(real))).detach()
        value = self.objective(real, fake)
        return {"loss": -value, "bound": value.detach()}

    def generator_loss(self, batch_size: int) -> torch.Tensor:
        # (2) Update G: minimise -E f*(g_f(V(G(z)))) (the bound), or maximise E g_f(V(G(z))).
        v = self.critic_output(self.generator(self.prior(batch_size)))
        if self.generator_objective == "non_saturating":
            return -self.divergence.activation(v).mean()
        return -self.divergence.conjugate_of_activation(v).mean()

    def joint_loss(self, real: torch.Tensor) -> dict[str, torch.Tensor]:
        # Algorithm 1: one forward pass of F; G descends F, the critic (through reversed
        # gradients on its parameters) ascends it.
        params = {name: _ReverseGradient.apply(p) for name, p in self.critic.named_parameters()}
        fake = self.generator(self.prior(len(real)))
        v_real = functional_call(self.critic, params, (real,)).reshape(len(real))
        v_fake = functional_call(self.critic, params, (fake,)).reshape(len(fake))
        value = self.divergence.bound(v_real, v_fake)
        return {"loss": value, "bound": value.detach()}

    def players(self) -> list[Player]:
        if self.single_step:
            return self.with_options(
                [Player("joint", [self.generator, self.critic], self.joint_loss, adam(self.lr, self.betas))])
        return self.with_options([
            Player("critic", [self.critic], self.critic_loss, adam(self.lr_critic, self.betas)),
            Player("generator", [self.generator], self.generator_loss, adam(self.lr_generator, self.betas),
                   needs_data=False),
        ])
