"""What every latent-variable model shares: a prior ``z ~ N(0, I)``, ``forward(z)`` and ``sample(n)``.

Two families, two words (the naming rule of :class:`igmlib.Player`):

- :class:`LatentSampler`: a ``generator`` maps ``z`` to a sample ``x = G(z)`` (GANs, moment matching).
- :class:`LikelihoodModel`: a ``decoder`` maps ``z`` to the parameters of ``p(x | z)`` (VAE, AVB,
  density networks); ``sample(n)`` draws ``x ~ p(x)``, observation noise included, and
  ``sample_mean(n)`` returns the means ``E[x | z]``.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence

import torch
from torch import distributions as D
from torch import nn

from .._validation import (check_batch, check_betas, check_choice, check_event_shape, check_module, check_positive,
                           check_positive_int, check_tensor)
from ..player import Player, linear_decay
from .ema import GeneratorEMA, check_decay


def adam(lr: float, betas: tuple[float, float] = (0.5, 0.999)):
    """An optimizer factory ``parameters -> torch.optim.Adam(parameters, lr, betas)``.

    Uses the fused implementation (one kernel for all parameters; on CPU since torch 2.4) where
    torch supports it for the parameters, else the ``foreach`` one: same algorithm, deterministic,
    results equal to the default for-loop Adam up to float rounding (measured on CPU: a 2-128-128
    MLP pair's update takes 86 us fused, 246 us foreach, 319 us for-loop).

    Raises:
        TypeError / ValueError: ``lr`` not a positive number, ``betas`` not a pair of numbers in [0, 1).
    """
    lr, betas = check_positive(lr, "lr"), check_betas(betas)

    def factory(params) -> torch.optim.Optimizer:
        params = list(params)
        try:
            return torch.optim.Adam(params, lr=lr, betas=betas, fused=True)
        except (RuntimeError, TypeError, ValueError):  # a device/dtype without a fused kernel, or old torch
            return torch.optim.Adam(params, lr=lr, betas=betas, foreach=True)

    return factory


class PlayerLR:
    """A model's ``lr_<player>`` attribute (the TTUR pattern: ``lr`` for every player, ``lr_<player>``
    for one; Heusel et al., "GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash
    Equilibrium", NeurIPS 2017).

    Declared on the class (``lr_critic = PlayerLR()``) and set in ``__init__``
    (``self.lr_critic = lr_critic``): reading it gives the value set, or, while it is ``None``, the
    model's current ``lr`` (so lowering ``model.lr`` lowers every player that has no rate of its
    own), or ``default`` where ``lr`` is ``None`` too.

    Raises:
        TypeError / ValueError: setting a value that is not a positive number or ``None``.
    """

    def __init__(self, default: float | None = None):
        self.default = default

    def __set_name__(self, owner, name: str) -> None:
        self.name, self.slot = name, f"_{name}_given"

    def __get__(self, model, owner=None):
        if model is None:
            return self
        value = model.__dict__.get(self.slot)
        if value is None:
            value = model.lr if model.lr is not None else self.default
        return value

    def __set__(self, model, value: float | None) -> None:
        model.__dict__[self.slot] = None if value is None else check_positive(value, self.name)


class LatentPrior(nn.Module):
    """The standard normal prior ``p(z) = N(0, I)`` of size ``latent_dim`` that latent-variable models share.

    Raises:
        ValueError: ``latent_dim`` <= 0 (``TypeError`` if not an int).
    """

    def __init__(self, latent_dim: int):
        super().__init__()
        self.latent_dim = check_positive_int(latent_dim, "latent_dim")

    def _device_dtype(self):
        p = next(self.parameters())
        return p.device, p.dtype

    def prior(self, n: int) -> torch.Tensor:
        """Draw ``z ~ N(0, I)``, shape ``(n, latent_dim)``, on the model's device and dtype."""
        check_positive_int(n, "n")
        device, dtype = self._device_dtype()
        return torch.randn(n, self.latent_dim, device=device, dtype=dtype)


