"""The KL divergence of a diagonal Gaussian from the standard normal, in closed form (the VAE's KL term)."""
from __future__ import annotations

import torch

from .._validation import check_tensor, shape_str


def gaussian_kl(mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """``KL(N(mean, diag(exp(log_var))) || N(0, I))`` in nats, one value per row.

    ``KL = 1/2 sum_j (exp(log_var_j) + mean_j^2 - 1 - log_var_j)``.

    Args:
        mean: means, shape ``(N, k)``.
        log_var: log-variances, shape ``(N, k)``.

    Shapes:
        ``(N, k), (N, k) -> (N,)``.

    Returns:
        The KL divergence of each row's diagonal Gaussian from the standard normal (nats, >= 0).

    Raises:
        TypeError / ValueError: non-float tensors or shapes that differ.

    References:
        Kingma and Welling, "Auto-Encoding Variational Bayes", ICLR 2014, Appendix B (the negative
        of this is their ``-D_KL`` term, eq. (10)).
    """
    check_tensor(mean, "mean", ndim=2)
    check_tensor(log_var, "log_var", ndim=2)
    if mean.shape != log_var.shape:
        raise ValueError(
            f"mean and log_var must have the same shape, got {shape_str(mean.shape)} and {shape_str(log_var.shape)}"
        )
    return 0.5 * (log_var.exp() + mean**2 - 1.0 - log_var).sum(-1)
