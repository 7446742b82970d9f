"""Sample-based metrics on toys with known modes or densities: mode coverage and the mode KL on
2-D mixtures, a histogram KL and the exact W1 for 1-D samples, the exact log-density of samples.

Generic two-sample scores (a classifier two-sample test, precision and recall) are in
:mod:`igmlib.metrics.two_sample`; the MMD is :func:`igmlib.divergences.mmd2`.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch
from torch import distributions as D

from .._validation import check_choice, check_finite, check_positive, check_positive_int, check_tensor
from ..runtime import fork_rng


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


def _assign_modes(samples, data, centres, std, threshold) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Nearest mode ``(N,)``, high-quality mask ``(N,)`` and mode weights ``(K,)`` (VEEGAN's rule).

    The weights are the mixture's when ``data`` is given, uniform with explicit ``centres``.
    """
    check_positive(threshold, "threshold")
    if (data is None) == (centres is None):
        raise ValueError("pass either data (a Gaussian mixture) or centres= and std=, not both or neither")
    if data is not None:
        centres, std = mixture_modes(data)
        weights = data.mixture_distribution.probs.detach().cpu()
    elif std is None:
        raise ValueError("std is required with centres=")
    centres = check_tensor(torch.as_tensor(centres), "centres", ndim=2).detach().cpu()
    if data is None:
        weights = torch.full((centres.shape[0],), 1.0 / centres.shape[0], dtype=torch.float64)
    samples = check_tensor(samples, "samples", ndim=2, last_dim=centres.shape[1])
    samples = samples.detach().to("cpu", centres.dtype)
    std = torch.as_tensor(std, dtype=centres.dtype).detach().cpu().expand(centres.shape[0])
    check_finite(("samples", samples), ("centres", centres), ("std", std))
    dist = torch.cdist(samples, centres)  # (N, K)
    nearest_dist, nearest = dist.min(dim=1)
    good = nearest_dist <= threshold * std[nearest]
    return nearest, good, weights.double()


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
        TypeError / ValueError: bad shapes, neither or both of ``data`` and ``centres``, NaN or
            infinite samples (or centres, std).

    References:
        Srivastava et al., "VEEGAN", NeurIPS 2017, section 5.1.
    """
    nearest, good, weights = _assign_modes(samples, data, centres, std, threshold)
    captured = torch.unique(nearest[good]).numel()
    return ModeCoverage(int(captured), float(good.float().mean()), int(weights.shape[0]))


def mode_kl(
    samples: torch.Tensor,
    data: D.MixtureSameFamily | None = None,
    *,
    centres: torch.Tensor | None = None,
    std: float | torch.Tensor | None = None,
    threshold: float = 3.0,
) -> float:
    """Reverse KL (nats) from the mode histogram of the high-quality samples to the modes' weights.

    Each high-quality sample (within ``threshold`` std of its nearest mode, as in
    :func:`mode_coverage`) is assigned to its nearest mode; ``q_k`` is the fraction of the
    high-quality samples at mode ``k`` and ``w_k`` the mode's weight (uniform ``1/K`` for
    igmlib's ring and grid, the mixture weights for other mixtures, uniform with ``centres=``):

    ``KL(q || w) = sum_k q_k log(q_k / w_k)``, which is ``log K - H(q)`` for uniform weights.

    The direction is the *reverse* KL (the model's histogram first), the one PacGAN reports: it is
    finite when modes are empty (``0 log 0 = 0``); it is 0 for a perfect spread and ``log K``
    when every high-quality sample sits at one mode of ``K`` equal ones. The forward direction
    ``KL(w || q)`` would be infinite as soon as one mode is empty, so it cannot rank collapsed
    models. Caveats: low-quality samples are left out (report :func:`mode_coverage`'s
    ``high_quality`` next to it); with few samples per mode the histogram's noise adds a positive
    bias of about ``(K - 1) / (2 n)`` nats for ``n`` high-quality samples.

    Args:
        samples: model samples ``(N, d)``.
        data: a Gaussian mixture (e.g. :func:`igmlib.data.grid`); or give ``centres`` and ``std``.
        centres: mode centres ``(K, d)`` (the weights are then uniform).
        std: the modes' standard deviation (a number or ``(K,)``).
        threshold: the high-quality distance in standard deviations.

    Returns:
        The KL in nats, in ``[0, log(1 / min_k w_k)]``; ``nan`` if no sample is of high quality
        (the histogram is undefined).

    Raises:
        TypeError / ValueError: as :func:`mode_coverage`.

    References:
        Lin, Khetan, Fanti, Oh, "PacGAN: The power of two samples in generative adversarial
        networks", NeurIPS 2018, Table 1 (modes, high-quality samples and reverse KL on the 2-D
        grid and ring); their released code (github.com/fjxmlzn/PacGAN) histograms the
        high-quality samples over the modes and logs the entropy ``H(q)``. Srivastava et al., "VEEGAN", NeurIPS 2017 (the
        high-quality rule).
    """
    nearest, good, weights = _assign_modes(samples, data, centres, std, threshold)
    if not bool(good.any()):
        return math.nan
    q = torch.bincount(nearest[good], minlength=weights.shape[0]).double()
    q = q / q.sum()
    seen = q > 0  # 0 log 0 = 0
    return float((q[seen] * (q[seen].log() - weights[seen].log())).sum().clamp_min(0.0))


def histogram_kl(samples: torch.Tensor, density: D.Distribution, *, bins: int = 50, range=None, eps: float = 1e-10) -> float:
    """KL(p || q_hist) in nats between a known 1-D density p and a histogram of samples.

    ``p_i`` is p's mass in bin ``i`` of ``range`` (integrated with ``scipy.integrate.quad``),
    ``q_i`` the fraction of samples in it; one more bin holds everything outside ``range`` (p's
    remaining mass and the fraction of samples there), so samples far from p count as misses
    instead of being dropped. ``eps`` avoids log 0 for empty bins.

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
        TypeError / ValueError: bad shapes, NaN or infinite samples, bins <= 0, an empty range.
    """
    from scipy import integrate

    check_positive_int(bins, "bins")
    samples = check_tensor(samples, "samples", ndim=(1, 2))
    if samples.dim() == 2 and samples.shape[1] != 1:
        raise ValueError(f"samples must have shape (N,) or (N, 1), got {tuple(samples.shape)}")
    samples = samples.detach().cpu().double().reshape(-1)
    check_finite(("samples", samples))
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
        with torch.no_grad(), fork_rng(0):  # deterministic; caller's RNG untouched
            ref = density.sample((20000,)).reshape(-1).double()
        range = (float(torch.quantile(ref, 0.001)), float(torch.quantile(ref, 0.999)))
    low, high = map(float, range)
    if not high > low:
        raise ValueError(f"range must satisfy low < high, got {range}")
    edges = np.linspace(low, high, bins + 1)
    p = np.array([integrate.quad(pdf, a, b, limit=100)[0] for a, b in zip(edges[:-1], edges[1:])])
    counts, _ = np.histogram(samples.reshape(-1).numpy(), bins=edges)
    p = np.append(p, max(1.0 - p.sum(), 0.0)) + eps           # the last bin: outside the range
    q = np.append(counts, len(samples) - counts.sum()) / max(len(samples), 1) + eps
    p, q = p / p.sum(), q / q.sum()
    return float(np.sum(p * np.log(p / q)))


def _one_d(x, name: str) -> torch.Tensor:
    x = check_tensor(x, name, ndim=(1, 2))
    if x.dim() == 2 and x.shape[1] != 1:
        raise ValueError(f"{name} must have shape (N,) or (N, 1), got {tuple(x.shape)}: W1 here is for 1-D samples")
    x = x.detach().cpu().double().reshape(-1)
    check_finite((name, x))
    return x


def wasserstein_1d(samples_a: torch.Tensor, samples_b: torch.Tensor) -> float:
    """Exact Wasserstein-1 distance between the empirical distributions of two 1-D samples.

    ``W1 = integral |F_a(t) - F_b(t)| dt`` with the empirical CDFs ``F_a``, ``F_b``
    (``scipy.stats.wasserstein_distance``, exact in 1-D; the sizes may differ). Between two
    samples of one distribution it is positive and shrinks like ``O(1 / sqrt(N))``; for a shift
    ``b = a + c`` it is exactly ``|c|``.

    Args:
        samples_a: ``(N,)`` or ``(N, 1)``, e.g. model samples.
        samples_b: ``(M,)`` or ``(M, 1)``, e.g. data.

    Returns:
        W1 in the units of the samples, >= 0.

    Raises:
        TypeError / ValueError: non-float tensors, empty samples, NaN or infinite values, or more
            than one feature.

    References:
        Villani, "Optimal Transport: Old and New", 2009 (W1 and, in 1-D, the CDF formula);
        Arjovsky, Chintala, Bottou, "Wasserstein GAN", ICML 2017, eq. (1).
    """
    from scipy.stats import wasserstein_distance

    a, b = _one_d(samples_a, "samples_a"), _one_d(samples_b, "samples_b")
    return float(wasserstein_distance(a.numpy(), b.numpy()))


def toy_log_likelihood(samples: torch.Tensor, data: D.Distribution, *, reduction: str = "mean"):
    """Exact log-density (nats) of generated samples under the known toy density ``data``.

    ``(1/N) sum_i log p_data(x_i)`` for model samples ``x_i``: a *precision*-like score (are the
    samples where the data are?). It is not the model's likelihood of the data, and it does not
    see missing modes: it rewards collapse, since a sampler that puts every sample on the
    densest mode (or the centre of one narrow mode) scores higher than the data itself. Report it
    with a coverage score (:func:`mode_coverage`, :func:`mode_kl`, ``recall`` of
    :func:`igmlib.metrics.precision_recall`). Samples outside the support of ``data`` score
    ``-inf`` (so does the mean).

    Args:
        samples: model samples ``(N, d)`` with ``d`` = ``data.event_shape[0]``.
        data: a distribution with an exact ``log_prob`` (igmlib's toys, ``event_shape == (d,)``).
        reduction: ``"mean"`` (a float) or ``"none"`` (a float64 tensor ``(N,)``).

    Returns:
        The mean log-density as a float, or the per-sample values.

    Raises:
        TypeError / ValueError: a non-distribution, samples not ``(N, d)``, NaN or infinite
            samples, an unknown reduction.

    References:
        Lin et al., "PacGAN", NeurIPS 2018 (their released code logs the summed log-density of
        generated samples under the true 2-D mixture); Theis, van den Oord, Bethge, "A note on the evaluation of generative
        models", ICLR 2016, section 3 (sample quality and likelihood are different things).
    """
    if not isinstance(data, D.Distribution):
        raise TypeError(f"data must be a torch.distributions.Distribution (e.g. igmlib.data.ring()), "
                        f"got {type(data).__name__}")
    check_choice(reduction, "reduction", ("mean", "none"))
    if len(data.event_shape) != 1:
        raise ValueError(f"data must have a 1-D event_shape (d,), got {tuple(data.event_shape)}")
    d = data.event_shape[0]
    samples = check_tensor(samples, "samples", ndim=2, last_dim=d)
    try:
        dtype = data.mean.dtype
    except (NotImplementedError, AttributeError):
        dtype = torch.get_default_dtype()
    x = samples.detach().to("cpu", dtype)
    check_finite(("samples", x))
    try:
        inside = data.support.check(x)
    except NotImplementedError:
        inside = torch.ones(len(x), dtype=torch.bool)
    inside = inside.reshape(len(x), -1).all(dim=1) if inside.dim() > 1 else inside
    values = torch.full((len(x),), -math.inf, dtype=torch.float64)
    if bool(inside.any()):
        values[inside] = data.log_prob(x[inside]).double()
    return float(values.mean()) if reduction == "mean" else values
