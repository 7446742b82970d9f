"""InfoGAN (Chen et al. 2016): a GAN whose generator input carries codes that an auxiliary head Q
must read back from the samples, which makes the codes' effect on the samples visible.

The generator sees ``(z, c, u)``: noise ``z ~ N(0, I)``, a categorical code ``c`` (one-hot,
uniform over ``categorical`` values) and ``continuous`` codes ``u ~ U(-1, 1)``. Q shares the
discriminator's body and predicts ``c`` (softmax logits) and ``u`` (a Gaussian mean, fixed or learned
standard deviation). Both the generator and Q maximise the Barber-Agakov lower bound on the mutual
information ``I(c, u; G(z, c, u))``.
"""
from __future__ import annotations

import contextlib
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from .._validation import check_betas, check_choice, check_module, check_positive, check_positive_int, check_tensor
from .. import losses
from ..divergences.information import gaussian_information_bound, mutual_information_bound
from ..losses import GAN_LOSSES
from ..nets import MLP
from ..player import Player
from ..runtime import fork_rng
from .base import LatentSampler, PlayerLR, adam

CONTINUOUS_STD = ("fixed", "learned")


class Codes(NamedTuple):
    """Codes of a batch: ``index`` ``(N,)`` int64, ``one_hot`` ``(N, K)``, ``continuous`` ``(N, L)`` in [-1, 1]."""

    index: torch.Tensor
    one_hot: torch.Tensor
    continuous: torch.Tensor


class InformationBound(NamedTuple):
    """Monte Carlo estimates (nats) of the mutual-information lower bound for each kind of code."""

    categorical: float
    continuous: float


class _ScaleGrad(torch.autograd.Function):
    """Identity forward; the backward pass multiplies the gradient by ``scale``."""

    @staticmethod
    def forward(ctx, x, scale):
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.scale, None


