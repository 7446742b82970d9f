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
(learned, or fixed with ``scale=...``). The constructor argument ``likelihood`` and the attribute
``model.likelihood`` are that name (a string); the observation model itself, the module that holds
a learned scale, is ``model.observation`` (an :class:`ObservationModel`).

Sampling follows :class:`igmlib.models.base.LikelihoodModel`: ``sample(n)`` draws ``x ~ p(x)``
(Bernoulli: binary pixels in {-1, 1}; Gaussian: means plus noise), ``sample_mean(n)`` returns the
decoded means ``E[x | z]``, ``z ~ p(z)`` (the mean images).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import distributions as D
from torch import nn

from .._validation import check_betas, check_choice, check_module, check_positive, check_positive_int, check_tensor, shape_str
from ..divergences import gaussian_kl
from ..player import Player
from .base import LikelihoodModel, adam

LIKELIHOODS = ("bernoulli", "gaussian")


class ObservationModel(nn.Module):
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

    def rsample(self, out: torch.Tensor) -> torch.Tensor:
        """Reparameterised ``x = out + s * eps ~ p(x | z)``, with gradients (Gaussian only).

        Raises:
            NotImplementedError: the Bernoulli observation model (discrete: no reparameterisation).
        """
        if self.kind != "gaussian":
            raise NotImplementedError(
                f"the {self.kind} likelihood has no reparameterised samples: use sample(n) (draws, no "
                "gradients) or decode(z) (means, with gradients)")
        return out + self.scale() * torch.randn_like(out)


class _VariationalModel(LikelihoodModel):
    """What VAE and AVB share: the decoder ``z -> outputs``, the observation model and data shapes."""

    def __init__(self, decoder: nn.Module, latent_dim: int, *, likelihood: str, scale, min_scale,
                 event_shape: Sequence[int] | None):
        super().__init__(decoder, latent_dim, likelihood=likelihood, likelihoods=LIKELIHOODS,
                         event_shape=event_shape, event_shape_optional=True)
        self.observation = ObservationModel(likelihood, scale=scale, min_scale=min_scale)

    def _check_values(self, x_flat: torch.Tensor) -> None:
        self.observation.check_data(x_flat)

    def decoder_outputs(self, z: torch.Tensor) -> torch.Tensor:
        """Decoder outputs (logits or means) flattened to ``(N, D)``, differentiably.

        Raises:
            ValueError: bad ``z``, or ``D`` differs from the numbers in one point of ``event_shape``.
        """
        check_tensor(z, "z", ndim=2, last_dim=self.latent_dim)
        out = self.decoder(z).reshape(len(z), -1)
        if self.data_dim is not None and out.shape[-1] != self.data_dim:
            self._size_error(out.shape[-1], self.data_dim)
        return out

    @staticmethod
    def _size_error(outputs: int, data: int):
        raise ValueError(f"the decoder outputs {outputs} numbers per latent but a data point has {data}: "
                         "size the decoder's last layer to the data")

    def _log_prob(self, out: torch.Tensor, x_flat: torch.Tensor) -> torch.Tensor:
        if out.shape[-1] != x_flat.shape[-1]:
            self._size_error(out.shape[-1], x_flat.shape[-1])
        return self.observation.log_prob(out, x_flat)

    def _mean(self, out: torch.Tensor) -> torch.Tensor:
        return self.observation.mean(out)

    def _sample(self, out: torch.Tensor) -> torch.Tensor:
        return self.observation.sample(out)

    def _rsample(self, out: torch.Tensor) -> torch.Tensor:
        return self.observation.rsample(out)


