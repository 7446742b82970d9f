"""The variational autoencoder (Kingma and Welling 2014; Rezende et al. 2014).

A latent-variable model ``z ~ N(0, I)``, ``x ~ p(x | z)`` (the decoder) trained together with a
Gaussian encoder ``q(z | x) = N(mu(x), diag(sigma(x)^2))`` by maximising the evidence lower bound::

    log p(x) >= ELBO(x) = E_q[log p(x | z)] - KL(q(z | x) || p(z))

with one reparameterised sample ``z = mu + sigma * eps`` for the first term and the analytic KL
(:func:`igmlib.divergences.gaussian_kl`) for the second. All values are in nats.

Data conventions (shared with :class:`igmlib.models.AVB`): data ``x`` live in [-1, 1] like every
igmlib data set. The ``"bernoulli"`` decoder outputs logits ``l`` and reads ``p = (x + 1) / 2`` as
the target: ``log p(x | z) = sum_d p_d l_d - softplus(l_d)``, the negative binary cross-entropy.
For binary data (``x`` in {-1, 1}) this is the exact log-probability of a binary image. For grey
levels (``p`` strictly between 0 and 1, e.g. the 8x8 digits) it is the usual approximation: it is
not a normalised density on [0, 1]^D (the continuous Bernoulli of Loaiza-Ganem and Cunningham 2019
adds the missing normaliser), so its values compare models under the same convention only. The
``"gaussian"`` decoder outputs means, ``p(x | z) = N(x; mu(z), s^2 I)`` with one shared scale ``s``
(learned, or fixed with ``scale=...``).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .._validation import check_choice, check_module, check_positive, check_positive_int, check_tensor, shape_str
from ..divergences import gaussian_kl
from ..player import Player
from .base import LatentSampler, adam

LIKELIHOODS = ("bernoulli", "gaussian")


class Likelihood(nn.Module):
    """The decoder's observation model ``p(x | z)`` from decoder outputs (see the module docstring).

    Args:
        kind: ``"bernoulli"`` (outputs are logits) or ``"gaussian"`` (outputs are means).
        scale: Gaussian only: a fixed observation std, or ``None`` to learn one shared std
            ``s = min_scale + exp(t)`` (``t`` starts at 0). One shared scale, not one per pixel:
            per-pixel scales shrink without bound on pixels that never change (digit borders).
        min_scale: floor of a learned scale.

    Raises:
        ValueError: unknown ``kind`` (the message lists the valid ones), ``scale`` with the
            Bernoulli head, a non-positive scale.
    """

    def __init__(self, kind: str = "bernoulli", *, scale: float | None = None, min_scale: float = 1e-3):
        super().__init__()
        self.kind = check_choice(kind, "likelihood", LIKELIHOODS)
        if scale is not None and kind != "gaussian":
            raise ValueError(f"scale is only used by the gaussian likelihood, not {kind!r}: leave scale=None")
        self.fixed_scale = None if scale is None else check_positive(scale, "scale")
        self.min_scale = check_positive(min_scale, "min_scale", allow_zero=True)
        if kind == "gaussian" and scale is None:
            self.log_scale = nn.Parameter(torch.zeros(()))
        else:
            self.register_parameter("log_scale", None)

    def scale(self) -> torch.Tensor | float:
        """The Gaussian observation std (a tensor if learned)."""
        if self.fixed_scale is not None:
            return self.fixed_scale
        return self.min_scale + self.log_scale.exp()

    def check_data(self, x: torch.Tensor) -> None:
        """Raise ``ValueError`` if Bernoulli data leave [-1, 1]."""
        if self.kind == "bernoulli" and bool((x.abs() > 1 + 1e-6).any()):  # one host sync per call
            raise ValueError(
                f"the bernoulli likelihood needs data in [-1, 1] (read as probabilities (x + 1) / 2), "
                f"got values in [{float(x.min()):.3g}, {float(x.max()):.3g}]: "
                "rescale, e.g. 2 * x - 1 for data in [0, 1]"
            )

    def log_prob(self, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``log p(x | z)`` in nats from decoder outputs ``out (..., D)`` and flat data ``x (..., D)``
        (broadcast), summed over ``D``: shape ``(...)``."""
        if self.kind == "bernoulli":
            p = 0.5 * (x + 1.0)
            return (p * out - F.softplus(out)).sum(-1)
        s = self.scale()
        s = torch.as_tensor(s, dtype=out.dtype, device=out.device)
        return (-0.5 * ((x - out) / s) ** 2 - torch.log(s) - 0.5 * math.log(2 * math.pi)).sum(-1)

    def mean(self, out: torch.Tensor) -> torch.Tensor:
        """``E[x | z]`` in data units ([-1, 1] for Bernoulli: ``2 sigmoid(l) - 1``)."""
        return 2.0 * torch.sigmoid(out) - 1.0 if self.kind == "bernoulli" else out

    def sample(self, out: torch.Tensor) -> torch.Tensor:
        """``x ~ p(x | z)`` in data units (Bernoulli: values in {-1, 1}); no gradients."""
        with torch.no_grad():
            if self.kind == "bernoulli":
                return 2.0 * torch.bernoulli(torch.sigmoid(out)) - 1.0
            return out + self.scale() * torch.randn_like(out)


