"""Adversarial Variational Bayes (Mescheder, Nowozin, Geiger 2017).

A VAE whose encoder is any neural sampler ``z = E(x, eps)``, ``eps ~ N(0, I)``: an *implicit*
posterior ``q(z | x)`` that can be sampled but has no density. The KL term of the ELBO needs
``log q(z | x) - log p(z)``; AVB learns it with an adversary ``T(x, z)`` trained by logistic
regression to tell posterior pairs ``(x, z ~ q(z | x))`` (label 1) from prior pairs
``(x, z ~ p(z))`` (label 0). Its optimum is the log density ratio (Mescheder et al. 2017, Prop. 1)::

    T*(x, z) = log q(z | x) - log p(z),

so ``ELBO(x) = E_q[log p(x | z) - T*(x, z)]``, and the encoder and decoder maximise that estimate.
Decoders, data conventions (data in [-1, 1]) and the sampling rule (``sample`` draws ``x ~ p(x)``,
``sample_mean`` returns the means ``E[x | z]``) are those of :class:`igmlib.models.VAE`.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import distributions as D
from torch import nn

from .._validation import check_betas, check_module, check_positive, check_positive_int, check_tensor, shape_str
from .. import losses
from ..player import Player
from .base import adam
from .vae import _VariationalModel


class GaussianSampler(nn.Module):
    """A Gaussian encoder ``x -> (mean, log_var)`` written as an AVB neural sampler.

    Input ``(N, D + k)``: a flat data batch with ``k = latent_dim`` noise columns appended (what
    :class:`AVB` feeds its encoder); output ``mean(x) + exp(log_var(x) / 2) * eps``, shape ``(N, k)``.
    With it AVB runs on a posterior whose density is known (e.g. a trained VAE's encoder), which is
    how the adversary's optimum can be checked against the exact log ratio.

    Args:
        encoder: maps data to ``(N, 2 * latent_dim)`` (mean, then log-variance), e.g. ``VAE.encoder``.
        latent_dim: ``k``.
        event_shape: the shape the encoder expects for one data point, e.g. ``(1, 8, 8)``;
            ``None`` passes the flat ``(N, D)`` batch.

    Raises:
        TypeError / ValueError: a non-module encoder, a non-positive ``latent_dim``.
    """

    def __init__(self, encoder: nn.Module, latent_dim: int, event_shape: Sequence[int] | None = None):
        super().__init__()
        check_module(encoder, "encoder")
        self.encoder = encoder
        self.latent_dim = check_positive_int(latent_dim, "latent_dim")
        self.event_shape = None if event_shape is None else tuple(event_shape)

    def gaussian(self, x_flat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance ``(N, k)`` each, for a flat batch ``(N, D)``."""
        x = x_flat if self.event_shape is None else x_flat.reshape(len(x_flat), *self.event_shape)
        out = self.encoder(x)
        return out[:, : self.latent_dim], out[:, self.latent_dim:]

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        k = self.latent_dim
        mean, log_var = self.gaussian(inputs[:, :-k])
        return mean + (0.5 * log_var).exp() * inputs[:, -k:]


class AVB(_VariationalModel):
    """Adversarial Variational Bayes: an implicit-posterior VAE with an adversary ``T(x, z)``.

    Algorithm 1 of the paper takes, on one minibatch, a gradient step for the decoder ``theta`` on
    ``E_q[log p(x | z)]``, for the encoder ``phi`` on ``E_q[log p(x | z) - T(x, z)]`` and for the
    adversary ``psi`` on the logistic loss. ``T`` does not depend on ``theta``, so the decoder's and
    the encoder's objectives have the same gradients as the single objective
    ``E_q[log p(x | z) - T(x, z)]``: the two updates are one player here, as in the authors' code
    (one "primal" optimizer over encoder and decoder). Players, in order each step:

    1. ``"adversary"`` (``adversary_updates`` updates): minimise
       ``E[softplus(-T(x, z_q))] + E[softplus(T(x, z_p))]``, ``z_q = E(x, eps)`` (detached), ``z_p ~ N(0, I)``.
    2. ``"model"`` (encoder, decoder, learned scale): minimise ``E_q[-log p(x | z) + T(x, z)]``, the
       negative ELBO estimate; gradients reach the encoder through ``z`` inside ``T`` (whose own
       parameters the loop keeps fixed).

    Freeze encoder and decoder (``requires_grad_(False)``) to train the adversary alone: the model
    player is then left out. The paper's adaptive contrast is not implemented.

    Sampling as :class:`igmlib.models.VAE`: :meth:`sample` draws ``x ~ p(x)`` (observation noise
    included; Bernoulli: binary pixels in {-1, 1}), :meth:`sample_mean` returns the decoded means
    ``E[x | z]``, ``z ~ p(z)`` (the mean images), :meth:`decode` the means of given latents,
    differentiably. ``likelihood`` is the name of ``p(x | z)``; ``observation`` the module.

    Args:
        encoder: neural sampler ``(N, D + noise_dim) -> (N, latent_dim)``: it receives the flat data
            batch with ``noise_dim`` standard normal columns appended (``eps`` concatenated to ``x``).
        decoder: ``(N, latent_dim) -> (N, D)`` logits (Bernoulli) or means (Gaussian).
        adversary: ``(N, D + latent_dim) -> (N, 1)``: ``T`` on the flat data with ``z`` appended.
        latent_dim: size of ``z``.
        noise_dim: size of ``eps`` (default ``latent_dim``; the authors' toy used 64).
        likelihood, scale, min_scale, event_shape: as :class:`igmlib.models.VAE`.
        lr: Adam learning rate of the model player (encoder and decoder).
        lr_adversary: Adam learning rate of the adversary.
        betas: Adam betas of both.
        adversary_updates: adversary updates per step (the authors' toy: 2).

    Shapes:
        ``encode``: ``(N, ...) -> (N, k)``; ``adversary_logits``: ``(N, ...), (N, k) -> (N,)``;
        ``elbo_estimate`` and ``log_likelihood``: ``(N, ...) -> (N,)`` in nats; ``sample``,
        ``sample_mean``: ``n -> (n, *event_shape)``.

    Raises:
        TypeError / ValueError: non-module networks, unknown likelihood, bad sizes or shapes.

    References:
        Mescheder, Nowozin, Geiger, "Adversarial Variational Bayes: Unifying Variational
        Autoencoders and Generative Adversarial Networks", ICML 2017: the adversary's objective,
        Proposition 1 (its optimum), Algorithm 1; the authors' code
        (github.com/LMescheder/AdversarialVariationalBayes, notebooks/AVB_toy_example.ipynb).
    """

    def __init__(
        self,
        encoder: nn.Module,
        decoder: nn.Module,
        adversary: nn.Module,
        latent_dim: int,
        *,
        noise_dim: int | None = None,
        likelihood: str = "bernoulli",
        scale: float | None = None,
        min_scale: float = 1e-3,
        event_shape: Sequence[int] | None = None,
        lr: float = 1e-3,
        lr_adversary: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        adversary_updates: int = 1,
    ):
        super().__init__(decoder, latent_dim, likelihood=likelihood, scale=scale, min_scale=min_scale,
                         event_shape=event_shape)
        for name, net in (("encoder", encoder), ("adversary", adversary)):
            check_module(net, name)
        self.encoder = encoder
        self.adversary = adversary
        self.noise_dim = check_positive_int(latent_dim if noise_dim is None else noise_dim, "noise_dim")
        self.lr = check_positive(lr, "lr")
        self.lr_adversary = check_positive(lr_adversary, "lr_adversary")
        self.betas = check_betas(betas)
        self.adversary_updates = check_positive_int(adversary_updates, "adversary_updates")

    # ---- the implicit posterior and the adversary ---------------------------------------------------
    def _encode_flat(self, flat: torch.Tensor, samples: int | None) -> torch.Tensor:
        n = len(flat)
        s = 1 if samples is None else check_positive_int(samples, "samples")
        eps = torch.randn(s * n, self.noise_dim, device=flat.device, dtype=flat.dtype)
        z = self.encoder(torch.cat([flat.repeat(s, 1), eps], dim=1))
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"the encoder must output (N, latent_dim) = (N, {self.latent_dim}), got {shape_str(z.shape)}")
        return z if samples is None else z.reshape(s, n, self.latent_dim)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """One posterior sample ``z = E(x, eps)`` per data point, ``(N, latent_dim)``, differentiably."""
        return self._encode_flat(self._check_x(x), None)

    def posterior_sample(self, x: torch.Tensor, samples: int | None = None) -> torch.Tensor:
        """``z ~ q(z | x)``: ``(N, k)``, or ``(samples, N, k)`` with fresh noise per sample."""
        return self._encode_flat(self._check_x(x), samples)

    def _adversary_flat(self, flat: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        lead = z.shape[:-1]
        xs = flat.expand(*lead, flat.shape[-1]) if z.dim() > 2 else flat
        t = self.adversary(torch.cat([xs.reshape(-1, flat.shape[-1]), z.reshape(-1, self.latent_dim)], dim=1))
        if t.numel() != math.prod(lead):
            raise ValueError(f"the adversary must output one logit per pair, (N, 1); got {shape_str(t.shape)}")
        return t.reshape(lead)

    def adversary_logits(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """``T(x, z)``, shape ``(N,)``: at the optimum, ``log q(z | x) - log p(z)`` in nats."""
        flat = self._check_x(x)
        check_tensor(z, "z", ndim=2, last_dim=self.latent_dim)
        if len(z) != len(flat):
            raise ValueError(f"x and z must have the same number of rows, got {len(flat)} and {len(z)}")
        return self._adversary_flat(flat, z)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """``E[x | z]`` for one posterior sample ``z ~ q(z | x)``, shaped like ``x``; no gradients."""
        return self._shape(self._mean(self.decoder_outputs(self.encode(x))), like=x)

    # ---- bounds and estimates -----------------------------------------------------------------------
    def elbo_estimate(self, x: torch.Tensor, samples: int = 1) -> torch.Tensor:
        """The ELBO as AVB estimates it, ``E_q[log p(x | z) - T(x, z)]``, per data point ``(N,)``, nats.

        Equal to the ELBO only where ``T`` is the optimal adversary; a bound on ``log p(x)`` only
        then. Averaged over ``samples`` posterior draws.

        References:
            Mescheder et al. (2017), section 3 (the ELBO with the optimal adversary).
        """
        flat = self._check_x(x)
        z = self._encode_flat(flat, check_positive_int(samples, "samples"))  # (S, N, k)
        return (self.log_px_given_z(flat, z) - self._adversary_flat(flat, z)).mean(0)

    def log_likelihood(
        self,
        x: torch.Tensor,
        samples: int = 100,
        *,
        fit_samples: int = 256,
        inflation: float = 1.0,
        jitter: float = 1e-4,
        max_elements: int = 2**22,
    ) -> torch.Tensor:
        """Importance-sampled ``log p(x)`` of the decoder, per data point ``(N,)`` in nats.

        The implicit ``q(z | x)`` has no density, so it cannot be the proposal. Instead, for each
        ``x``: draw ``fit_samples`` encoder samples, fit a full-covariance Gaussian
        ``r(z | x) = N(m, inflation^2 C + jitter I)`` to them (sample mean ``m`` and covariance ``C``),
        and average ``p(x | z_k) p(z_k) / r(z_k | x)`` over ``K = samples`` draws ``z_k ~ r``::

            log p(x) ~ logsumexp_k [log p(x | z_k) + log p(z_k) - log r(z_k | x)] - log K.

        Any proposal gives an unbiased estimate of ``p(x)`` (a stochastic lower bound of ``log p(x)``
        whose bias shrinks as ``K`` grows); a proposal close to the true posterior ``p(z | x)`` makes
        it accurate with few samples. A proposal narrower than the posterior (e.g. a near-deterministic
        encoder) makes it noisy: raise ``inflation`` or ``samples``. The paper evaluated with annealed
        importance sampling instead. The loop over blocks of at most about ``max_elements`` decoder
        outputs is :meth:`_importance_log_likelihood`, shared with :class:`igmlib.models.VAE`. Wrap in
        ``torch.no_grad()`` for evaluation.

        Raises:
            TypeError / ValueError: bad ``x``, non-positive ``samples``, ``inflation`` or ``jitter``,
                ``fit_samples`` < 2.

        References:
            Burda et al., "Importance Weighted Autoencoders", ICLR 2016, eq. (8) with a fitted proposal.
        """
        flat = self._check_x(x)
        check_positive_int(samples, "samples")
        m = check_positive_int(fit_samples, "fit_samples")
        if m < 2:
            raise ValueError(f"fit_samples must be >= 2 to fit a covariance, got {m}")
        check_positive(inflation, "inflation")
        check_positive(jitter, "jitter")
        with torch.no_grad():
            zs = self._encode_flat(flat, m)  # (M, N, k)
            mean = zs.mean(0)  # (N, k)
            centred = zs - mean
            cov = torch.einsum("mni,mnj->nij", centred, centred) / (m - 1)
            eye = torch.eye(self.latent_dim, device=flat.device, dtype=flat.dtype)
            proposal = D.MultivariateNormal(mean, scale_tril=torch.linalg.cholesky(inflation**2 * cov + jitter * eye))
        return self._importance_log_likelihood(flat, proposal, samples, max_elements)

    # ---- training -------------------------------------------------------------------------------------
    def adversary_loss(self, batch) -> dict[str, torch.Tensor]:
        # (1) Update T: logistic regression, posterior pairs (x, z ~ q(z|x)) vs prior pairs (x, z ~ p(z)).
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        flat = self._check_x(x)
        with torch.no_grad():
            z_q = self._encode_flat(flat, None)
        z_p = self.prior(len(flat))
        t_q, t_p = self._adversary_flat(flat, z_q), self._adversary_flat(flat, z_p)
        return {"loss": losses.discriminator_loss(t_q, t_p, "minimax"), "T(x, z_q)": t_q.mean().detach(),
                "T(x, z_p)": t_p.mean().detach()}

    def model_loss(self, batch) -> dict[str, torch.Tensor]:
        # (2) Update encoder and decoder: maximise E_q[log p(x|z) - T(x, z)], z = E(x, eps); T fixed.
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        flat = self._check_x(x)
        z = self._encode_flat(flat, None)
        rec = self.log_px_given_z(flat, z)
        t = self._adversary_flat(flat, z)
        elbo = rec - t
        return {"loss": -elbo.mean(), "elbo": elbo.mean().detach(), "reconstruction": rec.mean().detach()}

    def players(self) -> list[Player]:
        model_modules = [self.encoder, self.decoder, self.observation]
        players = [Player("adversary", [self.adversary], self.adversary_loss, adam(self.lr_adversary, self.betas),
                          updates=self.adversary_updates)]
        if any(p.requires_grad for m in model_modules for p in m.parameters()):
            players.append(Player("model", model_modules, self.model_loss, adam(self.lr, self.betas)))
        return players
