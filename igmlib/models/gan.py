"""The generative adversarial network (Goodfellow et al. 2014) with a choice of losses."""
from __future__ import annotations

import torch
from torch import nn

from .._validation import check_betas, check_choice, check_module, check_positive
from .. import losses
from ..losses import GAN_LOSSES
from ..penalties import GAN_PENALTIES, r1_penalty, roth_penalty
from ..player import Player
from .base import LatentSampler, PlayerLR, adam


class GAN(LatentSampler):
    """Generator ``G: z -> x`` and discriminator ``D: x -> logit``, trained adversarially.

    Each step: (1) update D on a data minibatch and a generated one, (2) update G.

    Args:
        generator: maps ``(N, latent_dim)`` to samples ``(N, ...)``.
        discriminator: maps samples ``(N, ...)`` to logits ``(N, 1)``.
        latent_dim: size of ``z ~ N(0, I)``.
        loss: ``"minimax"``, ``"non_saturating"`` (default), ``"least_squares"`` or ``"hinge"``
            (see :mod:`igmlib.losses`).
        lr: Adam learning rate of both players (DCGAN: 2e-4).
        lr_discriminator, lr_generator: one player's own learning rate (``None``: ``lr``), for the
            two time-scale update rule (TTUR, Heusel et al. 2017: e.g. ``4e-4`` and ``1e-4``).
        betas: Adam betas (DCGAN: (0.5, 0.999)).
        joint_batch: feed D one concatenated batch of real and fake samples instead of two batches.
            With BatchNorm in D this mixes their statistics: the pitfall the GAN chapter shows.
        penalty: ``None``, ``"r1"`` (Mescheder et al. 2018: ``E_data ||grad l||^2``) or ``"gan_dp"``
            (Roth et al. 2017: ``E_data[(1 - D)^2 ||grad l||^2] + E_model[D^2 ||grad l||^2]``), see
            :mod:`igmlib.penalties`; ``penalty_weight / 2`` times it is added to D's loss and logged
            as ``"penalty"``.
        penalty_weight: ``gamma`` (``None``: 10 for ``"r1"`` as in Mescheder et al.'s experiments,
            2 for ``"gan_dp"`` as in Roth et al.'s).
        ema: decay of the generator's weight average that :meth:`sample` draws from (e.g. 0.999;
            ``None``: off); see :class:`~igmlib.models.LatentSampler`.
        decay_start: fraction of the run after which both learning rates decay linearly to 0
            (``None``: constant); see :class:`~igmlib.models.LatentSampler`.

    Raises:
        TypeError / ValueError: non-module networks, an unknown ``loss`` or ``penalty``,
            non-positive learning rates, ``ema`` outside (0, 1), ``decay_start`` outside [0, 1).

    References:
        Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014, eq. (1) and Algorithm 1.
        Radford et al., "DCGAN", ICLR 2016 (Adam 2e-4, beta1 0.5).
        Mescheder, Geiger, Nowozin, "Which Training Methods for GANs do actually Converge?", ICML 2018, eq. (9).
        Roth, Lucchi, Nowozin, Hofmann, "Stabilizing Training of Generative Adversarial Networks through
        Regularization", NeurIPS 2017.
        Lim and Ye, "Geometric GAN", 2017, and Miyato et al., "Spectral Normalization for GANs", ICLR 2018
        (the hinge loss); Heusel et al., "GANs Trained by a Two Time-Scale Update Rule", NeurIPS 2017.
    """

    # lr_<player>: the value given, else lr (see PlayerLR)
    lr_discriminator = PlayerLR()
    lr_generator = PlayerLR()

    def __init__(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        latent_dim: int,
        *,
        loss: str = "non_saturating",
        lr: float = 2e-4,
        lr_discriminator: float | None = None,
        lr_generator: float | None = None,
        betas: tuple[float, float] = (0.5, 0.999),
        joint_batch: bool = False,
        penalty: str | None = None,
        penalty_weight: float | None = None,
        ema: float | None = None,
        decay_start: float | None = None,
    ):
        super().__init__(generator, latent_dim, ema=ema, decay_start=decay_start)
        check_module(discriminator, "discriminator")
        self.discriminator = discriminator
        self.loss = check_choice(loss, "loss", GAN_LOSSES)
        self.lr = check_positive(lr, "lr")
        self.lr_discriminator = lr_discriminator
        self.lr_generator = lr_generator
        self.betas = check_betas(betas)
        self.joint_batch = bool(joint_batch)
        self.penalty = None if penalty is None else check_choice(penalty, "penalty", GAN_PENALTIES)
        default_weight = {"r1": 10.0, "gan_dp": 2.0}.get(self.penalty, 0.0)
        self.penalty_weight = default_weight if penalty_weight is None else check_positive(
            penalty_weight, "penalty_weight", allow_zero=True)

    def discriminator_logits(self, real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """D's logits on real and fake samples, as two batches or (``joint_batch``) one."""
        if self.joint_batch:
            logits = self.discriminator(torch.cat([real, fake]))
            return logits[: len(real)], logits[len(real):]
        return self.discriminator(real), self.discriminator(fake)

    def discriminator_loss(self, real: torch.Tensor) -> dict[str, torch.Tensor]:
        # (1) Update D: maximise log D(x) + log(1 - D(G(z))) (or the LSGAN targets); G is fixed.
        fake = self.generator(self.prior(len(real))).detach()
        real_logits, fake_logits = self.discriminator_logits(real, fake)
        out = {
            "loss": losses.discriminator_loss(real_logits, fake_logits, self.loss),
            "D(x)": torch.sigmoid(real_logits).mean().detach(),
            "D(G(z))": torch.sigmoid(fake_logits).mean().detach(),
        }
        if self.penalty is not None:
            # + gamma/2 * R1 (Mescheder et al. 2018) or + gamma/2 * Omega_JS (Roth et al. 2017)
            value = r1_penalty(self.discriminator, real) if self.penalty == "r1" else roth_penalty(
                self.discriminator, real, fake)
            out["loss"] = out["loss"] + 0.5 * self.penalty_weight * value
            out["penalty"] = value.detach()
        return out

    def generator_loss(self, batch_size: int) -> torch.Tensor:
        # (2) Update G: minimise log(1 - D(G(z))) (minimax) or -log D(G(z)) (non-saturating).
        return losses.generator_loss(self.discriminator(self.generator(self.prior(batch_size))), self.loss)

    def players(self) -> list[Player]:
        return self.with_options([
            Player("discriminator", [self.discriminator], self.discriminator_loss,
                   adam(self.lr_discriminator, self.betas)),
            Player("generator", [self.generator], self.generator_loss, adam(self.lr_generator, self.betas),
                   needs_data=False),
        ])
