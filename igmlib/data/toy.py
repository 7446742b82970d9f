"""Toy distributions in 1-D and 2-D, as ``torch.distributions`` objects.

Every distribution here has ``event_shape == (d,)`` with ``d`` = 1 or 2, so ``sample((n,))``
returns an ``(n, d)`` tensor that goes straight into a network, and ``log_prob`` takes ``(N, d)``
and returns exact log-densities ``(N,)`` in nats (used by the metrics).

Mixtures are ``MixtureSameFamily`` objects whose components are isotropic Gaussians;
``component_distribution.mean`` holds the mode centres ``(K, d)`` and
``component_distribution.stddev`` their standard deviations (used by
:func:`igmlib.metrics.mode_coverage`).
"""
from __future__ import annotations

import math

import torch
from torch import distributions as D

from .._validation import check_positive, check_positive_int


def _as_float_tensor(values, name: str) -> torch.Tensor:
    try:
        t = torch.as_tensor(values, dtype=torch.get_default_dtype())
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be a sequence of numbers, got {values!r}") from err
    return t


def gaussian_mixture(means, stds, weights=None) -> D.MixtureSameFamily:
    """A mixture of isotropic Gaussians in ``d`` dimensions.

    Args:
        means: component centres, shape ``(K,)`` for 1-D or ``(K, d)``.
        stds: one standard deviation per component ``(K,)`` or one shared number.
        weights: mixing weights ``(K,)``, normalised here; ``None`` for equal weights.

    Returns:
        A distribution with ``event_shape == (d,)``.

    Raises:
        ValueError: mismatched numbers of components, non-positive stds or weights.
    """
    means = _as_float_tensor(means, "means")
    if means.dim() == 1:
        means = means[:, None]  # (K, 1)
    if means.dim() != 2 or means.shape[0] == 0:
        raise ValueError(f"means must have shape (K,) or (K, d) with K >= 1, got {tuple(means.shape)}")
    k = means.shape[0]
    stds = _as_float_tensor(stds, "stds")
    if stds.dim() == 0:
        stds = stds.expand(k)
    if stds.shape != (k,):
        raise ValueError(f"stds must be a number or have shape ({k},) to match means, got {tuple(stds.shape)}")
    if not bool((stds > 0).all()):
        raise ValueError(f"stds must be > 0, got {stds.tolist()}")
    if weights is None:
        weights = torch.ones(k)
    weights = _as_float_tensor(weights, "weights")
    if weights.shape != (k,):
        raise ValueError(f"weights must have shape ({k},) to match means, got {tuple(weights.shape)}")
    if not bool((weights > 0).all()):
        raise ValueError(f"weights must be > 0, got {weights.tolist()}")
    components = D.Independent(D.Normal(means, stds[:, None].expand_as(means)), 1)
    return D.MixtureSameFamily(D.Categorical(probs=weights / weights.sum()), components)


def ring(modes: int = 8, radius: float = 2.0, std: float = 0.02) -> D.MixtureSameFamily:
    """``modes`` equally weighted Gaussians on a circle (VEEGAN's ring: 8 modes, radius 2, std 0.02).

    Returns:
        A 2-D distribution (``event_shape == (2,)``); mode ``k`` sits at angle ``2 pi k / modes``.

    References:
        Srivastava et al., "VEEGAN", NeurIPS 2017, section 5.1.
    """
    check_positive_int(modes, "modes")
    check_positive(radius, "radius")
    check_positive(std, "std")
    angles = 2 * math.pi * torch.arange(modes, dtype=torch.get_default_dtype()) / modes
    centres = radius * torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)  # (K, 2)
    return gaussian_mixture(centres, std)


def grid(size: int = 5, spacing: float = 2.0, std: float = 0.05) -> D.MixtureSameFamily:
    """``size x size`` equally weighted Gaussians on a square grid centred at 0.

    The default is VEEGAN's grid of 25: centres ``{-4, -2, 0, 2, 4}^2``, std 0.05.

    Returns:
        A 2-D distribution (``event_shape == (2,)``).
    """
    check_positive_int(size, "size")
    check_positive(spacing, "spacing")
    check_positive(std, "std")
    ticks = spacing * (torch.arange(size, dtype=torch.get_default_dtype()) - (size - 1) / 2)
    gx, gy = torch.meshgrid(ticks, ticks, indexing="ij")
    return gaussian_mixture(torch.stack([gx.flatten(), gy.flatten()], dim=1), std)


def lognormal(mu: float = 0.0, sigma: float = 1.0) -> D.Independent:
    """The log-normal distribution of ``exp(mu + sigma * eps)``, ``eps ~ N(0, 1)``, as a 1-D event."""
    check_positive(sigma, "sigma")
    return D.Independent(D.LogNormal(torch.tensor([float(mu)]), torch.tensor([float(sigma)])), 1)


def beta(a: float = 2.0, b: float = 5.0) -> D.Independent:
    """The Beta(a, b) distribution on (0, 1), as a 1-D event."""
    check_positive(a, "a")
    check_positive(b, "b")
    return D.Independent(D.Beta(torch.tensor([float(a)]), torch.tensor([float(b)])), 1)


class ParallelLine(D.Distribution):
    """The WGAN paper's example: ``x = (theta, u)`` with ``u ~ U[0, 1]``.

    A vertical segment at horizontal position ``theta``. The distribution is singular in the plane;
    ``log_prob`` is the density with respect to length along the segment: 0 on it, ``-inf`` off it.
    Two such lines with different ``theta`` have disjoint supports: JS = log 2, KL = inf,
    W1 = ``|theta_1 - theta_2|``.

    References:
        Arjovsky, Chintala, Bottou, "Wasserstein GAN", ICML 2017, Example 1.
    """

    arg_constraints = {}
    has_rsample = True

    def __init__(self, theta: float = 0.0, validate_args=None):
        if isinstance(theta, bool) or not isinstance(theta, (int, float)):
            raise TypeError(f"theta must be a number, got {type(theta).__name__}")
        self.theta = float(theta)
        super().__init__(batch_shape=torch.Size(), event_shape=torch.Size([2]), validate_args=validate_args)

    def rsample(self, sample_shape=torch.Size()):
        u = torch.rand(*sample_shape, 1)
        return torch.cat([torch.full_like(u, self.theta), u], dim=-1)

    def log_prob(self, value):
        on_line = (value[..., 0] == self.theta) & (value[..., 1] >= 0) & (value[..., 1] <= 1)
        return torch.where(on_line, torch.zeros_like(value[..., 0]), torch.full_like(value[..., 0], -math.inf))

    @property
    def mean(self):
        return torch.tensor([self.theta, 0.5])


def parallel_line(theta: float = 0.0) -> ParallelLine:
    """A vertical segment ``{theta} x [0, 1]``; see :class:`ParallelLine`."""
    return ParallelLine(theta)
