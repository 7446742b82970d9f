"""ALI / BiGAN: a generator, an encoder, and a discriminator on pairs ``(x, z)``.

Two joint distributions over data and latents are matched adversarially:

- the encoder's ``q(x, z) = p_data(x) q(z | x)``: pairs ``(x, E(x))`` with ``x`` from the data;
- the generator's ``p(x, z) = p(z) p(x | z)``: pairs ``(G(z), z)`` with ``z ~ N(0, I)``.

The discriminator learns to tell the two kinds of pairs apart; generator and encoder, trained
together as one player, learn to make them indistinguishable. At the optimum the joints are equal,
so the encoder inverts the generator (exactly so for a deterministic encoder: BiGAN's Theorem 2).
ALI's encoder is stochastic (a Gaussian with the reparameterisation trick), BiGAN's deterministic.
"""
from __future__ import annotations

import torch
from torch import nn

from .._validation import check_betas, check_module, check_positive, check_tensor, shape_str
from .. import losses
from ..player import Player, batch_data
from .base import LatentSampler, PlayerLR, adam


def check_pair(x: torch.Tensor, z: torch.Tensor, latent_dim: int) -> None:
    """Check that ``(x, z)`` is a batch of pairs: ``x`` ``(N, ...)`` and ``z`` ``(N, latent_dim)``.

    Raises:
        TypeError: ``x`` or ``z`` is not a floating-point tensor.
        ValueError: ``z`` is not ``(N, latent_dim)``, ``x`` has no batch dimension, or the batch
            sizes differ.
    """
    check_tensor(x, "x")
    check_tensor(z, "z", ndim=2, last_dim=latent_dim)
    if x.dim() < 2:
        raise ValueError(f"x must have shape (N, ...) with a feature dimension, got {shape_str(x.shape)}: "
                         "use x.reshape(-1, 1) for 1-D data")
    if x.shape[0] != z.shape[0]:
        raise ValueError(
            f"x and z must hold the same number of pairs, got x {shape_str(x.shape)} and z {shape_str(z.shape)}: "
            "pair each x with one z"
        )


class PairDiscriminator(nn.Module):
    """A discriminator on pairs ``(x, z)`` that embeds ``x`` and ``z`` separately, then joins them.

    ``logit = joint_net(cat[x_net(x).flatten(1), z_net(z)])``, the layout of ALI's and BiGAN's
    image discriminators (ALI appendix A: ``D(x)``, ``D(z)``, ``D(x, z)``). Use it for images,
    where concatenating ``x`` and ``z`` is not possible; for flat ``x`` a plain network on
    ``cat[x, z]`` also works (what :class:`ALI` builds when the discriminator is not a pair module).

    Args:
        x_net: embeds data ``(N, ...)`` into ``(N, a)`` (or ``(N, ...)``, flattened), e.g.
            ``igmlib.nets.ConvDiscriminator(out_features=a)``.
        z_net: embeds latents ``(N, latent_dim)`` into ``(N, b)``, e.g. ``igmlib.nets.MLP(k, b)``.
        joint_net: maps the joined ``(N, a + b)`` embedding to logits ``(N, 1)``.
        latent_dim: the size ``k`` of ``z``, used to validate pairs.

    Shapes:
        ``x`` ``(N, ...)``, ``z`` ``(N, latent_dim)`` ``->`` ``(N, 1)``.

    Raises:
        TypeError: a part is not an ``nn.Module``.
        ValueError: mismatched pairs (see :func:`check_pair`).

    References:
        Dumoulin et al., "Adversarially Learned Inference", ICLR 2017, appendix A (tables 3-5).
    """

    takes_pairs = True  # ALI calls discriminator(x, z) instead of discriminator(cat[x, z])

    def __init__(self, x_net: nn.Module, z_net: nn.Module, joint_net: nn.Module, *, latent_dim: int):
        super().__init__()
        for name, net in (("x_net", x_net), ("z_net", z_net), ("joint_net", joint_net)):
            check_module(net, name)
        self.x_net, self.z_net, self.joint_net = x_net, z_net, joint_net
        self.latent_dim = latent_dim

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        check_pair(x, z, self.latent_dim)
        hx = self.x_net(x).flatten(1)  # (N, a)
        hz = self.z_net(z).flatten(1)  # (N, b)
        return self.joint_net(torch.cat([hx, hz], dim=1))  # (N, 1)