class VAE(_VariationalModel):
    """A variational autoencoder with a Gaussian encoder and a Bernoulli or Gaussian decoder.

    One player, ``"model"`` (encoder, decoder and a learned scale), maximises the mean ELBO with
    one reparameterised sample per data point and the analytic KL: the SGVB estimator of
    Kingma and Welling (2014), eq. (7), with their Appendix B KL.

    Sampling (the rule of every likelihood model): :meth:`sample` draws ``x ~ p(x)`` (``z ~ p(z)``,
    ``x ~ p(x | z)`` with the observation noise: binary pixels in {-1, 1} for the Bernoulli decoder),
    :meth:`sample_mean` returns the decoded means ``E[x | z]`` (the mean images, pixel probabilities
    mapped to [-1, 1]), :meth:`rsample` the draws with gradients (Gaussian decoder only) and
    :meth:`decode` / ``forward`` the means ``E[x | z]`` of given latents, differentiably.

    Attributes:
        likelihood: the name of ``p(x | z)``, ``"bernoulli"`` or ``"gaussian"``.
        observation: the :class:`ObservationModel` (holds a learned Gaussian scale).
        decoder, encoder: the networks.

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
            and inputs are checked against it. ``None`` gives flat samples ``(N, D)``.
        lr: Adam learning rate.
        betas: Adam betas.
        beta: weight of the KL term in the training loss, ``-(E_q[log p(x | z)] - beta * KL)``
            (Higgins et al. 2017, eq. (4)); 1 (default) is the ELBO. ``beta > 1`` trades reconstruction
            for codes closer to the prior (more disentangled, blurrier); ``beta < 1`` the reverse. Only
            training changes: :meth:`elbo` and :meth:`log_likelihood` stay the unweighted bound and
            estimate, and the history logs ``"elbo"``, ``"kl"`` and ``"reconstruction"`` unweighted
            (plus ``"beta-elbo"``, the objective maximised, when ``beta != 1``).

    Shapes:
        ``encode``: ``(N, ...) -> (N, k), (N, k)``; ``elbo`` and ``log_likelihood``: ``(N, ...) -> (N,)``
        in nats; ``decode``: ``(N, k) -> (N, *event_shape)``; ``sample``, ``sample_mean``:
        ``n -> (n, *event_shape)``.

    Raises:
        TypeError / ValueError: non-module networks, an unknown likelihood (the message lists the
            valid ones), encoder or decoder outputs of the wrong size, data of the wrong shape,
            data outside [-1, 1] for Bernoulli.

    References:
        Kingma and Welling, "Auto-Encoding Variational Bayes", ICLR 2014, section 2.4 (the
        reparameterisation trick), eq. (10) and Appendix B (the analytic KL).
        Rezende, Mohamed, Wierstra, "Stochastic Backpropagation and Approximate Inference in Deep
        Generative Models", ICML 2014.
        Burda, Grosse, Salakhutdinov, "Importance Weighted Autoencoders", ICLR 2016, eq. (8) and
        Theorem 1 (the importance-sampled bound and its monotonicity in ``K``).
        Higgins et al., "beta-VAE: Learning Basic Visual Concepts with a Constrained Variational
        Framework", ICLR 2017, eq. (4) (``beta``).
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
        beta: float = 1.0,
    ):
        super().__init__(decoder, latent_dim, likelihood=likelihood, scale=scale, min_scale=min_scale,
                         event_shape=event_shape)
        check_module(encoder, "encoder")
        self.encoder = encoder
        self.lr = check_positive(lr, "lr")
        self.betas = check_betas(betas)
        self.beta = check_positive(beta, "beta", allow_zero=True)

    # ---- q(z | x) -------------------------------------------------------------------------------
    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The mean and log-variance of ``q(z | x)``, each ``(N, latent_dim)``, differentiably.

        Raises:
            ValueError: bad data (see :meth:`elbo`), or encoder outputs other than ``(N, 2 * latent_dim)``.
        """
        self._check_x(x)
        return self._encode(x)

    def _encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
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
        return self._shape(self._mean(self.decoder_outputs(mean)), like=x)

    # ---- bounds and estimates -----------------------------------------------------------------------
    def elbo_terms(self, x: torch.Tensor, samples: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        """``(E_q[log p(x | z)], KL(q(z | x) || p(z)))`` per data point, each ``(N,)`` in nats; the first
        is a Monte Carlo average over ``samples`` reparameterised draws, the second is analytic."""
        flat = self._check_x(x)
        mean, log_var = self._encode(x)
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
        of at most about ``max_elements`` decoder outputs (:meth:`_importance_log_likelihood`, shared
        with :class:`igmlib.models.AVB`). Wrap in ``torch.no_grad()`` for evaluation.

        Raises:
            TypeError / ValueError: bad ``x`` or a non-positive ``samples``.

        References:
            Burda, Grosse, Salakhutdinov, "Importance Weighted Autoencoders", ICLR 2016, eq. (8).
        """
        flat = self._check_x(x)
        check_positive_int(samples, "samples")
        mean, log_var = self._encode(x)
        proposal = D.Independent(D.Normal(mean, (0.5 * log_var).exp()), 1)  # q(z | x): batch (N,), event (k,)
        return self._importance_log_likelihood(flat, proposal, samples, max_elements)

    # ---- training -------------------------------------------------------------------------------------
    def model_loss(self, batch) -> dict[str, torch.Tensor]:
        # Update encoder and decoder together: maximise the mean ELBO (one reparameterised sample),
        # with the KL weighted by beta (beta-VAE; beta = 1: the ELBO itself).
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        rec, kl = self.elbo_terms(x)
        elbo = rec - kl
        objective = elbo if self.beta == 1.0 else rec - self.beta * kl
        out = {"loss": -objective.mean(), "elbo": elbo.mean().detach(), "kl": kl.mean().detach(),
               "reconstruction": rec.mean().detach()}
        if self.beta != 1.0:
            out["beta-elbo"] = objective.mean().detach()
        return out

    def players(self) -> list[Player]:
        return [Player("model", [self], self.model_loss, adam(self.lr, self.betas))]