class LatentSampler(LatentPrior):
    """Base class: a generator ``x = G(z)`` with a standard normal prior on ``z`` (``latent_dim``).

    Subclasses call ``super().__init__(generator, latent_dim, ema=ema, decay_start=decay_start)``,
    define ``players()`` and return them through :meth:`with_options`.

    Two training options every subclass takes (keyword arguments, off by default):

    - ``ema``: the decay (e.g. ``0.999``) of an exponential moving average of the generator's
      weights and buffers (:class:`igmlib.models.ema.GeneratorEMA`, on
      ``torch.optim.swa_utils.AveragedModel``), updated after each update of the player that
      trains the generator; kept as ``self.generator_ema`` (its network: ``generator_ema.module``),
      so checkpoints save and resume it. ``None`` (default): no average, ``generator_ema`` is ``None``.
    - ``decay_start``: every player's learning rate stays constant for this fraction of the run,
      then decays linearly to 0 at the last step (:func:`igmlib.linear_decay`); ``None`` (default):
      constant.

    The sampling rule (as ``torch.distributions``' ``sample`` vs ``rsample``):

    - :meth:`sample` ``(n)``: ``n`` samples without gradients from the weights meant to be scored:
      the average when ``ema`` is on, else the trained generator; ``sample(n, ema=False)`` always
      uses the trained generator. Every no-gradient method that makes samples for scores or
      figures follows this rule (it takes ``ema=`` too).
    - :meth:`rsample` ``(n)`` and ``forward(z)``: the trained generator ``self.generator``,
      differentiably: what the training losses use. The average never enters a loss.

    The average follows the model's mode: after :func:`igmlib.fit` the model is in train mode, in
    which a generator's BatchNorm layers use the batch's statistics (and update the running ones);
    ``model.eval()`` uses the averaged running statistics.

    Raises:
        TypeError / ValueError: a non-module generator, ``latent_dim`` <= 0, ``ema`` outside
            ``(0, 1)``, ``decay_start`` outside ``[0, 1)``.
    """

    def __init__(self, generator: nn.Module, latent_dim: int, *, ema: float | None = None,
                 decay_start: float | None = None):
        check_module(generator, "generator")
        super().__init__(latent_dim)
        self.generator = generator
        self.ema = None if ema is None else check_decay(ema)
        self.generator_ema = None if ema is None else GeneratorEMA(generator, self.ema)
        if decay_start is not None and check_positive(decay_start, "decay_start", allow_zero=True) >= 1:
            raise ValueError(f"decay_start must be a fraction of the run in [0, 1) or None, got {decay_start!r}")
        self.decay_start = None if decay_start is None else float(decay_start)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Map latents ``(N, latent_dim)`` to samples ``(N, ...)`` with the trained generator, differentiably."""
        check_tensor(z, "z", ndim=2, last_dim=self.latent_dim)
        return self.generator(z)

    def rsample(self, n: int) -> torch.Tensor:
        """``n`` samples of the trained generator with gradients flowing to it."""
        return self.generator(self.prior(n))

    def sampling_generator(self, ema: bool | None = None) -> nn.Module:
        """The network that :meth:`sample` uses: the average (``generator_ema.module``) when
        ``ema`` is ``None`` (default) or ``True`` and the model keeps one, the trained
        ``generator`` when ``ema`` is ``False`` or the model keeps none.

        Raises:
            ValueError: ``ema=True`` on a model built without ``ema``.
        """
        if ema is True and self.generator_ema is None:
            raise ValueError("this model keeps no average of its generator: build it with ema=0.999 (for example), "
                             "or sample with ema=None or False")
        return self.generator if ema is False or self.generator_ema is None else self.generator_ema.module

    @torch.no_grad()
    def sample(self, n: int, *, ema: bool | None = None) -> torch.Tensor:
        """``n`` samples ``(n, ...)`` without gradients, on the model's device: from the averaged
        generator when the model keeps one (``ema`` as in :meth:`sampling_generator`; ``False``:
        the trained generator)."""
        return self.sampling_generator(ema)(self.prior(n))

    def update_ema(self) -> None:
        """Average the generator's current weights into ``generator_ema`` (no-op without ``ema``)."""
        if self.generator_ema is not None:
            self.generator_ema.update_parameters(self.generator)

    def with_options(self, players: list[Player]) -> list[Player]:
        """``players`` with the options of this base class applied: ``decay_start``'s schedule on
        every player that has none, and the EMA update after each update of the player whose
        modules include ``self.generator`` (after its own ``after_update``). End ``players()`` with it.
        """
        schedule = None if self.decay_start is None else linear_decay(self.decay_start)
        out = []
        for player in players:
            changes = {}
            if schedule is not None and player.scheduler is None:
                changes["scheduler"] = schedule
            if self.generator_ema is not None and any(m is self.generator for m in player.modules):
                changes["after_update"] = _then(player.after_update, self.update_ema)
            out.append(dataclasses.replace(player, **changes) if changes else player)
        return out


