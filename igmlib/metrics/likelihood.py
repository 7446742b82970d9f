"""Likelihood-based metrics: held-out log-likelihood in nats (a Gaussian baseline, Parzen windows)."""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch
from torch import distributions as D

from .._validation import check_choice, check_finite, check_positive, check_tensor
from .two_sample import block_rows


def gaussian_log_likelihood(train: torch.Tensor, test: torch.Tensor, *, jitter: float = 1e-6) -> torch.Tensor:
    """Held-out log-likelihood (nats) under one full-covariance Gaussian fitted to ``train``.

    The baseline for likelihood-based models: ``N(mean, cov + jitter I)`` with the sample mean and
    the unbiased sample covariance of ``train``, evaluated with
    ``torch.distributions.MultivariateNormal`` (in float64) on each point of ``test``.

    Args:
        train: ``(N, ...)``, N >= 2; each point is flattened (images ``(N, C, H, W)`` work).
        test: ``(M, ...)`` with the same point shape.
        jitter: added to the covariance's diagonal (constant pixels make it singular).

    Returns:
        ``(M,)`` log-densities in nats (float64, on ``test``'s device).

    Raises:
        TypeError / ValueError: non-tensors, mismatched point shapes, fewer than 2 training points,
            NaN or infinite values.
    """
    check_tensor(train, "train")
    check_tensor(test, "test")
    if train.dim() < 2 or len(train) < 2:
        raise ValueError(f"train must have shape (N, ...) with N >= 2, got {tuple(train.shape)}")
    if test.dim() != train.dim() or test.shape[1:] != train.shape[1:]:
        raise ValueError(
            f"test points must have the shape of train points {tuple(train.shape[1:])}, got {tuple(test.shape[1:])}"
        )
    check_positive(jitter, "jitter", allow_zero=True)
    check_finite(("train", train.detach()), ("test", test.detach().to(train.device)))
    a = train.detach().reshape(len(train), -1).double()
    b = test.detach().reshape(len(test), -1).to(a.device).double()
    cov = torch.atleast_2d(torch.cov(a.T)) + jitter * torch.eye(a.shape[1], dtype=a.dtype, device=a.device)
    return D.MultivariateNormal(a.mean(0), covariance_matrix=cov).log_prob(b).to(test.device)


class BandwidthSelection(NamedTuple):
    """Result of :func:`select_parzen_bandwidth`: the chosen ``bandwidth`` and, per candidate, the
    mean validation log-likelihood (nats) in ``scores``."""

    bandwidth: float
    candidates: tuple[float, ...]
    scores: tuple[float, ...]


def _flat_pair(samples, test) -> tuple[torch.Tensor, torch.Tensor]:
    check_tensor(samples, "samples")
    check_tensor(test, "test")
    if samples.dim() < 2 or test.dim() < 2 or samples.shape[1:] != test.shape[1:]:
        raise ValueError(
            f"samples and test must have shapes (N, ...) and (M, ...) with the same point shape, got "
            f"{tuple(samples.shape)} and {tuple(test.shape)}: use .reshape(-1, d) for N points in d dimensions"
        )
    a = samples.detach().reshape(len(samples), -1).double()
    b = test.detach().reshape(len(test), -1).to(a.device).double()
    check_finite(("samples", a), ("test", b))
    return a, b


def _parzen_values(a: torch.Tensor, b: torch.Tensor, sigmas: tuple[float, ...], batch_size) -> torch.Tensor:
    """Parzen log-densities ``(M, S)`` of the test points ``b (M, d)`` for each bandwidth, with the
    squared distances of each block of test points computed once for every bandwidth."""
    n, d = a.shape
    a_sq = (a * a).sum(1)  # (N,)
    out = torch.empty(len(b), len(sigmas), dtype=a.dtype, device=a.device)
    rows = block_rows(batch_size, n)
    for start in range(0, len(b), rows):
        chunk = b[start:start + rows]
        sq = torch.addmm(a_sq[None, :], chunk, a.T, alpha=-2.0).add_((chunk * chunk).sum(1)[:, None]).clamp_min_(0.0)
        for j, sigma in enumerate(sigmas):  # (B, N) -> (B,)
            const = -math.log(n) - 0.5 * d * math.log(2 * math.pi * sigma * sigma)
            out[start:start + rows, j] = torch.logsumexp(sq * (-0.5 / (sigma * sigma)), dim=1) + const
    return out


