"""Sample-based metrics: mode coverage on 2-D mixtures and a histogram KL for 1-D samples."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from torch import distributions as D

from .._validation import check_positive, check_positive_int, check_tensor

class ModeCoverage(NamedTuple):
    """``modes``: modes captured; ``high_quality``: fraction of samples within ``threshold`` std of
    their nearest mode; ``total``: number of modes."""

    modes: int
    high_quality: float
    total: int


def mixture_modes(data: D.MixtureSameFamily) -> tuple[torch.Tensor, torch.Tensor]:
    """Centres ``(K, d)`` and per-mode std ``(K,)`` of a mixture of isotropic Gaussians.

    Raises:
        TypeError: ``data`` is not a ``MixtureSameFamily`` of (Independent) Normals.
    """
    comp = getattr(data, "component_distribution", None)
    base = getattr(comp, "base_dist", comp)
    if not isinstance(data, D.MixtureSameFamily) or not isinstance(base, D.Normal):
        raise TypeError(
            f"data must be a mixture of Gaussians such as igmlib.data.ring() or grid(), got {type(data).__name__}; "
            "or pass centres= and std= explicitly"
        )
    centres = comp.mean.reshape(comp.mean.shape[0], -1)
    std = comp.stddev.reshape(centres.shape).mean(dim=1)
    return centres, std


def mode_coverage(
    samples: torch.Tensor,
    data: D.MixtureSameFamily | None = None,
    *,
    centres: torch.Tensor | None = None,
    std: float | torch.Tensor | None = None,
    threshold: float = 3.0,
) -> ModeCoverage:
    """Modes captured and the fraction of high-quality samples, with VEEGAN's definitions.

    A sample is *high quality* if it lies within ``threshold`` standard deviations of its nearest
    mode; a mode is *captured* if it is the nearest mode of at least one high-quality sample.
    VEEGAN uses 2,500 samples and ``threshold = 3``.

    Args:
        samples: model samples, shape ``(N, d)``.
        data: a Gaussian mixture (e.g. :func:`igmlib.data.ring`); or give ``centres`` and ``std``.
        centres: mode centres ``(K, d)``.
        std: the modes' standard deviation (a number or ``(K,)``).
        threshold: distance in standard deviations.

    Returns:
        :class:`ModeCoverage` ``(modes, high_quality, total)``.

    Raises:
        TypeError / ValueError: bad shapes, neither or both of ``data`` and ``centres``.

    References:
        Srivastava et al., "VEEGAN", NeurIPS 2017, section 5.1.
    """
    check_positive(threshold, "threshold")
    if (data is None) == (centres is None):
        raise ValueError("pass either data (a Gaussian mixture) or centres= and std=, not both or neither")
    if data is not None:
        centres, std = mixture_modes(data)
    elif std is None:
        raise ValueError("std is required with centres=")
    centres = check_tensor(torch.as_tensor(centres), "centres", ndim=2)
    samples = check_tensor(samples, "samples", ndim=2, last_dim=centres.shape[1])
    samples = samples.detach().to("cpu", centres.dtype)
    std = torch.as_tensor(std, dtype=centres.dtype).expand(centres.shape[0])
    dist = torch.cdist(samples, centres)  # (N, K)
    nearest_dist, nearest = dist.min(dim=1)
    good = nearest_dist <= threshold * std[nearest]
    captured = torch.unique(nearest[good]).numel()
    return ModeCoverage(int(captured), float(good.float().mean()), int(centres.shape[0]))


def histogram_kl(samples: torch.Tensor, density: D.Distribution, *, bins: int = 50, range=None, eps: float = 1e-10) -> float:
    """KL(p || q_hist) in nats between a known 1-D density p and a histogram of samples.

    Both are restricted to ``range`` and renormalised there: ``p_i`` is p's mass in bin ``i``
    (integrated with ``scipy.integrate.quad``), ``q_i`` the fraction of samples in it (``eps``
    avoids log 0 for empty bins).

    Args:
        samples: shape ``(N,)`` or ``(N, 1)``.
        density: a distribution with ``log_prob`` on ``(M, 1)`` (igmlib's 1-D toys) or ``(M,)``.
        bins: number of equal-width bins.
        range: ``(low, high)``; default: the 0.1% and 99.9% quantiles of 20,000 ``density.sample``
            draws with a fixed seed (deterministic; the global RNG is left untouched).
        eps: pseudo-count added to every bin's probability.

    Returns:
        KL in nats (>= 0 up to the ``eps`` smoothing).

    Raises:
        TypeError / ValueError: bad shapes, bins <= 0, an empty range.
    """
    from scipy import integrate

    check_positive_int(bins, "bins")
    samples = check_tensor(samples, "samples", ndim=(1, 2))
    if samples.dim() == 2 and samples.shape[1] != 1:
        raise ValueError(f"samples must have shape (N,) or (N, 1), got {tuple(samples.shape)}")
    samples = samples.detach().cpu().double().reshape(-1)
    event_1d = len(density.event_shape) == 1

    def pdf(t: float) -> float:
        x = torch.tensor([[t]] if event_1d else [t], dtype=torch.get_default_dtype())
        try:  # the density is 0 outside the support (log_prob would raise there)
            if not bool(density.support.check(x).all()):
                return 0.0
        except NotImplementedError:
            pass
        return float(density.log_prob(x).exp())

    if range is None:
        with torch.no_grad(), torch.random.fork_rng(devices=[]):  # deterministic; caller's RNG untouched
            torch.manual_seed(0)
            ref = density.sample((20000,)).reshape(-1).double()
        range = (float(torch.quantile(ref, 0.001)), float(torch.quantile(ref, 0.999)))
    low, high = map(float, range)
    if not high > low:
        raise ValueError(f"range must satisfy low < high, got {range}")
    edges = np.linspace(low, high, bins + 1)
    p = np.array([integrate.quad(pdf, a, b, limit=100)[0] for a, b in zip(edges[:-1], edges[1:])])
    counts, _ = np.histogram(samples.reshape(-1).numpy(), bins=edges)
    p = p / p.sum() + eps
    q = counts / max(counts.sum(), 1) + eps
    p, q = p / p.sum(), q / q.sum()
    return float(np.sum(p * np.log(p / q)))