def _then(first: Callable[[], None] | None, second: Callable[[], None]) -> Callable[[], None]:
    if first is None:
        return second

    def both() -> None:
        first()
        second()

    return both


class LikelihoodModel(LatentPrior):
    """Base class of the prescribed latent-variable models (VAE, AVB, DensityNetwork).

    ``z ~ N(0, I)`` and ``x ~ p(x | z)``, whose parameters the ``decoder`` network computes from ``z``;
    ``likelihood`` (a string) names the family of ``p(x | z)``. Data points have ``event_shape``
    (``D`` numbers each) and live in [-1, 1] like every igmlib data set; log-densities are in nats.

    The sampling rule, the same in every subclass (as in ``torch.distributions``):

    - :meth:`sample` ``(n)``: ``n`` draws from the model's ``p(x)``: ``z ~ p(z)``, then
      ``x ~ p(x | z)``, observation noise included; no gradients.
    - :meth:`rsample` ``(n)``: the same draws, reparameterised (gradients reach the decoder);
      Gaussian observation models only, others raise ``NotImplementedError``.
    - :meth:`sample_mean` ``(n)``: the conditional means ``E[x | z]`` for ``n`` prior draws
      ``z ~ p(z)`` (the "mean images"), no noise; no gradients.
    - :meth:`decode` ``(z)`` = ``forward(z)``: ``E[x | z]`` for given latents, differentiably.

    Subclasses set the decoder through ``super().__init__`` and define ``decoder_outputs(z)``
    (checked decoder outputs ``(N, P)``), ``_log_prob(out, x_flat)``, ``_mean(out)``,
    ``_sample(out)``, ``_rsample(out)``, ``_check_values(x_flat)`` and ``players()``.
    """

    def __init__(self, decoder: nn.Module, latent_dim: int, *, likelihood: str, likelihoods: Sequence[str],
                 event_shape: Sequence[int] | None, event_shape_optional: bool = False):
        """Raises ``TypeError`` / ``ValueError`` for a non-module decoder, a bad ``latent_dim``, an
        unknown ``likelihood`` (the message lists ``likelihoods``) or a bad ``event_shape``."""
        check_module(decoder, "decoder")
        super().__init__(latent_dim)
        self.decoder = decoder
        self.likelihood = check_choice(likelihood, "likelihood", likelihoods)
        self.event_shape = check_event_shape(event_shape, optional=event_shape_optional)
        self.data_dim = None if self.event_shape is None else math.prod(self.event_shape)

    # ---- data ---------------------------------------------------------------------------------
    def _check_x(self, x: torch.Tensor) -> torch.Tensor:
        """Check a data batch (shape, dtype, values for the likelihood) and return its flat ``(N, D)`` view."""
        flat = check_batch(x, self.event_shape, "x")
        self._check_values(flat)
        return flat

    def _check_values(self, x_flat: torch.Tensor) -> None:
        """Raise ``ValueError`` if the data's values do not fit the likelihood (default: no check)."""

    def _shape(self, flat: torch.Tensor, like: torch.Tensor | None = None) -> torch.Tensor:
        """Flat ``(N, D)`` values reshaped like ``like``, else to ``(N, *event_shape)`` if known."""
        if like is not None:
            return flat.reshape(like.shape)
        if self.event_shape is not None:
            return flat.reshape(len(flat), *self.event_shape)
        return flat

    # ---- p(x | z) -------------------------------------------------------------------------------
    def log_px_given_z(self, x_flat: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """``log p(x | z)`` in nats for flat data ``(N, D)`` and latents ``(..., N, k)``: shape ``(..., N)``.

        Data are not checked here (the public methods check them once per call).
        """
        lead = z.shape[:-1]
        out = self.decoder_outputs(z.reshape(-1, self.latent_dim))
        return self._log_prob(out.reshape(*lead, out.shape[-1]), x_flat)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """``E[x | z]`` in data units ([-1, 1] pixels for the Bernoulli likelihood), differentiably.

        Shapes: ``(N, latent_dim) -> (N, *event_shape)`` (``(N, D)`` without an ``event_shape``).
        """
        return self._shape(self._mean(self.decoder_outputs(z)))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """The decoder as a generator of means: ``E[x | z]`` (see :meth:`decode`)."""
        return self.decode(z)

    @torch.no_grad()
    def sample(self, n: int) -> torch.Tensor:
        """``n`` draws ``x ~ p(x)`` (``z ~ p(z)``, ``x ~ p(x | z)``, noise included), ``(n, *event_shape)``,
        without gradients. Bernoulli likelihood: binary pixels in {-1, 1}."""
        return self._shape(self._sample(self.decoder_outputs(self.prior(n))))

    def rsample(self, n: int) -> torch.Tensor:
        """``n`` reparameterised draws ``x ~ p(x)``, ``(n, *event_shape)``, with gradients.

        Raises:
            NotImplementedError: a discrete or mixture likelihood (no reparameterisation): use
                :meth:`sample` (draws, no gradients) or :meth:`decode` of :meth:`prior` (means, with gradients).
        """
        return self._shape(self._rsample(self.decoder_outputs(self.prior(n))))

    @torch.no_grad()
    def sample_mean(self, n: int) -> torch.Tensor:
        """``n`` conditional means ``E[x | z]``, ``z ~ p(z)``: the noise-free "mean images",
        ``(n, *event_shape)`` in data units, without gradients."""
        return self.decode(self.prior(n))

    # ---- importance sampling ---------------------------------------------------------------------
    def _importance_log_likelihood(self, x_flat: torch.Tensor, proposal: D.Distribution, samples: int,
                                   max_elements: int) -> torch.Tensor:
        """Importance-sampled ``log p(x)`` in nats, ``(N,)``, with a proposal ``r(z | x)``::

            log p(x) ~ logsumexp_k [log p(x | z_k) + log p(z_k) - log r(z_k | x)] - log K,  z_k ~ r(z | x).

        ``x_flat``: checked flat data ``(N, D)``; ``proposal``: batch shape ``(N,)``, event shape
        ``(latent_dim,)`` (reparameterised draws where it has them, so gradients reach its
        parameters); ``K = samples``. Draws are taken in blocks of at most about ``max_elements``
        decoder outputs. The average inside the log is unbiased for ``p(x)``: a stochastic lower
        bound on ``log p(x)`` that tightens as ``K`` grows (Burda et al. 2016, eq. (8), Theorem 1).
        """
        k = check_positive_int(samples, "samples")
        n, d = x_flat.shape
        block = max(1, min(k, check_positive_int(max_elements, "max_elements") // max(1, n * d)))
        draw = proposal.rsample if proposal.has_rsample else proposal.sample
        parts = []
        for start in range(0, k, block):
            z = draw((min(block, k - start),))  # (b, N, k)
            log_prior = (-0.5 * z**2 - 0.5 * math.log(2 * math.pi)).sum(-1)  # (b, N)
            log_w = self.log_px_given_z(x_flat, z) + log_prior - proposal.log_prob(z)  # (b, N)
            parts.append(torch.logsumexp(log_w, dim=0))
        return torch.logsumexp(torch.stack(parts), dim=0) - math.log(k)
