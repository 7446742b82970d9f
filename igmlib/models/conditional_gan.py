"""Conditional GANs: a generator and a discriminator that both see a class label ``y``.

The model is ``x = G(z, y)``, ``z ~ N(0, I)``: one implicit model ``p(x | y)`` per class (the
supervised ``p(x | u)`` of the lecture notes). The discriminator scores pairs ``(x, y)``; at the
optimum of the usual GAN game ``p_model(x | y) = p_data(x | y)`` for every label the data contain.

Two ways of giving the label to the discriminator, both on top of a ``discriminator_body``
``phi: x -> (N, F)`` features:

- ``projection=False`` (Mirza and Osindero 2014): concatenation into a joint hidden layer,
  ``D(x, y) = w^T LeakyReLU(A [phi(x), onehot(y)] + a) + b`` (the paper joins the two inputs in a
  hidden maxout layer; concatenating ``onehot(y)`` only before the last linear layer would add a
  per-class constant to the logit, which cannot tell one class's images from another's);
- ``projection=True`` (Miyato and Koyama 2018, eq. (3)): ``D(x, y) = psi(phi(x)) + <embed(y), phi(x)>``
  with a linear ``psi: R^F -> R`` and a learned class embedding ``embed: {0..K-1} -> R^F``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .. import losses
from .._validation import check_betas, check_choice, check_module, check_positive, check_positive_int, check_tensor
from ..losses import GAN_LOSSES
from ..player import Player
from .base import LatentSampler, PlayerLR, adam


class ConditionalGAN(LatentSampler):
    """A class-conditional GAN: ``G(z, y)`` and ``D(x, y)`` with a concatenation or projection discriminator.

    The generator receives ``[z, onehot(y)]``, shape ``(N, latent_dim + classes)``. The discriminator
    is ``discriminator_body`` (``x -> (N, features)``; end it with a nonlinearity, e.g.
    ``nn.Sequential(ConvDiscriminator(out_features=64), nn.LeakyReLU(0.2))``) followed by a head the
    model owns (``self.head``): one hidden LeakyReLU(0.2) layer of ``features`` units on
    ``[phi(x), onehot(y)]`` and a linear output (``projection=False``), or
    ``psi(phi(x)) + <embed(y), phi(x)>`` with a linear ``psi`` (``projection=True``).

    Data are ``(x, y)`` minibatches (``fit(model, (x, y), ...)``) with integer labels ``y`` in
    ``[0, classes)``. Each step: (1) the ``"discriminator"`` player on real pairs ``(x, y)`` and on
    fakes ``(G(z, y), y)`` with the batch's labels (as in the authors' and most implementations, so
    fakes of each class meet reals of that class); (2) the ``"generator"`` player
    (``needs_data=False``: it receives the batch size) on labels drawn uniformly from the classes.

    Args:
        generator: maps ``(N, latent_dim + classes)`` to samples ``(N, ...)``.
        discriminator_body: maps samples ``(N, ...)`` to features ``(N, features)``.
        latent_dim: size of ``z ~ N(0, I)``.
        classes: number of labels ``K`` (10 for digits).
        features: the body's output size ``F``.
        projection: projection discriminator (Miyato and Koyama 2018) instead of concatenation.
        loss: one of :data:`igmlib.losses.GAN_LOSSES` (default ``"non_saturating"``; Miyato and
            Koyama use ``"hinge"``).
        lr, lr_discriminator, lr_generator: Adam learning rates (DCGAN: 2e-4; ``lr_<player>``:
            ``None`` means ``lr``).
        betas: Adam betas (DCGAN: (0.5, 0.999)).
        ema, decay_start: see :class:`~igmlib.models.LatentSampler`.

    Shapes:
        ``generate(z, labels)``: ``(N, latent_dim), (N,) -> (N, ...)``; ``discriminate(x, labels)``:
        ``(N, ...), (N,) -> (N, 1)`` logits; ``sample(n, labels=None)``: ``-> (n, ...)``.

    Raises:
        TypeError / ValueError: non-module networks, ``classes`` or ``features`` not a positive int,
            an unknown loss, bad learning rates; labels that are not integer ``(N,)`` tensors in
            ``[0, classes)``, or data that are not ``(x, y)`` batches.

    References:
        Mirza and Osindero, "Conditional Generative Adversarial Nets", arXiv:1411.1784, 2014, eq. (2).
        Miyato and Koyama, "cGANs with Projection Discriminator", ICLR 2018, eq. (3) and section 3.
        Radford et al., "DCGAN", ICLR 2016 (Adam 2e-4, beta1 0.5).
    """

    lr_discriminator = PlayerLR()
    lr_generator = PlayerLR()

    def __init__(self, generator: nn.Module, discriminator_body: nn.Module, latent_dim: int, classes: int,
                 features: int, *, projection: bool = False, loss: str = "non_saturating", lr: float = 2e-4,
                 lr_discriminator: float | None = None, lr_generator: float | None = None,
                 betas: tuple[float, float] = (0.5, 0.999), ema: float | None = None,
                 decay_start: float | None = None):
        super().__init__(generator, latent_dim, ema=ema, decay_start=decay_start)
        self.discriminator_body = check_module(discriminator_body, "discriminator_body")
        self.classes = check_positive_int(classes, "classes")
        self.features = check_positive_int(features, "features")
        self.projection = bool(projection)
        if self.projection:
            self.head = nn.Linear(self.features, 1)                     # psi
            self.embed = nn.Embedding(self.classes, self.features)      # y -> embed(y)
            nn.init.normal_(self.embed.weight, std=self.features ** -0.5)
        else:
            self.head = nn.Sequential(nn.Linear(self.features + self.classes, self.features), nn.LeakyReLU(0.2),
                                      nn.Linear(self.features, 1))
            self.embed = None
        self.loss = check_choice(loss, "loss", GAN_LOSSES)
        self.lr = check_positive(lr, "lr")
        self.lr_discriminator, self.lr_generator = lr_discriminator, lr_generator
        self.betas = check_betas(betas)

    # ---- labels ---------------------------------------------------------------------------------
    def check_labels(self, labels, n: int | None = None, name: str = "labels") -> torch.Tensor:
        """``labels`` as an int64 tensor on the model's device, after checking it.

        Raises:
            TypeError: not an integer tensor. ValueError: not 1-D, not ``n`` of them, or outside
            ``[0, classes)``.
        """
        if not isinstance(labels, torch.Tensor) or labels.is_floating_point() or labels.is_complex():
            got = labels.dtype if isinstance(labels, torch.Tensor) else type(labels).__name__
            raise TypeError(f"{name} must be an integer tensor of class indices, got {got}: "
                            "use torch.as_tensor(...).long()")
        if labels.dim() != 1 or (n is not None and len(labels) != n):
            want = "(N,)" if n is None else f"({n},), one label per sample"
            raise ValueError(f"{name} must have shape {want}, got {tuple(labels.shape)}: use {name}.reshape(-1)")
        if len(labels) and bool(((labels < 0) | (labels >= self.classes)).any()):
            raise ValueError(f"{name} must lie in [0, {self.classes}) (classes={self.classes}), got values in "
                             f"[{int(labels.min())}, {int(labels.max())}]")
        return labels.to(self._device_dtype()[0], torch.long)

    def random_labels(self, n: int) -> torch.Tensor:
        """``n`` labels drawn uniformly from ``[0, classes)``, int64 ``(n,)``."""
        return torch.randint(self.classes, (check_positive_int(n, "n"),), device=self._device_dtype()[0])

    def _one_hot(self, labels: torch.Tensor) -> torch.Tensor:
        return F.one_hot(labels, self.classes).to(self._device_dtype()[1])

    def _split(self, batch) -> tuple[torch.Tensor, torch.Tensor]:
        if not isinstance(batch, (tuple, list)) or len(batch) < 2:
            raise TypeError("ConditionalGAN trains on (x, y) batches of samples and integer labels: "
                            "fit(model, (x, y), ...), e.g. with igmlib.data.digits()")
        x, y = batch[0], batch[1]
        return x, self.check_labels(y, len(x), "y")

    # ---- generator and discriminator ------------------------------------------------------------
    def _generate(self, network: nn.Module, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return network(torch.cat([z, self._one_hot(labels)], dim=1))  # (N, latent_dim + classes)

    def generate(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """``G(z, y)`` with the trained generator, differentiably: ``(N, latent_dim), (N,) -> (N, ...)``."""
        check_tensor(z, "z", ndim=2, last_dim=self.latent_dim)
        return self._generate(self.generator, z, self.check_labels(labels, len(z)))

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Same as :meth:`generate`."""
        return self.generate(z, labels)

    def discriminate(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Logits ``D(x, y)``, ``(N, 1)``: ``psi(phi(x)) + <embed(y), phi(x)>`` with ``projection``,
        else ``head([phi(x), onehot(y)])`` (a hidden layer on the concatenation)."""
        phi = self.discriminator_body(x)
        if phi.dim() != 2 or phi.shape[1] != self.features:
            raise ValueError(f"discriminator_body must output (N, features) = (N, {self.features}), "
                             f"got {tuple(phi.shape)}: pass features= the body's output size")
        if self.projection:
            return self.head(phi) + (self.embed(labels) * phi).sum(1, keepdim=True)
        return self.head(torch.cat([phi, self._one_hot(labels)], dim=1))

    def rsample(self, n: int, labels: torch.Tensor | None = None) -> torch.Tensor:
        """``n`` samples of the trained generator, with gradients; labels uniform if not given."""
        labels = self.random_labels(n) if labels is None else self.check_labels(labels, n)
        return self._generate(self.generator, self.prior(n), labels)

    @torch.no_grad()
    def sample(self, n: int, labels: torch.Tensor | None = None, *, ema: bool | None = None) -> torch.Tensor:
        """``n`` samples ``(n, ...)`` without gradients, of the given labels ``(n,)`` or of labels
        drawn uniformly; the generator's average where the model keeps one (``ema=False``: the
        trained generator), see :class:`~igmlib.models.LatentSampler`."""
        labels = self.random_labels(n) if labels is None else self.check_labels(labels, n)
        return self._generate(self.sampling_generator(ema), self.prior(n), labels)

    # ---- players -----------------------------------------------------------------------------------
    def discriminator_loss(self, batch) -> dict[str, torch.Tensor]:
        # (1) D on real pairs (x, y) and fake pairs (G(z, y), y) with the batch's labels; G fixed.
        real, labels = self._split(batch)
        fake = self._generate(self.generator, self.prior(len(real)), labels).detach()
        real_logits, fake_logits = self.discriminate(real, labels), self.discriminate(fake, labels)
        return {"loss": losses.discriminator_loss(real_logits, fake_logits, self.loss),
                "D(x)": torch.sigmoid(real_logits).mean().detach(),
                "D(G(z))": torch.sigmoid(fake_logits).mean().detach()}

    def generator_loss(self, batch_size: int) -> torch.Tensor:
        # (2) G on uniformly drawn labels: the non-saturating (or chosen) loss on D(G(z, y), y).
        labels = self.random_labels(batch_size)
        fake = self._generate(self.generator, self.prior(batch_size), labels)
        return losses.generator_loss(self.discriminate(fake, labels), self.loss)

    def discriminator_modules(self) -> list[nn.Module]:
        """The discriminator's networks: the body, the head and (projection) the class embedding."""
        return [m for m in (self.discriminator_body, self.head, self.embed) if m is not None]

    def players(self) -> list[Player]:
        return self.with_options([
            Player("discriminator", self.discriminator_modules(), self.discriminator_loss,
                   adam(self.lr_discriminator, self.betas)),
            Player("generator", [self.generator], self.generator_loss, adam(self.lr_generator, self.betas),
                   needs_data=False),
        ])
