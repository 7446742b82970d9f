"""Density networks (MacKay 1995): a latent-variable model trained by Monte Carlo likelihood.

``z ~ N(0, I)``, a network maps ``z`` to the parameters of ``p(x | z)``, and the marginal likelihood
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

from .._validation import check_choice, check_positive, check_positive_int, check_tensor, shape_str
from ..player import Player
from .base import LatentSampler, adam

LIKELIHOODS = ("bernoulli", "gaussian", "mixture")


def _event_size(event_shape: Sequence[int]) -> int:
    return math.prod(event_shape)


class DensityNetwork(LatentSampler):
    """A density network: ``z ~ N(0, I)``, ``x ~ p(x | z)`` with parameters from a network.

    Heads (``likelihood``), for data of ``event_shape`` with ``D = prod(event_shape)`` numbers:

    ``"gaussian"``
        ``p(x | z) = N(x; mu(z), diag(sigma^2))``; the network outputs ``mu`` (``D`` numbers).
        ``sigma`` is one learned parameter per dimension (``scale=None``, the default,
        ``sigma = min_scale + exp(s)``, ``s`` initialised to 0) or fixed (``scale=0.1``).
    ``"mixture"``
        A mixture of ``K = components`` diagonal Gaussians per ``z``. The network outputs
        ``K (1 + 2 D)`` numbers, split in this order: ``K`` component logits, then ``K x D`` means,
        then ``K x D`` raw log scales (``sigma = min_scale + exp(raw)``), each read row-major as
        ``(K, D)``.
    ``"bernoulli"``
        Independent Bernoulli pixels; the network outputs ``D`` logits. Data must be in {0, 1}:
        binarise images in [-1, 1] with ``(x > 0).float()``.

    :meth:`output_size` gives the network's required output size. Internally ``x`` is flattened to
    ``(N, D)``; :meth:`sample` and :meth:`forward` return ``(N, *event_shape)``.

    Training (one player, ``"model"``, Adam ``lr``) minimises ``-mean_n log p_hat(x_n)`` with
    ``S = samples`` prior draws per step, shared by all points of the minibatch.

    Args:
        network: maps ``(N, latent_dim)`` to ``(N, output_size(likelihood, event_shape, components))``.
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
        TypeError / ValueError: unknown head (the message lists the valid ones), a non-positive
            size, ``scale`` or ``components`` given for a head that does not use them.

    References:
        MacKay, "Bayesian neural networks and density networks", Nuclear Instruments and Methods
        in Physics Research A 354 (1995) 73-80, section 3 (the model and its Monte Carlo gradient).
        MacKay and Gibbs, "Density networks", in Statistics and Neural Networks (1999).
    """

    def __init__(
        self,
        network: nn.Module,
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
        super().__init__(network, latent_dim, name="network")
        self.likelihood = check_choice(likelihood, "likelihood", LIKELIHOODS)
        if isinstance(event_shape, int):
            event_shape = (event_shape,)
        self.event_shape = tuple(check_positive_int(s, "event_shape entry") for s in event_shape)
        if not self.event_shape:
            raise ValueError("event_shape must have at least one dimension, e.g. (2,)")
        self.data_dim = _event_size(self.event_shape)
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
        self.betas = tuple(betas)
        self.max_elements = check_positive_int(max_elements, "max_elements")
        self.fixed_scale = None if scale is None else check_positive(scale, "scale")
        if likelihood == "gaussian" and scale is None:
            self.log_scale = nn.Parameter(torch.zeros(self.data_dim))  # raw s, sigma = min_scale + e^s
        else:
            self.register_parameter("log_scale", None)

    @staticmethod
    def output_size(likelihood: str, event_shape: Sequence[int], components: int | None = None) -> int:
        """Outputs the network needs: ``D`` (gaussian, bernoulli) or ``K (1 + 2 D)`` (mixture)."""
        check_choice(likelihood, "likelihood", LIKELIHOODS)
        d = _event_size((event_shape,) if isinstance(event_shape, int) else tuple(event_shape))
        if likelihood == "mixture":
            if components is None:
                raise ValueError("the mixture head needs components=K")
            return check_positive_int(components, "components") * (1 + 2 * d)
        return d

    # ---- p(x | z) -------------------------------------------------------------------------
    def _params(self, z: torch.Tensor) -> torch.Tensor:
        out = self.generator(z)
        want = self.output_size(self.likelihood, self.event_shape, self.components)
        if out.dim() != 2 or out.shape[1] != want:
            raise ValueError(
                f"network output must have shape (N, {want}) for the {self.likelihood} head with event_shape "
                f"{self.event_shape}, got {shape_str(out.shape)}: size its last layer with "
                f"DensityNetwork.output_size({self.likelihood!r}, {self.event_shape}, {self.components})"
            )
        return out

    def _distribution(self, out: torch.Tensor, validate: bool | None = None) -> D.Distribution:
        """``p(x | z)`` from network outputs ``(N, P)``: batch_shape ``(N,)``, event_shape ``(D,)``."""
        d = self.data_dim
        if self.likelihood == "bernoulli":
            return D.Independent(D.Bernoulli(logits=out, validate_args=validate), 1)
        if self.likelihood == "gaussian":
            if self.fixed_scale is not None:
                scale = torch.full_like(out, self.fixed_scale)
            else:
                scale = (self.min_scale + self.log_scale.exp()).expand_as(out)
            return D.Independent(D.Normal(out, scale, validate_args=validate), 1)
        k = self.components
        logits = out[:, :k]  # (N, K)
        means = out[:, k: k + k * d].reshape(-1, k, d)  # (N, K, D)
        scales = self.min_scale + out[:, k + k * d:].reshape(-1, k, d).exp()  # (N, K, D)
        comp = D.Independent(D.Normal(means, scales, validate_args=validate), 1)
        return D.MixtureSameFamily(D.Categorical(logits=logits, validate_args=validate), comp, validate_args=validate)

    def conditional(self, z: torch.Tensor) -> D.Distribution:
        """The distribution ``p(x | z)`` over flattened data: batch_shape ``(N,)``, event_shape ``(D,)``.

        Shapes:
            ``z``: ``(N, latent_dim)``.
        """
        check_tensor(z, "z", ndim=2, last_dim=self.latent_dim)
        return self._distribution(self._params(z))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """The conditional means ``E[x | z]``, shape ``(N, *event_shape)``, differentiably
        (Bernoulli head: pixel probabilities in [0, 1])."""
        return self.conditional(z).mean.reshape(-1, *self.event_shape)

    def rsample(self, n: int) -> torch.Tensor:
        """``n`` reparameterised samples ``x ~ p(x | z)`` (gaussian head only; others are discrete)."""
        if self.likelihood != "gaussian":
            raise NotImplementedError(
                f"the {self.likelihood} head has no reparameterised samples: use sample(n) (no gradients)"
            )
        return self.conditional(self.prior(n)).rsample().reshape(n, *self.event_shape)

    @torch.no_grad()
    def sample(self, n: int) -> torch.Tensor:
        """``n`` samples ``z ~ p(z), x ~ p(x | z)``, shape ``(n, *event_shape)``, without gradients."""
        return self.conditional(self.prior(n)).sample().reshape(n, *self.event_shape)

    @torch.no_grad()
    def sample_mean(self, n: int) -> torch.Tensor:
        """``n`` conditional means ``E[x | z]``, ``z ~ p(z)``: the noise-free images, ``(n, *event_shape)``."""
        return self(self.prior(n))

    # ---- the Monte Carlo likelihood ---------------------------------------------------------
    def _check_x(self, x) -> torch.Tensor:
        check_tensor(x, "x")
        if x.dim() != 1 + len(self.event_shape) or tuple(x.shape[1:]) != self.event_shape:
            want = "(N, " + ", ".join(str(s) for s in self.event_shape) + ")"
            raise ValueError(
                f"x must have shape {want}, got {shape_str(x.shape)}: "
                f"use x.reshape(-1, {', '.join(str(s) for s in self.event_shape)})"
            )
        if x.shape[0] == 0:
            raise ValueError("x is empty: pass at least one data point")
        flat = x.reshape(len(x), self.data_dim)
        if self.likelihood == "bernoulli" and not bool(((flat == 0) | (flat == 1)).all()):
            raise ValueError(
                "the bernoulli head needs data in {0, 1}; binarise images in [-1, 1] with (x > 0).float()"
            )
        return flat

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
            TypeError / ValueError: wrong shape of ``x`` or ``z``, ``samples <= 0``, non-binary data
                for the Bernoulli head.

        References:
            MacKay (1995), section 3; Burda, Grosse, Salakhutdinov, "Importance Weighted
            Autoencoders", ICLR 2016, Theorem 1 (the bound tightens monotonically in ``S``).
        """
        flat = self._check_x(x)
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
            dist = self._distribution(self._params(zb), validate=False)  # batch (Sb,)
            rows = [
                torch.logsumexp(dist.log_prob(flat[i: i + row_block, None, :]), dim=1)  # (Nb, Sb) -> (Nb,)
                for i in range(0, n, row_block)
            ]
            partial.append(torch.cat(rows))
        return torch.logsumexp(torch.stack(partial, dim=1), dim=1) - math.log(s)

    # ---- training -----------------------------------------------------------------------------
    def model_loss(self, batch) -> dict[str, torch.Tensor]:
        # Update the network (and learned scales): maximise the MC estimate of mean log p(x).
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        ll = self.log_likelihood(x, self.samples)
        return {"loss": -ll.mean(), "log p(x)": ll.mean().detach()}

    def players(self) -> list[Player]:
        return [Player("model", [self], self.model_loss, adam(self.lr, self.betas))]