class ALI(LatentSampler):
    """Adversarially learned inference (stochastic encoder) or BiGAN (``stochastic=False``).

    Each step: (1) the discriminator learns to tell encoder pairs ``(x, E(x))`` (label 1) from
    generator pairs ``(G(z), z)`` (label 0); (2) generator and encoder, one player, minimise the
    same cross-entropy with the labels swapped (the non-saturating form of both papers).

    Args:
        generator: maps ``(N, latent_dim)`` to samples ``(N, ...)``.
        encoder: maps samples ``(N, ...)`` to ``(N, 2 * latent_dim)`` (mean and log standard
            deviation of ``q(z | x)``) if ``stochastic``, else to ``(N, latent_dim)``.
        discriminator: for flat data ``(N, d)``, a network on the concatenation
            ``(N, d + latent_dim) -> (N, 1)``, e.g. ``MLP(d + latent_dim, 1)``; for any data, a
            module with ``takes_pairs = True`` called as ``discriminator(x, z)``, e.g.
            :class:`PairDiscriminator` (needed for images).
        latent_dim: size of ``z ~ N(0, I)``.
        stochastic: ALI's Gaussian encoder ``z = mu(x) + sigma(x) * eps`` (reparameterised) if
            true, BiGAN's deterministic ``z = E(x)`` if false.
        lr: Adam learning rate of both players (DCGAN's 2e-4 by default, as :class:`GAN`).
        lr_discriminator, lr_generator_encoder: one player's own learning rate (``None``: ``lr``;
            the two time-scale update rule of Heusel et al. 2017).
        betas: Adam betas.
        ema: decay of the generator's weight average (e.g. 0.999; ``None``: off) that :meth:`sample`
            and :meth:`reconstruct` use; the encoder is not averaged. See
            :class:`~igmlib.models.LatentSampler`.
        decay_start: fraction of the run after which the learning rates decay linearly to 0
            (``None``: constant).

    Shapes:
        ``encode(x)``: ``(N, ...) -> (N, latent_dim)``; ``reconstruct(x)``: ``(N, ...) -> (N, ...)``;
        ``discriminate(x, z)``: ``(N, ...), (N, latent_dim) -> (N, 1)``.

    Raises:
        TypeError: a network is not an ``nn.Module``.
        ValueError: ``latent_dim`` or a learning rate not positive, ``ema`` outside (0, 1),
            ``decay_start`` outside [0, 1); an encoder output or a pair of the wrong shape (raised
            when used, with the expected shape).

    References:
        Dumoulin et al., "Adversarially Learned Inference", ICLR 2017, eq. (1), (2), (4) and Algorithm 1.
        Donahue, Kraehenbuehl, Darrell, "Adversarial Feature Learning", ICLR 2017, eq. (3),
        Theorems 1-2 and section 3.4 (the "inverse" objective for G and E).
    """

    # lr_<player>: the value given, else lr (see PlayerLR)
    lr_discriminator = PlayerLR()
    lr_generator_encoder = PlayerLR()

    def __init__(
        self,
        generator: nn.Module,
        encoder: nn.Module,
        discriminator: nn.Module,
        latent_dim: int,
        *,
        stochastic: bool = True,
        lr: float = 2e-4,
        lr_discriminator: float | None = None,
        lr_generator_encoder: float | None = None,
        betas: tuple[float, float] = (0.5, 0.999),
        ema: float | None = None,
        decay_start: float | None = None,
    ):
        super().__init__(generator, latent_dim, ema=ema, decay_start=decay_start)
        for name, net in (("encoder", encoder), ("discriminator", discriminator)):
            check_module(net, name)
        self.encoder = encoder
        self.discriminator = discriminator
        self.stochastic = bool(stochastic)
        self.lr = check_positive(lr, "lr")
        self.lr_discriminator = lr_discriminator
        self.lr_generator_encoder = lr_generator_encoder
        self.betas = check_betas(betas)

    # ------------------------------------------------------------------ encoder
    def encoder_params(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The encoder's output split into mean and log-std ``(N, latent_dim)`` each (log-std
        ``None`` for a deterministic encoder), differentiably.

        Raises:
            ValueError: the encoder's output does not have the expected shape.
        """
        check_tensor(x, "x")
        out = self.encoder(x)
        k = self.latent_dim
        want = 2 * k if self.stochastic else k
        if out.dim() != 2 or out.shape != (x.shape[0], want):
            what = (f"(N, 2 * latent_dim) = (N, {want}): the mean and log-std of q(z | x)" if self.stochastic
                    else f"(N, latent_dim) = (N, {want})")
            raise ValueError(f"the encoder must output {what}, got {shape_str(out.shape)} for x of shape "
                             f"{shape_str(x.shape)}: change its output size")
        if self.stochastic:
            return out[:, :k], out[:, k:]
        return out, None

    def rencode(self, x: torch.Tensor) -> torch.Tensor:
        """``z ~ q(z | x)`` with gradients (reparameterised; ``E(x)`` for a deterministic encoder)."""
        mean, log_std = self.encoder_params(x)
        if log_std is None:
            return mean
        return mean + log_std.exp() * torch.randn_like(mean)  # ALI eq. (2)

    @torch.no_grad()
    def encode(self, x: torch.Tensor, *, mean: bool = False) -> torch.Tensor:
        """Latents ``(N, latent_dim)`` of ``x`` without gradients: a draw of ``q(z | x)``, or its
        mean with ``mean=True`` (the features to probe). A deterministic encoder returns ``E(x)``."""
        if mean:
            return self.encoder_params(x)[0]
        return self.rencode(x)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor, *, mean: bool = False, ema: bool | None = None) -> torch.Tensor:
        """``G(E(x))`` without gradients: data ``(N, ...)`` -> latents -> data ``(N, ...)``, decoded
        by the averaged generator when the model keeps one (``ema=False``: the trained generator;
        see :meth:`~igmlib.models.LatentSampler.sampling_generator`)."""
        return self.sampling_generator(ema)(self.encode(x, mean=mean))

    # ------------------------------------------------------------ discriminator
    def discriminate(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """The discriminator's logits ``(N, 1)`` on pairs ``(x, z)``, differentiably.

        Raises:
            ValueError: mismatched pairs (see :func:`check_pair`), or image-shaped ``x`` with a
                discriminator that does not take pairs.
        """
        check_pair(x, z, self.latent_dim)
        if getattr(self.discriminator, "takes_pairs", False):
            return self.discriminator(x, z)
        if x.dim() != 2:
            raise ValueError(
                f"x of shape {shape_str(x.shape)} cannot be concatenated with z: for images use a pair "
                "discriminator, e.g. igmlib.models.PairDiscriminator(x_net, z_net, joint_net, latent_dim=...)"
            )
        return self.discriminator(torch.cat([x, z], dim=1))  # (N, d + latent_dim) -> (N, 1)

    @staticmethod
    def _data(batch) -> torch.Tensor:
        return batch_data(batch)  # (x, y) batches: ignore labels

    def discriminator_loss(self, batch) -> dict[str, torch.Tensor]:
        # (1) Update D: maximise log D(x, E(x)) + log(1 - D(G(z), z)); E and G are fixed.
        x = self._data(batch)
        z = self.prior(len(x))
        encoder_logits = self.discriminate(x, self.rencode(x).detach())
        generator_logits = self.discriminate(self.generator(z).detach(), z)
        return {
            "loss": losses.discriminator_loss(encoder_logits, generator_logits, "minimax"),
            "D(x,E(x))": torch.sigmoid(encoder_logits).mean().detach(),
            "D(G(z),z)": torch.sigmoid(generator_logits).mean().detach(),
        }

    def generator_encoder_loss(self, batch) -> torch.Tensor:
        # (2) Update G and E together with swapped labels (ALI eq. (4)):
        #     minimise -log(1 - D(x, E(x))) - log D(G(z), z), i.e. the BCE with generator pairs as "real".
        x = self._data(batch)
        z = self.prior(len(x))
        encoder_logits = self.discriminate(x, self.rencode(x))
        generator_logits = self.discriminate(self.generator(z), z)
        return losses.discriminator_loss(generator_logits, encoder_logits, "minimax")

    def players(self) -> list[Player]:
        return self.with_options([
            Player("discriminator", [self.discriminator], self.discriminator_loss,
                   adam(self.lr_discriminator, self.betas)),
            Player("generator_encoder", [self.generator, self.encoder], self.generator_encoder_loss,
                   adam(self.lr_generator_encoder, self.betas)),
        ])
