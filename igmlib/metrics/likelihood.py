"""Likelihood-based metrics: held-out log-likelihood in nats."""
from __future__ import annotations

import torch
from torch import distributions as D

from .._validation import check_positive, check_tensor


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
        TypeError / ValueError: non-tensors, mismatched point shapes, fewer than 2 training points.
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
    a = train.detach().reshape(len(train), -1).double()
    b = test.detach().reshape(len(test), -1).to(a.device).double()
    cov = torch.atleast_2d(torch.cov(a.T)) + jitter * torch.eye(a.shape[1], dtype=a.dtype, device=a.device)
    return D.MultivariateNormal(a.mean(0), covariance_matrix=cov).log_prob(b).to(test.device)