class _LatentVariableModel(LatentSampler):
    """What VAE and AVB share: the decoder ``z -> outputs``, the likelihood head and data shapes."""

    def __init__(self, decoder: nn.Module, latent_dim: int, *, likelihood: str, scale, min_scale,
                 event_shape: Sequence[int] | None):
        super().__init__(decoder, latent_dim, name="decoder")
        self.likelihood = Likelihood(likelihood, scale=scale, min_scale=min_scale)
        if isinstance(event_shape, int):
            event_shape = (event_shape,)
        self.event_shape = None if event_shape is None else tuple(
            check_positive_int(s, "event_shape entry") for s in event_shape)

    @property
    def decoder(self) -> nn.Module:
        """The decoder network (registered once, as ``generator``)."""
        return self.generator

    def _flat(self, x: torch.Tensor) -> torch.Tensor:
        """Check a data batch and flatten it to ``(N, D)``."""
        check_tensor(x, "x")
        if x.dim() < 2:
            raise ValueError(f"x must be a batch (N, ...), got shape {shape_str(x.shape)}: use x.reshape(1, -1)")
        if self.event_shape is not None and tuple(x.shape[1:]) != self.event_shape:
            want = "(N, " + ", ".join(str(s) for s in self.event_shape) + ")"
            raise ValueError(f"x must have shape {want}, got {shape_str(x.shape)}")
        self.likelihood.check_data(x)
        return x.reshape(len(x), -1)

    def decoder_outputs(self, z: torch.Tensor) -> torch.Tensor:
        """Decoder outputs (logits or means) flattened to ``(N, D)``, differentiably."""
        check_tensor(z, "z", ndim=2, last_dim=self.latent_dim)
        return self.decoder(z).reshape(len(z), -1)

    def log_px_given_z(self, x_flat: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """``log p(x | z)`` for flat data ``(N, D)`` and latents ``(..., N, k)``: shape ``(..., N)``."""
        lead = z.shape[:-1]
        out = self.decoder(z.reshape(-1, self.latent_dim)).reshape(*lead, -1)
        if out.shape[-1] != x_flat.shape[-1]:
            raise ValueError(
                f"the decoder outputs {out.shape[-1]} numbers per latent but a data point has "
                f"{x_flat.shape[-1]}: size the decoder's last layer to the data"
            )
        return self.likelihood.log_prob(out, x_flat)

    def _shape(self, flat: torch.Tensor, like: torch.Tensor | None = None) -> torch.Tensor:
        if like is not None:
            return flat.reshape(like.shape)
        if self.event_shape is not None:
            return flat.reshape(len(flat), *self.event_shape)
        return flat

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """``E[x | z]`` in data units, shape ``(N, *event_shape)`` (or the decoder's), differentiably."""
        return self._shape(self.likelihood.mean(self.decoder_outputs(z)))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """The decoder as a generator: ``E[x | z]`` (see :meth:`decode`)."""
        return self.decode(z)

    def rsample(self, n: int) -> torch.Tensor:
        """``n`` decoded prior samples ``E[x | z]``, ``z ~ N(0, I)`` (the mean images), with gradients."""
        return self.decode(self.prior(n))

    @torch.no_grad()
    def sample_noisy(self, n: int) -> torch.Tensor:
        """``n`` samples ``z ~ p(z)``, ``x ~ p(x | z)`` including the observation noise."""
        return self._shape(self.likelihood.sample(self.decoder_outputs(self.prior(n))))


class VAE(_LatentVariableModel):
    """A variational autoencoder with a Gaussian encoder and a Bernoulli or Gaussian decoder.

    One player, ``"model"`` (encoder, decoder and a learned scale), maximises the mean ELBO with
    one reparameterised sample per data point and the analytic KL: the SGVB estimator of
    Kingma and Welling (2014), eq. (7), with their Appendix B KL. :meth:`sample` returns decoded
    prior samples ``E[x | z]`` (the mean images); :meth:`sample_noisy` adds the observation noise.

    Args:
        encoder: maps data ``(N, ...)`` (as given, e.g. images ``(N, 1, 8, 8)``: put an
            ``nn.Flatten()`` first for an MLP) to ``(N, 2 * latent_dim)``: the mean, then the
            log-variance of ``q(z | x)``.
        decoder: maps ``(N, latent_dim)`` to ``(N, D)`` (or any shape with ``D`` numbers per row):
            logits (``"bernoulli"``) or means (``"gaussian"``), ``D`` = numbers per data point.
        latent_dim: size of ``z``.
        likelihood: ``"bernoulli"`` (default) or ``"gaussian"``; see the module docstring for the
            data convention (data in [-1, 1]).
        scale: Gaussian only: fixed observation std, or ``None`` to learn one shared std.
        min_scale: floor of a learned scale.
        event_shape: shape of one data point, e.g. ``(1, 8, 8)``: decoded samples get this shape
            and inputs are checked against it. ``None`` keeps the decoder's output shape.
        lr: Adam learning rate.
        betas: Adam betas.

    Shapes:
        ``encode``: ``(N, ...) -> (N, k), (N, k)``; ``elbo`` and ``log_likelihood``: ``(N, ...) -> (N,)``;
        ``decode``: ``(N, k) -> (N, *event_shape)``.

    Raises:
        TypeError / ValueError: non-module networks, an unknown likelihood (the message lists the
            valid ones), encoder outputs of the wrong size, data outside [-1, 1] for Bernoulli.

    References:
        Kingma and Welling, "Auto-Encoding Variational Bayes", ICLR 2014, section 2.4 (the
        reparameterisation trick), eq. (10) and Appendix B (the analytic KL).
        Rezende, Mohamed, Wierstra, "Stochastic Backpropagation and Approximate Inference in Deep
        Generative Models", ICML 2014.
        Burda, Grosse, Salakhutdinov, "Importance Weighted Autoencoders", ICLR 2016, eq. (8) and
        Theorem 1 (the importance-sampled bound and its monotonicity in ``K``).
    """

    def __init__(
        self,
        encoder: nn.Module,
        decoder: nn.Module,
        latent_dim: int,
        *,
        likelihood: str = "bernoulli",
        scale: float | None = None,
        min_scale: float = 1e-3,
        event_shape: Sequence[int] | None = None,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
    ):
        super().__init__(decoder, latent_dim, likelihood=likelihood, scale=scale, min_scale=min_scale,
                         event_shape=event_shape)
        check_module(encoder, "encoder")
        self.encoder = encoder
        self.lr = check_positive(lr, "lr")
        self.betas = tuple(betas)

    # ---- q(z | x) -------------------------------------------------------------------------------
    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The mean and log-variance of ``q(z | x)``, each ``(N, latent_dim)``, differentiably."""
        self._flat(x)
        out = self.encoder(x)
        k = self.latent_dim
        if out.dim() != 2 or out.shape[1] != 2 * k:
            raise ValueError(
                f"the encoder must output (N, 2 * latent_dim) = (N, {2 * k}) numbers (mean, then log-variance), "
                f"got {shape_str(out.shape)}"
            )
        return out[:, :k], out[:, k:]

    def posterior_sample(self, x: torch.Tensor, samples: int | None = None) -> torch.Tensor:
        """Reparameterised ``z = mu(x) + sigma(x) eps``: ``(N, k)``, or ``(samples, N, k)``."""
        mean, log_var = self.encode(x)
        shape = mean.shape if samples is None else (check_positive_int(samples, "samples"), *mean.shape)
        return mean + (0.5 * log_var).exp() * torch.randn(shape, device=mean.device, dtype=mean.dtype)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """``E[x | z = mu(x)]``: the decoded posterior mean, shaped like ``x``; no gradients."""
        mean, _ = self.encode(x)
        return self._shape(self.likelihood.mean(self.decoder_outputs(mean)), like=x)

    # ---- bounds and estimates -----------------------------------------------------------------------
    def elbo_terms(self, x: torch.Tensor, samples: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        """``(E_q[log p(x | z)], KL(q(z | x) || p(z)))`` per data point, each ``(N,)`` in nats; the first
        is a Monte Carlo average over ``samples`` reparameterised draws, the second is analytic."""
        flat = self._flat(x)
        mean, log_var = self.encode(x)
        s = check_positive_int(samples, "samples")
        z = mean + (0.5 * log_var).exp() * torch.randn((s, *mean.shape), device=mean.device, dtype=mean.dtype)
        return self.log_px_given_z(flat, z).mean(0), gaussian_kl(mean, log_var)

    def elbo(self, x: torch.Tensor, samples: int = 1) -> torch.Tensor:
        """The evidence lower bound per data point, ``(N,)`` in nats (differentiable).

        ``ELBO(x) = E_q[log p(x | z)] - KL(q(z | x) || p(z)) <= log p(x)``, the expectation estimated
        with ``samples`` reparameterised draws (unbiased for the ELBO).

        References:
            Kingma and Welling (2014), eq. (3) and (7).
        """
        rec, kl = self.elbo_terms(x, samples)
        return rec - kl

    def log_likelihood(self, x: torch.Tensor, samples: int = 100, *, max_elements: int = 2**22) -> torch.Tensor:
        """Importance-sampled ``log p(x)`` per data point, ``(N,)`` in nats, with ``q(z | x)`` as proposal.

        ``log p(x) ~ logsumexp_k [log p(x | z_k) + log p(z_k) - log q(z_k | x)] - log K``,
        ``z_k ~ q(z | x)``, ``K = samples``. The average inside the log is unbiased for ``p(x)``, so the
        estimate is a stochastic lower bound: its expectation increases with ``K`` towards ``log p(x)``
        and equals the ELBO at ``K = 1`` (Burda et al. 2016, Theorem 1). Computed in blocks of samples
        of at most about ``max_elements`` decoder outputs. Wrap in ``torch.no_grad()`` for evaluation.

        Raises:
            TypeError / ValueError: bad ``x`` or a non-positive ``samples``.

        References:
            Burda, Grosse, Salakhutdinov, "Importance Weighted Autoencoders", ICLR 2016, eq. (8).
        """
        flat = self._flat(x)
        k = check_positive_int(samples, "samples")
        mean, log_var = self.encode(x)
        std = (0.5 * log_var).exp()
        n, d = flat.shape
        block = max(1, min(k, check_positive_int(max_elements, "max_elements") // max(1, n * d)))
        parts = []
        for start in range(0, k, block):
            b = min(block, k - start)
            eps = torch.randn((b, *mean.shape), device=mean.device, dtype=mean.dtype)
            z = mean + std * eps  # (b, N, k)
            log_q = (-0.5 * eps**2 - 0.5 * log_var - 0.5 * math.log(2 * math.pi)).sum(-1)  # (b, N)
            log_prior = (-0.5 * z**2 - 0.5 * math.log(2 * math.pi)).sum(-1)  # (b, N)
            log_w = self.log_px_given_z(flat, z) + log_prior - log_q  # (b, N)
            parts.append(torch.logsumexp(log_w, dim=0))
        return torch.logsumexp(torch.stack(parts), dim=0) - math.log(k)

    # ---- training -------------------------------------------------------------------------------------
    def model_loss(self, batch) -> dict[str, torch.Tensor]:
        # Update encoder and decoder together: maximise the mean ELBO (one reparameterised sample).
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        rec, kl = self.elbo_terms(x)
        elbo = rec - kl
        return {"loss": -elbo.mean(), "elbo": elbo.mean().detach(), "kl": kl.mean().detach(),
                "reconstruction": rec.mean().detach()}

    def players(self) -> list[Player]:
        return [Player("model", [self], self.model_loss, adam(self.lr, self.betas))]