class InfoGAN(LatentSampler):
    """A GAN with codes ``(c, u)`` in the generator's input and a Q head that reads them back.

    Each step: (1) the discriminator (shared body + D head) is updated on real and generated images;
    with ``info_trains_body`` its loss also contains ``-info_weight`` times the bound on those
    generated images, so the body learns features Q can use (as in the authors' code). (2) The
    generator and the Q head are updated together on ``L_GAN(G) - info_weight * L_I``: Q always
    maximises the bound ``L_I`` at full strength, the generator receives ``info_weight`` times its
    gradient. ``info_weight=0`` is therefore a plain GAN that sees the same codes, with Q as a probe of
    how much of the codes its samples carry.

    ``L_I = I_cat + continuous_weight * I_cont`` (both lower bounds, nats): see
    :func:`igmlib.divergences.mutual_information_bound` and
    :func:`igmlib.divergences.gaussian_information_bound`.

    Args:
        generator: maps ``(N, latent_dim + categorical + continuous)`` to images, e.g.
            ``igmlib.nets.ConvGenerator(latent_dim + 12)``.
        discriminator_body: maps images to ``(N, feature_dim)`` features, e.g.
            ``igmlib.nets.ConvDiscriminator(out_features=128)``; a LeakyReLU(0.2) follows it.
        latent_dim: size of the noise ``z ~ N(0, I)`` (62 in the paper's MNIST model).
        categorical: number of values ``K`` of the categorical code (0 for none; else >= 2).
        continuous: number ``L`` of continuous codes ``U(-1, 1)`` (may be 0).
        info_weight: ``lambda``, the weight of the bound in the generator's (and D's) loss (paper: 1).
        continuous_weight: extra weight of the continuous part of the bound.
        continuous_std: ``"fixed"`` (std 1, as the paper's MNIST model) or ``"learned"`` by Q.
        feature_dim: size of the body's output; read from ``discriminator_body`` when it is a
            :class:`~igmlib.nets.ConvDiscriminator` (its head) or has ``out_features``.
        q_hidden: width of Q's hidden layer (paper: 128).
        loss: adversarial loss kind, one of :data:`igmlib.losses.GAN_LOSSES` (``"hinge"`` too).
        lr: Adam learning rate of both players, where given (``None``: each player's default below).
        lr_discriminator: Adam learning rate of the discriminator (``None``: ``lr``, else the
            paper's 2e-4).
        lr_generator: Adam learning rate of the generator and Q (``None``: ``lr``, else the
            paper's 1e-3).
        betas: Adam betas (paper: beta1 = 0.5).
        info_trains_body: also train the shared body on the bound during D's update.
        ema: decay of the generator's weight average (e.g. 0.999; ``None``: off) that the
            no-gradient methods use (:meth:`sample`, :meth:`traverse`,
            :meth:`mutual_information_bound`; ``ema=False`` there: the trained generator);
            :meth:`generate` and :meth:`rsample` use the trained one. See
            :class:`~igmlib.models.LatentSampler`.
        decay_start: fraction of the run after which the learning rates decay linearly to 0
            (``None``: constant).

    Raises:
        TypeError / ValueError: modules that are not ``nn.Module``, bad sizes or weights, a
            generator whose declared input size does not match, unknown names, ``ema`` outside
            (0, 1), ``decay_start`` outside [0, 1).

    References:
        Chen et al., "InfoGAN: Interpretable Representation Learning by Information Maximizing
        Generative Adversarial Nets", NeurIPS 2016, eqs. (1)-(6), section 6 and appendix C.1.
        Barber and Agakov, NeurIPS 2003 (the variational bound).
    """

    # lr_<player>: the value given, else lr (else the paper's rate); see PlayerLR
    lr_discriminator = PlayerLR(2e-4)
    lr_generator = PlayerLR(1e-3)

    def __init__(
        self,
        generator: nn.Module,
        discriminator_body: nn.Module,
        latent_dim: int,
        categorical: int = 10,
        continuous: int = 2,
        info_weight: float = 1.0,
        *,
        continuous_weight: float = 1.0,
        continuous_std: str = "fixed",
        feature_dim: int | None = None,
        q_hidden: int = 128,
        loss: str = "non_saturating",
        lr: float | None = None,
        lr_discriminator: float | None = None,
        lr_generator: float | None = None,
        betas: tuple[float, float] = (0.5, 0.999),
        info_trains_body: bool = True,
        ema: float | None = None,
        decay_start: float | None = None,
    ):
        super().__init__(generator, latent_dim, ema=ema, decay_start=decay_start)
        check_module(discriminator_body, "discriminator_body")
        self.categorical = check_positive_int(categorical, "categorical", allow_zero=True)
        self.continuous = check_positive_int(continuous, "continuous", allow_zero=True)
        if self.categorical == 1:
            raise ValueError("categorical must be 0 (no categorical code) or >= 2, got 1")
        if self.categorical == 0 and self.continuous == 0:
            raise ValueError("InfoGAN needs at least one code: set categorical >= 2 or continuous >= 1")
        self.info_weight = check_positive(info_weight, "info_weight", allow_zero=True)
        self.continuous_weight = check_positive(continuous_weight, "continuous_weight", allow_zero=True)
        self.continuous_std = check_choice(continuous_std, "continuous_std", CONTINUOUS_STD)
        self.loss = check_choice(loss, "loss", GAN_LOSSES)
        self.lr = None if lr is None else check_positive(lr, "lr")
        self.lr_discriminator, self.lr_generator = lr_discriminator, lr_generator
        self.betas = check_betas(betas)
        self.info_trains_body = bool(info_trains_body)
        declared = getattr(generator, "latent_dim", getattr(generator, "in_features", None))
        if isinstance(declared, int) and declared != self.input_dim:
            raise ValueError(
                f"the generator takes {declared} inputs but InfoGAN feeds it latent_dim + categorical + continuous "
                f"= {latent_dim} + {categorical} + {continuous} = {self.input_dim}: build it with that input size"
            )
        if feature_dim is None:
            head = getattr(discriminator_body, "head", None)
            feature_dim = getattr(discriminator_body, "out_features", getattr(head, "out_features", None))
            if feature_dim is None:
                raise ValueError("cannot read the body's output size: pass feature_dim=")
        feature_dim = check_positive_int(feature_dim, "feature_dim")
        self.body = nn.Sequential(discriminator_body, nn.LeakyReLU(0.2))  # shared by D and Q
        self.d_head = nn.Linear(feature_dim, 1)
        q_out = self.categorical + self.continuous * (2 if self.continuous_std == "learned" else 1)
        self.q_head = MLP(feature_dim, q_out, hidden=(check_positive_int(q_hidden, "q_hidden"),), activation="leaky_relu")

    @property
    def input_dim(self) -> int:
        """Size of the generator's input: ``latent_dim + categorical + continuous``."""
        return self.latent_dim + self.categorical + self.continuous

    # ------------------------------------------------------------ codes and generation

    def sample_codes(self, n: int) -> Codes:
        """Draw ``n`` codes: uniform categorical indices and one-hot rows, continuous codes ``U(-1, 1)``."""
        check_positive_int(n, "n")
        device, dtype = self._device_dtype()
        index = torch.randint(max(self.categorical, 1), (n,), device=device)
        one_hot = F.one_hot(index, self.categorical).to(dtype) if self.categorical else torch.zeros(n, 0, device=device, dtype=dtype)
        if not self.categorical:
            index = torch.zeros(n, dtype=torch.long, device=device)
        continuous = 2 * torch.rand(n, self.continuous, device=device, dtype=dtype) - 1
        return Codes(index, one_hot, continuous)

    def _one_hot(self, c, n: int) -> torch.Tensor:
        device, dtype = self._device_dtype()
        if not self.categorical:
            return torch.zeros(n, 0, device=device, dtype=dtype)
        c = torch.as_tensor(c, device=device)
        if c.dim() == 0:
            c = c.expand(n)
        if c.dim() == 1 and not c.is_floating_point():
            if c.shape[0] != n or c.min() < 0 or c.max() >= self.categorical:
                raise ValueError(f"c must hold {n} indices in 0..{self.categorical - 1}, got shape {tuple(c.shape)}")
            return F.one_hot(c, self.categorical).to(dtype)
        if c.shape != (n, self.categorical):
            raise ValueError(f"c must be indices (N,) or one-hot (N, {self.categorical}) with N = {n}, got {tuple(c.shape)}")
        return c.to(dtype)

    def generate(self, z: torch.Tensor, c=None, continuous=None, *, ema: bool | None = False) -> torch.Tensor:
        """Images from noise ``z`` ``(N, latent_dim)``, categorical codes ``c`` (an index, indices
        ``(N,)`` or one-hot ``(N, K)``) and continuous codes ``(N, L)`` (or one ``(L,)`` row for all);
        missing codes are drawn from their priors. Differentiable in ``z`` and the generator.

        ``ema=False`` (default): the trained generator, as the losses need; ``None`` or ``True``:
        the averaged one (see :meth:`~igmlib.models.LatentSampler.sampling_generator`)."""
        z = check_tensor(z, "z", ndim=2, last_dim=self.latent_dim)
        n = len(z)
        drawn = self.sample_codes(n) if c is None or continuous is None else None
        one_hot = drawn.one_hot if c is None else self._one_hot(c, n)
        if continuous is None:
            continuous = drawn.continuous
        continuous = torch.as_tensor(continuous, device=z.device, dtype=z.dtype)
        if continuous.dim() == 1:
            continuous = continuous.expand(n, -1)
        if continuous.shape != (n, self.continuous):
            raise ValueError(f"continuous must have shape (N, {self.continuous}) or ({self.continuous},), got {tuple(continuous.shape)}")
        return self.sampling_generator(ema)(torch.cat([z, one_hot, continuous], dim=1))  # (N, latent_dim + K + L)

    def forward(self, z: torch.Tensor, c=None, continuous=None) -> torch.Tensor:
        """Same as :meth:`generate`."""
        return self.generate(z, c, continuous)

    def rsample(self, n: int) -> torch.Tensor:
        """``n`` samples with codes drawn from their priors, differentiable in the trained generator."""
        codes = self.sample_codes(n)
        return self.generate(self.prior(n), codes.one_hot, codes.continuous)

    @torch.no_grad()
    def sample(self, n: int, *, ema: bool | None = None) -> torch.Tensor:
        """``n`` images without gradients, codes drawn from their priors, from the averaged generator
        when the model keeps one (``ema=False``: the trained generator)."""
        codes = self.sample_codes(n)
        return self.generate(self.prior(n), codes.one_hot, codes.continuous, ema=ema)

    # ------------------------------------------------------------ the Q head

    def q_outputs(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Q's outputs on images: categorical logits ``(N, K)``, continuous means ``(N, L)`` and log
        standard deviations (``(N, L)``, zeros when fixed)."""
        return self._q(self.body(images))

    def _q(self, features: torch.Tensor):
        out = self.q_head(features)
        k, l = self.categorical, self.continuous
        logits, mean = out[:, :k], out[:, k:k + l]
        log_std = out[:, k + l:].clamp(-4.0, 2.0) if self.continuous_std == "learned" else torch.zeros_like(mean)
        return logits, mean, log_std

    def _bounds(self, features: torch.Tensor, codes: Codes) -> tuple[torch.Tensor, torch.Tensor]:
        logits, mean, log_std = self._q(features)
        zero = features.new_zeros(())
        cat = mutual_information_bound(logits, codes.index) if self.categorical else zero
        cont = gaussian_information_bound(mean, codes.continuous, log_std) if self.continuous else zero
        return cat, cont

    @torch.no_grad()
    def predict_code(self, images: torch.Tensor, *, batch_size: int = 1024) -> torch.Tensor:
        """Q's most probable categorical code for each image, ``(N,)`` int64 (an unsupervised
        classifier: compare with labels through :func:`igmlib.metrics.cluster_accuracy`)."""
        if not self.categorical:
            raise ValueError("this InfoGAN has no categorical code (categorical=0)")
        check_tensor(images, "images", ndim=4)
        device = self._device_dtype()[0]
        return torch.cat([self.q_outputs(x.to(device))[0].argmax(1) for x in images.split(batch_size)])

    @torch.no_grad()
    def mutual_information_bound(self, n: int = 1000, *, seed: int | None = None,
                                 ema: bool | None = None) -> InformationBound:
        """Monte Carlo estimate of the bound on ``n`` fresh samples, in nats.

        ``categorical`` is at most ``ln K``; ``continuous`` is the sum over the continuous codes.
        With ``seed`` the draw uses a forked random state (the global stream is untouched). The
        samples come from the averaged generator when the model keeps one (``ema=False``: the
        trained generator, the one Q was trained on).
        """
        check_positive_int(n, "n")
        with fork_rng(seed) if seed is not None else contextlib.nullcontext():
            codes = self.sample_codes(n)
            images = self.generate(self.prior(n), codes.one_hot, codes.continuous, ema=ema)
            cat, cont = self._bounds(self.body(images), codes)
        return InformationBound(float(cat), float(cont))

    # ------------------------------------------------------------ the players

    def discriminator_loss(self, real: torch.Tensor) -> dict[str, torch.Tensor]:
        # (1) Update D (body + D head): maximise log D(x) + log(1 - D(G(z, c, u))); G is fixed.
        codes = self.sample_codes(len(real))
        with torch.no_grad():
            fake = self.generate(self.prior(len(real)), codes.one_hot, codes.continuous)
        real_logits = self.d_head(self.body(real))
        fake_features = self.body(fake)
        loss = losses.discriminator_loss(real_logits, self.d_head(fake_features), self.loss)
        if self.info_trains_body and self.info_weight > 0:
            cat, cont = self._bounds(fake_features, codes)
            loss = loss - self.info_weight * (cat + self.continuous_weight * cont)
        return {"loss": loss, "D(x)": torch.sigmoid(real_logits).mean().detach()}

    def generator_loss(self, batch_size: int) -> dict[str, torch.Tensor]:
        # (2) Update G and Q: minimise L_GAN(G) - lambda L_I(G, Q). Q gets the full gradient of -L_I,
        # G gets lambda times it (a gradient scale between G's features and Q).
        codes = self.sample_codes(batch_size)
        features = self.body(self.generate(self.prior(batch_size), codes.one_hot, codes.continuous))
        gan = losses.generator_loss(self.d_head(features), self.loss)
        cat, cont = self._bounds(_ScaleGrad.apply(features, self.info_weight), codes)
        return {"loss": gan - (cat + self.continuous_weight * cont), "generator_gan": gan.detach(),
                "mi_categorical": cat.detach(), "mi_continuous": cont.detach()}

    def players(self) -> list[Player]:
        return self.with_options([
            Player("discriminator", [self.body, self.d_head], self.discriminator_loss,
                   adam(self.lr_discriminator, self.betas)),
            Player("generator", [self.generator, self.q_head], self.generator_loss,
                   adam(self.lr_generator, self.betas), needs_data=False),
        ])

    # ------------------------------------------------------------ code traversals for figures

    @torch.no_grad()
    def traverse(self, continuous_index: int | None = None, *, steps: int = 8, span: tuple[float, float] = (-2.0, 2.0),
                 seed: int = 0, ema: bool | None = None) -> torch.Tensor:
        """Images for a figure: one row per categorical value, columns varying one code.

        With ``continuous_index=None`` the columns are ``steps`` noise draws (continuous codes 0);
        otherwise every row uses the same noise and the columns sweep continuous code
        ``continuous_index`` over ``span`` (the paper sweeps -2..2, beyond the training range).
        Noise is drawn from a forked random state seeded with ``seed``. The images come from the
        averaged generator when the model keeps one (``ema=False``: the trained generator).

        Returns:
            ``(rows * steps, C, H, W)`` images, row-major, ready for ``igmlib.plot.image_grid(..., nrow=steps)``.
        """
        check_positive_int(steps, "steps")
        device, dtype = self._device_dtype()
        rows = max(self.categorical, 1)
        with fork_rng(seed):
            if continuous_index is None:
                z = self.prior(steps).repeat(rows, 1)  # row r, column j -> noise j
            else:
                z = self.prior(1).expand(rows * steps, -1)
        c = torch.arange(rows, device=device).repeat_interleave(steps)
        u = torch.zeros(rows * steps, self.continuous, device=device, dtype=dtype)
        if continuous_index is not None:
            if not 0 <= continuous_index < self.continuous:
                raise ValueError(f"continuous_index must be in 0..{self.continuous - 1}, got {continuous_index}")
            u[:, continuous_index] = torch.linspace(span[0], span[1], steps, device=device, dtype=dtype).repeat(rows)
        return self.generate(z, c if self.categorical else None, u, ema=ema)