def parzen_log_likelihood(samples: torch.Tensor, test: torch.Tensor, bandwidth: float, *,
                          reduction: str = "mean", batch_size: int | None = None) -> torch.Tensor:
    """Log-likelihood (nats) of ``test`` under a Gaussian Parzen-window (kernel density) estimate on ``samples``.

    ``log p(x) = logsumexp_i(-||x - s_i||^2 / (2 sigma^2)) - log N - (d / 2) log(2 pi sigma^2)``:
    an equal mixture of ``N(s_i, sigma^2 I)`` over the ``N`` model samples ``s_i``, evaluated on
    each test point with ``logsumexp`` (float64), ``batch_size`` test points at a time so memory
    stays at a few ``batch_size x N`` blocks (by default 256 Ki entries, 2 MiB each) plus the
    inputs in float64.

    The estimator is the one behind the "Parzen log-likelihood" tables of GAN papers (samples of
    the model, real test data; sigma chosen on a validation split: :func:`select_parzen_bandwidth`).
    Its known weaknesses (Theis, van den Oord, Bethge 2016): in more than a few dimensions it needs
    far more samples than one can draw, so it is biased low and its ranking of models can differ
    from the true likelihoods; a model that memorises the training set scores very well; and a
    good score says little about sample quality (and vice versa). Report it with the protocol and
    with baselines (e.g. the KDE on the training data itself).

    Args:
        samples: model samples ``(N, ...)`` (flattened per point).
        test: points to score ``(M, ...)`` with the same point shape.
        bandwidth: the kernel's standard deviation ``sigma > 0``, in the units of the data.
        reduction: ``"mean"`` (default: the mean over test points, a scalar) or ``"none"`` (``(M,)``).
        batch_size: test points per chunk, or ``None`` (default) for ``BLOCK_ENTRIES // N``
            (:mod:`igmlib.metrics.two_sample`); it does not change the result.

    Returns:
        A float64 tensor on ``test``'s device: a scalar, or ``(M,)`` with ``reduction="none"``.

    Raises:
        TypeError / ValueError: non-tensors, mismatched point shapes, NaN or infinite values, a
            non-positive bandwidth, an unknown reduction, ``batch_size`` not an int > 0.

    References:
        Parzen, "On estimation of a probability density function and mode", Ann. Math. Statist.
        33(3), 1962. Breuleux, Bengio, Vincent, "Quickly generating representative samples from an
        RBM-derived process", Neural Computation 23(8), 2011 (the protocol). Goodfellow et al.,
        "Generative Adversarial Nets", NeurIPS 2014, Table 1. Theis, van den Oord, Bethge, "A note
        on the evaluation of generative models", ICLR 2016, section 3.2.
    """
    sigma = check_positive(bandwidth, "bandwidth")
    check_choice(reduction, "reduction", ("mean", "none"))
    block_rows(batch_size, 1)
    a, b = _flat_pair(samples, test)
    values = _parzen_values(a, b, (sigma,), batch_size)[:, 0].to(test.device)
    return values.mean() if reduction == "mean" else values


def select_parzen_bandwidth(samples: torch.Tensor, validation: torch.Tensor, candidates=None, *,
                            batch_size: int | None = None) -> BandwidthSelection:
    """Choose the Parzen bandwidth that maximises the mean log-likelihood of a validation split.

    The scores are those of :func:`parzen_log_likelihood`; the squared distances of each block are
    computed once for all candidates.

    Args:
        samples: model samples ``(N, ...)``.
        validation: held-out data ``(M, ...)``, not the test set.
        candidates: bandwidths to try (default ``10 ** linspace(-2, 1, 31)``, in the data's units).
        batch_size: as in :func:`parzen_log_likelihood`.

    Returns:
        A :class:`BandwidthSelection` (the best bandwidth, the candidates and their scores).

    Raises:
        TypeError / ValueError: as :func:`parzen_log_likelihood`; an empty candidate list, a
            candidate that is not a finite number > 0.

    References:
        Breuleux et al. 2011; Goodfellow et al. 2014 (sigma chosen by cross-validation on a
        validation set).
    """
    if candidates is None:
        candidates = np.logspace(-2, 1, 31)
    candidates = tuple(check_positive(float(c), "bandwidth candidate") for c in candidates)
    if not candidates:
        raise ValueError("candidates is empty: pass at least one bandwidth, e.g. numpy.logspace(-2, 1, 31)")
    block_rows(batch_size, 1)
    a, b = _flat_pair(samples, validation)
    scores = tuple(float(v) for v in _parzen_values(a, b, candidates, batch_size).mean(0))
    best = int(np.argmax(scores))
    return BandwidthSelection(candidates[best], candidates, scores)
