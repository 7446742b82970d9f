"""Density networks (MacKay 1995): a latent-variable model trained by Monte Carlo likelihood.

``z ~ N(0, I)``, a decoder network maps ``z`` to the parameters of ``p(x | z)``, and the marginal likelihood
``p(x) = E_{p(z)}[p(x | z)]`` is estimated with ``S`` prior samples::

    log p(x) ~ log (1/S) sum_s p(x | z_s) = logsumexp_s log p(x | z_s) - log S,   z_s ~ p(z).

The estimate is consistent but biased low (Jensen); the ``S`` needed for a given accuracy grows
exponentially with the number of dimensions the posterior ``p(z | x)`` is narrow in.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import distributions as D
from torch import nn

from .._validation import check_betas, check_choice, check_event_shape, check_positive, check_positive_int, check_tensor, shape_str
from ..player import Player
from .base import LikelihoodModel, adam

LIKELIHOODS = ("bernoulli", "gaussian", "mixture")


class DensityNetwork(LikelihoodModel):
    """A density network: ``z ~ N(0, I)``, ``x ~ p(x | z)`` with parameters from a decoder network.

    Heads (``likelihood``), for data of ``event_shape`` with ``D = prod(event_shape)`` numbers:

    ``"gaussian"``
        ``p(x | z) = N(x; mu(z), diag(sigma^2))``; the decoder outputs ``mu`` (``D`` numbers).
        ``sigma`` is one learned parameter per dimension (``scale=None``, the default,
        ``sigma = min_scale + exp(s)``, ``s`` initialised to 0) or fixed (``scale=0.1``).
    ``"mixture"``
        A mixture of ``K = components`` diagonal Gaussians per ``z``. The decoder outputs
        ``K (1 + 2 D)`` numbers, split in this order: ``K`` component logits, then ``K x D`` means,
        then ``K x D`` raw log scales (``sigma = min_scale + exp(raw)``), each read row-major as
        ``(K, D)``.
    ``"bernoulli"``
        Independent Bernoulli pixels; the decoder outputs ``D`` logits ``l``. Data must be binary
        in {-1, 1}, igmlib's pixel convention (1 = "on", probability ``sigmoid(l)``): binarise
        images in [-1, 1] with ``torch.where(x > 0, 1.0, -1.0)``. Means and samples are in the
        same units: ``E[x | z] = 2 sigmoid(l) - 1``, samples in {-1, 1}.

    :meth:`output_size` gives the decoder's required output size. Internally ``x`` is flattened to
    ``(N, D)``; :meth:`sample`, :meth:`sample_mean` and :meth:`forward` return ``(N, *event_shape)``.

    Sampling (the rule of every likelihood model): :meth:`sample` draws ``x ~ p(x)``: ``z ~ p(z)``,
    then ``x ~ p(x | z)`` with the observation noise; :meth:`sample_mean` returns the conditional
    means ``E[x | z]``, ``z ~ p(z)`` (the noise-free "mean images"); :meth:`rsample` the draws with
    gradients (Gaussian head only); :meth:`decode` / ``forward`` the means of given latents,
    differentiably. ``model.likelihood`` is the head's name (the constructor's string).

    Training (one player, ``"model"``, Adam ``lr``) minimises ``-mean_n log p_hat(x_n)`` with
    ``S = samples`` prior draws per step, shared by all points of the minibatch.

    Args:
        decoder: maps ``(N, latent_dim)`` to ``(N, output_size(likelihood, event_shape, components))``.
        latent_dim: size of ``z``.
        event_shape: the shape of one data point, e.g. ``(2,)`` or ``(1, 8, 8)``.
        likelihood: ``"gaussian"`` (default), ``"mixture"`` or ``"bernoulli"``.
        scale: Gaussian head only: a fixed observation std, or ``None`` to learn one per dimension.
        components: mixture head only: ``K``.
        min_scale: floor added to learned scales (keeps the likelihood finite on constant pixels).
        samples: prior samples ``S`` per training step.
        lr: Adam learning rate.
        betas: Adam betas.
        max_elements: the ``N x S x (K) x D`` log-density array is built in blocks of at most
            about this many elements: memory control for large ``S`` or ``N``, and speed (blocks
            that fit in the CPU cache; the default 2**20 evaluates several times faster than 2**24).

    Raises:
        TypeError / ValueError: a non-module decoder, an unknown head (the message lists the valid
            ones), a non-positive size, ``scale`` or ``components`` given for a head that does not use them.

    References:
        MacKay, "Bayesian neural networks and density networks", Nuclear Instruments and Methods
        in Physics Research A 354 (1995) 73-80, section 3 (the model and its Monte Carlo gradient).
        MacKay and Gibbs, "Density networks", in Statistics and Neural Networks (1999).
    """

    def __init__(
        self,
        decoder: nn.Module,
        latent_dim: int,
        event_shape: Sequence[int],
        *,
        likelihood: str = "gaussian",
        scale: float | None = None,
        components: int | None = None,
        min_scale: float = 1e-3,
        samples: int = 64,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        max_elements: int = 2**20,
    ):
        super().__init__(decoder, latent_dim, likelihood=likelihood, likelihoods=LIKELIHOODS, event_shape=event_shape)
        if scale is not None and likelihood != "gaussian":
            raise ValueError(f"scale is only used by the gaussian head, not {likelihood!r}: leave scale=None")
        if components is not None and likelihood != "mixture":
            raise ValueError(f"components is only used by the mixture head, not {likelihood!r}: leave it None")
        if likelihood == "mixture" and components is None:
            raise ValueError("the mixture head needs components=K (e.g. components=4)")
        self.components = check_positive_int(components, "components") if likelihood == "mixture" else None
        self.min_scale = check_positive(min_scale, "min_scale", allow_zero=True)
        self.samples = check_positive_int(samples, "samples")
        self.lr = check_positive(lr, "lr")
        self.betas = check_betas(betas)
        self.max_elements = check_positive_int(max_elements, "max_elements")
        self.fixed_scale = None if scale is None else check_positive(scale, "scale")
        if likelihood == "gaussian" and scale is None:
            self.log_scale = nn.Parameter(torch.zeros(self.data_dim))  # raw s, sigma = min_scale + e^s
        else:
            self.register_parameter("log_scale", None)

    @staticmethod
    def output_size(likelihood: str, event_shape: Sequence[int], components: int | None = None) -> int:
        """Outputs the decoder needs: ``D`` (gaussian, bernoulli) or ``K (1 + 2 D)`` (mixture)."""
        check_choice(likelihood, "likelihood", LIKELIHOODS)
        d = math.prod(check_event_shape(event_shape))
        if likelihood == "mixture":
            if components is None:
                raise ValueError("the mixture head needs components=K")
            return check_positive_int(components, "components") * (1 + 2 * d)
        return d

    # ---- p(x | z) -------------------------------------------------------------------------
    def decoder_outputs(self, z: torch.Tensor) -> torch.Tensor:
        """The decoder's outputs ``(N, output_size)`` for latents ``(N, latent_dim)``: the parameters of
        ``p(x | z)`` (see the heads above), differentiably.

        Raises:
            ValueError: bad ``z``, or outputs of the wrong size (the message says how to size them).
        """
        check_tensor(z, "z", ndim=2, last_dim=self.latent_dim)
        out = self.decoder(z)
        want = self.output_size(self.likelihood, self.event_shape, self.components)
        if out.dim() != 2 or out.shape[1] != want:
            raise ValueError(
                f"decoder output must have shape (N, {want}) for the {self.likelihood} head with event_shape "
                f"{self.event_shape}, got {shape_str(out.shape)}: size its last layer with "
                f"DensityNetwork.output_size({self.likelihood!r}, {self.event_shape}, {self.components})"
            )
        return out

    def _distribution(self, out: torch.Tensor, validate: bool | None = None) -> D.Distribution:
        """``p(x | z)`` from decoder outputs ``(..., P)``: batch_shape ``(...)``, event_shape ``(D,)``
        (Bernoulli: over the bits ``b = (x + 1) / 2`` in {0, 1})."""
        d = self.data_dim
        if self.likelihood == "bernoulli":
            return D.Independent(D.Bernoulli(logits=out, validate_args=validate), 1)
        if self.likelihood == "gaussian":
            if self.fixed_scale is not None:
                scale = torch.full_like(out, self.fixed_scale)
            else:
                scale = (self.min_scale + self.log_scale.exp()).expand_as(out)
            return D.Independent(D.Normal(out, scale, validate_args=validate), 1)
        k, lead = self.components, out.shape[:-1]
        logits = out[..., :k]  # (..., K)
        means = out[..., k: k + k * d].reshape(*lead, k, d)  # (..., K, D)
        scales = self.min_scale + out[..., k + k * d:].reshape(*lead, k, d).exp()  # (..., K, D)
        comp = D.Independent(D.Normal(means, scales, validate_args=validate), 1)
        return D.MixtureSameFamily(D.Categorical(logits=logits, validate_args=validate), comp, validate_args=validate)

    def conditional(self, z: torch.Tensor) -> D.Distribution:
        """The distribution ``p(x | z)`` over flattened data: batch_shape ``(N,)``, event_shape ``(D,)``.

        For the Bernoulli head it is the distribution of the bits ``b = (x + 1) / 2`` in {0, 1}
        (``torch.distributions.Bernoulli``'s support): ``log_prob`` takes ``(x + 1) / 2``, and
        ``sample()`` returns bits (map them with ``2 * b - 1``; :meth:`sample` does).

        Shapes:
            ``z``: ``(N, latent_dim)``.
        """
        return self._distribution(self.decoder_outputs(z))

    def _target(self, x_flat: torch.Tensor) -> torch.Tensor:
        """Data in the distribution's units: the bits ``(x + 1) / 2`` for the Bernoulli head."""
        return 0.5 * (x_flat + 1.0) if self.likelihood == "bernoulli" else x_flat

    def _check_values(self, x_flat: torch.Tensor) -> None:
        if self.likelihood == "bernoulli" and not bool(((x_flat == 1) | (x_flat == -1)).all()):  # one host sync
            raise ValueError(
                "the bernoulli head needs binary data in {-1, 1} (igmlib's pixel convention, 1 = on), got "
                f"values in [{float(x_flat.min()):.3g}, {float(x_flat.max()):.3g}]: binarise images in [-1, 1] "
                "with torch.where(x > 0, 1.0, -1.0); map bits in {0, 1} with 2 * x - 1"
            )

    def _log_prob(self, out: torch.Tensor, x_flat: torch.Tensor) -> torch.Tensor:
        return self._distribution(out, validate=False).log_prob(self._target(x_flat))

    def _mean(self, out: torch.Tensor) -> torch.Tensor:
        if self.likelihood == "bernoulli":
            return 2.0 * torch.sigmoid(out) - 1.0
        return self._distribution(out).mean

    def _sample(self, out: torch.Tensor) -> torch.Tensor:
        x = self._distribution(out).sample()
        return 2.0 * x - 1.0 if self.likelihood == "bernoulli" else x

    def _rsample(self, out: torch.Tensor) -> torch.Tensor:
        if self.likelihood != "gaussian":
            raise NotImplementedError(
                f"the {self.likelihood} head has no reparameterised samples: use sample(n) (draws, no gradients) "
                "or decode(z) (means, with gradients)"
            )
        return self._distribution(out).rsample()

    # ---- the Monte Carlo likelihood ---------------------------------------------------------
    def log_likelihood(
        self, x: torch.Tensor, samples: int | None = None, *, z: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Monte Carlo estimate of ``log p(x)`` in nats, one per data point.

        ``log p_hat(x) = logsumexp_s log p(x | z_s) - log S`` with ``z_s ~ N(0, I)`` shared by all
        points. ``p_hat`` is unbiased for ``p(x)``, so by Jensen's inequality
        ``E[log p_hat(x)] <= log p(x)``: the estimate is biased low, by about
        ``Var[p(x|z)] / (2 S p(x)^2)`` for large ``S``, and the bias and variance shrink as ``S`` grows.
        The ``N x S`` array of ``log p(x_n | z_s)`` is built in blocks of about ``max_elements``.

        Args:
            x: data, shape ``(N, *event_shape)``.
            samples: ``S`` (default: the model's ``samples``).
            z: optional latents ``(S, latent_dim)`` to use instead of fresh prior draws.

        Returns:
            ``(N,)`` log-likelihood estimates in nats (differentiable w.r.t. the parameters).

        Raises:
            TypeError / ValueError: wrong shape of ``x`` or ``z``, ``samples <= 0``, data not in
                {-1, 1} for the Bernoulli head.

        References:
            MacKay (1995), section 3; Burda, Grosse, Salakhutdinov, "Importance Weighted
            Autoencoders", ICLR 2016, Theorem 1 (the bound tightens monotonically in ``S``).
        """
        flat = self._target(self._check_x(x))
        if z is None:
            s = check_positive_int(self.samples if samples is None else samples, "samples")
        else:
            check_tensor(z, "z", ndim=2, last_dim=self.latent_dim)
            s = len(z)
            if samples is not None and check_positive_int(samples, "samples") != s:
                raise ValueError(f"samples={samples} but z has {s} rows: pass one of them")
        n = len(flat)
        per_pair = self.data_dim * (self.components or 1)
        s_block = min(s, max(min(s, 64), self.max_elements // (per_pair * n)))
        row_block = min(n, max(1, self.max_elements // (per_pair * s_block)))
        partial = []  # logsumexp over each block of samples, each (N,)
        for start in range(0, s, s_block):
            zb = z[start: start + s_block] if z is not None else self.prior(min(s_block, s - start))
            dist = self._distribution(self.decoder_outputs(zb), validate=False)  # batch (Sb,)
            rows = [
                torch.logsumexp(dist.log_prob(flat[i: i + row_block, None, :]), dim=1)  # (Nb, Sb) -> (Nb,)
                for i in range(0, n, row_block)
            ]
            partial.append(torch.cat(rows))
        return torch.logsumexp(torch.stack(partial, dim=1), dim=1) - math.log(s)

    # ---- training -----------------------------------------------------------------------------
    def model_loss(self, batch) -> dict[str, torch.Tensor]:
        # Update the decoder (and learned scales): maximise the MC estimate of mean log p(x).
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        ll = self.log_likelihood(x, self.samples)
        return {"loss": -ll.mean(), "log p(x)": ll.mean().detach()}

    def players(self) -> list[Player]:
        return [Player("model", [self], self.model_loss, adam(self.lr, self.betas))]
