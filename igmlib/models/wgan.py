"""The Wasserstein GAN (Arjovsky et al. 2017) with weight clipping or a gradient penalty (WGAN-GP)."""
from __future__ import annotations

import torch
from torch import nn

from .._validation import check_betas, check_choice, check_module, check_positive, check_positive_int
from .. import losses
from .. import penalties
from ..player import Player
from .base import LatentSampler, PlayerLR, adam

CONSTRAINTS = ("clip", "gp")


class WGAN(LatentSampler):
    """Generator ``G: z -> x`` and critic ``f: x -> score`` trained on the Wasserstein-1 distance.

    Each step: (1) ``n_critic`` critic updates, each on a fresh data minibatch, minimising
    ``E f(G(z)) - E f(x)`` (+ ``gp_weight`` times the gradient penalty with ``constraint="gp"``;
    with ``constraint="clip"`` every critic parameter is clipped to ``[-clip, clip]`` after each
    update); (2) one generator update minimising ``-E f(G(z))``.

    Paper defaults per constraint (used when ``lr`` / ``betas`` are ``None``):

    - ``"clip"``: RMSprop, learning rate ``5e-5``, ``c = 0.01``, ``n_critic = 5`` (WGAN, Algorithm 1).
    - ``"gp"``: Adam, learning rate ``1e-4``, betas ``(0, 0.9)``, ``lambda = 10``, ``n_critic = 5``
      (WGAN-GP, Algorithm 1; the authors' toy-data code uses betas ``(0.5, 0.9)`` and ``lambda = 0.1``).

    The critic's loss logs ``"W estimate"`` (``E f(x) - E f(G(z))`` on its minibatch) and, with
    ``log_grad_norm=True``, ``"grad norm"`` (mean ``||grad_x f||`` at random interpolates between the
    two batches; an extra gradient computation per critic update, off by default).

    Args:
        generator: maps ``(N, latent_dim)`` to samples ``(N, ...)``.
        critic: maps samples ``(N, ...)`` to scores ``(N, 1)``; without BatchNorm for ``"gp"``.
        latent_dim: size of ``z ~ N(0, I)``.
        constraint: ``"clip"`` or ``"gp"``.
        n_critic: critic updates per generator update.
        clip: the weight-clipping bound ``c`` (``"clip"`` only).
        gp_weight: the penalty weight ``lambda`` (``"gp"`` only).
        lr: learning rate of both players (``None``: the paper's for the constraint).
        lr_critic, lr_generator: one player's own learning rate (``None``: ``lr``), for the two
            time-scale update rule (Heusel et al. 2017 train WGAN-GP with a faster critic).
        betas: Adam betas (``"gp"`` only; ``None``: ``(0, 0.9)``).
        log_grad_norm: also log the critic's mean input-gradient norm (see above).
        ema: decay of the generator's weight average that :meth:`sample` draws from (e.g. 0.999;
            ``None``: off); see :class:`~igmlib.models.LatentSampler`.
        decay_start: fraction of the run after which both learning rates decay linearly to 0
            (``None``: constant; WGAN-GP's CIFAR-10 ResNet code, ``gan_cifar_resnet.py``, decays
            linearly from the first step: ``0.0``).

    Raises:
        TypeError / ValueError: bad modules, unknown ``constraint``, non-positive numbers, ``betas``
            given with ``constraint="clip"`` (RMSprop has none), ``ema`` outside (0, 1),
            ``decay_start`` outside [0, 1).

    References:
        Arjovsky, Chintala, Bottou, "Wasserstein GAN", ICML 2017, Algorithm 1.
        Gulrajani, Ahmed, Arjovsky, Dumoulin, Courville, "Improved Training of Wasserstein GANs",
        NeurIPS 2017, Algorithm 1 and eq. (3).
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
        constraint: str = "gp",
        n_critic: int = 5,
        clip: float = 0.01,
        gp_weight: float = 10.0,
        lr: float | None = None,
        lr_critic: float | None = None,
        lr_generator: float | None = None,
        betas: tuple[float, float] | None = None,
        log_grad_norm: bool = False,
        ema: float | None = None,
        decay_start: float | None = None,
    ):
        super().__init__(generator, latent_dim, ema=ema, decay_start=decay_start)
        check_module(critic, "critic")
        self.critic = critic
        self.constraint = check_choice(constraint, "constraint", CONSTRAINTS)
        self.n_critic = check_positive_int(n_critic, "n_critic")
        self.clip = check_positive(clip, "clip")
        self.gp_weight = check_positive(gp_weight, "gp_weight", allow_zero=True)
        if constraint == "clip" and betas is not None:
            raise ValueError("betas apply to Adam (constraint='gp'); constraint='clip' uses RMSprop: drop betas")
        self.lr = check_positive(lr, "lr") if lr is not None else (5e-5 if constraint == "clip" else 1e-4)
        self.lr_critic = lr_critic
        self.lr_generator = lr_generator
        self.betas = check_betas(betas) if betas is not None else (0.0, 0.9)
        self.log_grad_norm = bool(log_grad_norm)

    def optimizer(self, lr: float | None = None):
        """The paper's optimizer factory for this constraint (RMSprop for clipping, Adam for GP) at
        learning rate ``lr`` (``None``: ``self.lr``)."""
        lr, betas = (self.lr if lr is None else lr), self.betas
        if self.constraint == "clip":
            return lambda params: torch.optim.RMSprop(params, lr=lr)
        return adam(lr, betas)

    @torch.no_grad()
    def wasserstein_estimate(self, real: torch.Tensor, fake: torch.Tensor | None = None) -> torch.Tensor:
        """The critic's estimate ``E_P f(x) - E_Q f(x)`` of W1 (scalar tensor, no gradient).

        It is a lower bound on W1 when ``f`` is 1-Lipschitz; with weight clipping ``f`` is only
        K-Lipschitz for an unknown K, so the estimate is W1 up to that scale.

        Args:
            real: data samples ``(N, ...)``.
            fake: model samples ``(M, ...)``; default: ``N`` fresh samples of :meth:`sample` (the
                averaged generator when ``ema`` is on).
        """
        if fake is None:
            fake = self.sample(len(real))
        return self.critic(real).mean() - self.critic(fake).mean()

    def clip_critic(self) -> None:
        """Clip every critic parameter to ``[-clip, clip]`` (run after each critic update)."""
        penalties.clip_weights(self.critic, self.clip)

    def critic_loss(self, real: torch.Tensor) -> dict[str, torch.Tensor]:
        # (1) Update the critic: maximise E f(x) - E f(G(z)) (minus lambda * GP); G is fixed.
        n = len(real)
        fake = self.generator(self.prior(n)).detach()
        # one forward pass over both batches (the critic has no batch statistics)
        real_scores, fake_scores = self.critic(torch.cat([real, fake])).split(n)
        loss = losses.discriminator_loss(real_scores, fake_scores, "wasserstein")
        out = {"W estimate": (real_scores.mean() - fake_scores.mean()).detach()}
        if self.constraint == "gp":
            loss = loss + self.gp_weight * penalties.gradient_penalty(self.critic, real, fake)
        if self.log_grad_norm:  # extra work, for the figures only: a gradient at fresh interpolates
            x_hat = penalties.interpolate(real, fake)
            out["grad norm"] = penalties.gradient_norms(self.critic, x_hat, create_graph=False).mean()
        return {"loss": loss, **out}

    def generator_loss(self, batch_size: int) -> torch.Tensor:
        # (2) Update G: minimise -E f(G(z)).
        return losses.generator_loss(self.critic(self.generator(self.prior(batch_size))), "wasserstein")

    def players(self) -> list[Player]:
        after = self.clip_critic if self.constraint == "clip" else None
        return self.with_options([
            Player("critic", [self.critic], self.critic_loss, self.optimizer(self.lr_critic), updates=self.n_critic,
                   after_update=after),
            Player("generator", [self.generator], self.generator_loss, self.optimizer(self.lr_generator),
                   needs_data=False),
        ])
