"""Wasserstein autoencoders (Tolstikhin, Bousquet, Gelly, Schölkopf 2018).

A deterministic encoder ``z~ = E(x)`` and a deterministic decoder ``x = G(z)`` are trained to
minimise, over a minibatch ``x_1..x_n``,

    (1/n) sum_i c(x_i, G(E(x_i)))  +  lambda * D_Z(Q_Z, P_Z),      c(x, y) = ||x - y||^2,

an upper bound (relaxed with the penalty) on the optimal-transport cost ``W_c(P_X, P_G)`` of the
model ``x = G(z), z ~ P_Z = N(0, I)`` (their Theorem 1). The penalty pushes the *aggregate* code
distribution ``Q_Z = E_x q(z | x)`` towards the prior, not each ``q(z | x)`` (which a VAE's KL
term does): codes of different images need not overlap. ``D_Z`` is

- ``penalty="mmd"`` (WAE-MMD, Algorithm 2): the unbiased MMD^2 between the codes and as many prior
  draws, with the inverse multiquadratics kernel ``k(z, z') = sum_s C_s / (C_s + ||z - z'||^2)``,
  ``C_s = s * 2 d_z sigma_z^2`` (:meth:`WAE.mmd_penalty`);
- ``penalty="gan"`` (WAE-GAN, Algorithm 1): a latent discriminator ``D(z)`` (the player
  ``"discriminator"``) tells prior draws from codes; the autoencoder minimises ``-lambda log D(E(x))``.

The decoder is a push-forward map (no observation noise): this module subclasses
:class:`~igmlib.models.LatentSampler`, so the network is ``self.generator`` (the naming rule: a
map from ``z`` to samples), ``self.decoder`` is the same network under the paper's name, and
``sample(n) = G(z), z ~ N(0, I)``, without noise.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .. import losses
from .._validation import check_betas, check_choice, check_module, check_positive, check_tensor, shape_str
from ..divergences import inverse_multiquadratic_kernel, unbiased_mmd2
from ..player import Player, batch_data
from .base import LatentSampler, PlayerLR, adam

WAE_PENALTIES = ("mmd", "gan")
#: Multiples of ``C = 2 d_z sigma_z^2`` summed in the IMQ kernel (the authors' code, ``wae.py``).
IMQ_SCALES = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)


class WAE(LatentSampler):
    """A Wasserstein autoencoder: deterministic encoder and decoder, squared-L2 reconstruction cost,
    and an MMD (WAE-MMD) or adversarial (WAE-GAN) penalty matching the codes to ``N(0, I)``.

    Players: ``"autoencoder"`` (encoder and decoder, minimising ``reconstruction + lambda * penalty``),
    and, with ``penalty="gan"``, ``"discriminator"`` first (the latent discriminator). Logged:
    ``"reconstruction"`` (mean ``||x - G(E(x))||^2`` per data point, squared data units),
    ``"mmd2"`` or ``"latent gan loss"`` (the unweighted penalty), and the discriminator's
    ``"D(z)"`` / ``"D(E(x))"``.

    Args:
        encoder: maps data ``(N, ...)`` to codes ``(N, latent_dim)`` (deterministic).
        generator: the decoder ``G``, maps ``(N, latent_dim)`` to data ``(N, ...)`` (any shape with
            the data's number of values per point; reshaped like the batch for the cost).
        latent_dim: ``d_z`` (the paper: 8 on MNIST).
        penalty: ``"mmd"`` (default) or ``"gan"``.
        penalty_weight: ``lambda`` (``None``: the paper's MNIST values, 10 for ``"mmd"``, 1 for ``"gan"``).
        discriminator: ``"gan"`` only (required there): maps codes ``(N, latent_dim)`` to logits
            ``(N, 1)`` (the paper: 4 hidden layers of 512 ReLU units).
        kernel_multiples: ``"mmd"``: the IMQ kernel's scales as multiples of ``C = 2 d_z`` (see
            :meth:`mmd_penalty`; default the seven of the authors' code).
        lr: Adam learning rate of the autoencoder (the paper: 1e-3).
        lr_discriminator: the latent discriminator's (``None``: 5e-4, the paper's).
        betas: Adam betas (the paper: (0.5, 0.999)).
        ema, decay_start: see :class:`~igmlib.models.LatentSampler` (the paper decays its rates in
            steps; ``decay_start`` gives a linear decay instead).

    Shapes:
        ``encode``: ``(N, ...) -> (N, latent_dim)``; ``reconstruct``: ``(N, ...) -> (N, ...)``;
        ``sample``: ``n -> (n, ...)``, the decoder's output shape.

    Raises:
        TypeError / ValueError: non-module networks, an unknown penalty, ``penalty="gan"`` without a
        discriminator (or a discriminator with ``"mmd"``), non-positive weights or rates, encoder
        outputs other than ``(N, latent_dim)``, decoder outputs of another size than the data.

    References:
        Tolstikhin, Bousquet, Gelly, Schölkopf, "Wasserstein Auto-Encoders", ICLR 2018: eq. (4)
        (the objective), Algorithm 1 (WAE-GAN), Algorithm 2 (WAE-MMD), section 4 (MNIST: d_z = 8,
        Adam 1e-3 with beta1 0.5, adversary 5e-4; lambda 10 (MMD) and 1 (GAN)).
    """

    lr_discriminator = PlayerLR()

    def __init__(self, encoder: nn.Module, generator: nn.Module, latent_dim: int = 8, *, penalty: str = "mmd",
                 penalty_weight: float | None = None, discriminator: nn.Module | None = None,
                 kernel_multiples: Sequence[float] = IMQ_SCALES, lr: float = 1e-3,
                 lr_discriminator: float | None = None, betas: tuple[float, float] = (0.5, 0.999),
                 ema: float | None = None, decay_start: float | None = None):
        super().__init__(generator, latent_dim, ema=ema, decay_start=decay_start)
        self.encoder = check_module(encoder, "encoder")
        self.penalty = check_choice(penalty, "penalty", WAE_PENALTIES)
        if (discriminator is None) == (self.penalty == "gan"):
            raise ValueError("penalty='gan' needs a latent discriminator (codes (N, latent_dim) -> logits (N, 1)); "
                             "penalty='mmd' takes none: pass discriminator= only with penalty='gan'")
        self.discriminator = None if discriminator is None else check_module(discriminator, "discriminator")
        self.penalty_weight = ({"mmd": 10.0, "gan": 1.0}[self.penalty] if penalty_weight is None
                               else check_positive(penalty_weight, "penalty_weight", allow_zero=True))
        self.kernel_multiples = tuple(check_positive(s, "kernel_multiples") for s in kernel_multiples)
        self.lr = check_positive(lr, "lr")
        self.lr_discriminator = 5e-4 if lr_discriminator is None else lr_discriminator
        self.betas = check_betas(betas)

    @property
    def decoder(self) -> nn.Module:
        """The decoder ``G`` (the paper's name; the same network as ``self.generator``)."""
        return self.generator

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Codes ``E(x)``, ``(N, latent_dim)``, differentiably.

        Raises:
            ValueError: encoder outputs other than ``(N, latent_dim)``.
        """
        check_tensor(x, "x")
        z = self.encoder(x)
        if z.dim() != 2 or z.shape != (len(x), self.latent_dim):
            raise ValueError(f"the encoder must output codes (N, latent_dim) = ({len(x)}, {self.latent_dim}), "
                             f"got {shape_str(z.shape)}")
        return z

    def _decode_like(self, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        out = self.generator(z)
        if out.numel() != x.numel():
            raise ValueError(f"the decoder outputs {out.numel() // len(z)} numbers per code but a data point has "
                             f"{x.numel() // len(x)}: size the decoder's last layer to the data")
        return out.reshape(x.shape)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """``G(E(x))``, shaped like ``x``, without gradients."""
        return self._decode_like(self.encode(x), x)

    def reconstruction_cost(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """``c(x, G(z)) = ||x - G(z)||^2`` per data point, ``(N,)`` in squared data units."""
        return (x - self._decode_like(z, x)).flatten(1).pow(2).sum(1)

    def mmd_penalty(self, codes: torch.Tensor) -> torch.Tensor:
        """Algorithm 2's penalty (unweighted): the unbiased MMD^2 (:func:`igmlib.divergences.unbiased_mmd2`)
        of the codes ``(N, d_z)`` and ``N`` prior draws with the inverse multiquadratics kernel
        (:func:`igmlib.divergences.inverse_multiquadratic_kernel`), ``C_s = s * 2 d_z`` (``sigma_z = 1``)
        for ``s`` in ``kernel_multiples``. Raises ``ValueError`` for fewer than 2 codes."""
        prior = self.prior(len(codes))
        scales = [2.0 * self.latent_dim * s for s in self.kernel_multiples]

        def k(a, b):
            return inverse_multiquadratic_kernel(a, b, scales)

        return unbiased_mmd2(k(codes, codes), k(prior, prior), k(codes, prior))

    def autoencoder_loss(self, batch) -> dict[str, torch.Tensor]:
        # Encoder and decoder: mean c(x, G(E(x))) + lambda * D_Z (Algorithms 1 and 2, the last update).
        x = batch_data(batch)
        codes = self.encode(x)
        rec = self.reconstruction_cost(x, codes).mean()
        if self.penalty == "mmd":
            value, key = self.mmd_penalty(codes), "mmd2"
        else:  # -log D(E(x)): the non-saturating generator loss of the latent GAN
            value, key = losses.generator_loss(self.discriminator(codes), "non_saturating"), "latent gan loss"
        return {"loss": rec + self.penalty_weight * value, "reconstruction": rec.detach(), key: value.detach()}

    def discriminator_loss(self, batch) -> dict[str, torch.Tensor]:
        # WAE-GAN's adversary: lambda * [-log D(z) - log(1 - D(E(x)))], z ~ P_Z (Algorithm 1).
        codes = self.encode(batch_data(batch)).detach()
        prior_logits, code_logits = self.discriminator(self.prior(len(codes))), self.discriminator(codes)
        return {"loss": self.penalty_weight * losses.discriminator_loss(prior_logits, code_logits, "minimax"),
                "D(z)": torch.sigmoid(prior_logits).mean().detach(),
                "D(E(x))": torch.sigmoid(code_logits).mean().detach()}

    def players(self) -> list[Player]:
        autoencoder = Player("autoencoder", [self.encoder, self.generator], self.autoencoder_loss,
                             adam(self.lr, self.betas))
        if self.penalty == "mmd":
            return self.with_options([autoencoder])
        return self.with_options([
            Player("discriminator", [self.discriminator], self.discriminator_loss,
                   adam(self.lr_discriminator, self.betas)), autoencoder])
