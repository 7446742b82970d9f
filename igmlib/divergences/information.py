"""Variational lower bounds on the mutual information between a code and a sample (Barber and
Agakov 2003), as InfoGAN maximises them: one for a uniform categorical code read by a softmax,
one for uniform continuous codes read by a factored Gaussian. Both in nats."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .._validation import check_tensor


def mutual_information_bound(logits: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
    """Lower bound on ``I(c; x)`` for a uniform categorical code: ``ln K - CE`` in nats.

    ``I(c; x) = H(c) - H(c | x) >= H(c) + E[log Q(c | x)]`` for any distribution ``Q(c | x)``
    (the gap is ``E_x KL(p(c | x) || Q(c | x))``). With ``c`` uniform over ``K`` values ``H(c) = ln K``,
    and the expectation is estimated by the mean log-softmax of ``logits`` at the true codes (minus
    the cross-entropy). The bound is at most ``ln K``, reached when Q puts probability 1 on every
    true code; it is 0 for a Q that predicts the uniform distribution, and negative for a Q that is
    confidently wrong.

    Args:
        logits: Q's unnormalised log-probabilities, ``(N, K)``.
        codes: the codes that generated the samples: indices ``(N,)`` (int64) or one-hot ``(N, K)``.

    Returns:
        A scalar tensor (nats), differentiable in ``logits``.

    Raises:
        TypeError / ValueError: wrong shapes or dtypes, or index codes outside ``0..K-1``.

    References:
        Barber and Agakov, "The IM Algorithm: A Variational Approach to Information Maximization",
        NeurIPS 2003. Chen et al., "InfoGAN", NeurIPS 2016, Lemma 5.1 and eq. (5).
    """
    logits = check_tensor(logits, "logits", ndim=2)
    k = logits.shape[1]
    if codes.dim() == 2:
        check_tensor(codes, "codes", ndim=2, last_dim=k, floating=False)
        codes = codes.argmax(1)
    if codes.dim() != 1 or codes.shape[0] != logits.shape[0] or codes.is_floating_point():
        raise ValueError(
            f"codes must be indices (N,) int64 or one-hot (N, {k}) with N = {logits.shape[0]}, "
            f"got {tuple(codes.shape)} {codes.dtype}"
        )
    if codes.min() < 0 or codes.max() >= k:
        raise ValueError(f"index codes must lie in 0..{k - 1}, got values in {int(codes.min())}..{int(codes.max())}")
    return math.log(k) - F.cross_entropy(logits, codes)


def gaussian_information_bound(mean: torch.Tensor, codes: torch.Tensor, log_std: torch.Tensor | float = 0.0,
                               *, low: float = -1.0, high: float = 1.0) -> torch.Tensor:
    """Lower bound on ``I(u; x)`` for codes ``u ~ U(low, high)^L`` read by a Gaussian Q, in nats.

    ``sum_l [ln(high - low) + E log N(u_l; mean_l(x), std_l^2)]``: the entropy of the uniform codes
    plus Q's mean log-density at the true codes. It is bounded above only through Q's accuracy
    (a sharper Gaussian gives a larger value when its mean is right), so compare it across models
    at the same ``log_std`` (InfoGAN fixes ``std = 1`` on MNIST).

    Args:
        mean: Q's means, ``(N, L)``.
        codes: the true codes, ``(N, L)``.
        log_std: Q's log standard deviations, a float or a tensor broadcastable to ``(N, L)``.
        low, high: the support of the uniform code distribution.

    Returns:
        A scalar tensor (nats), the sum over the ``L`` codes of the per-code bound.

    Raises:
        ValueError: ``mean`` and ``codes`` of different shapes, or ``high <= low``.

    References:
        Chen et al., "InfoGAN", NeurIPS 2016, section 5 (a factored Gaussian Q for continuous codes).
    """
    mean = check_tensor(mean, "mean", ndim=2)
    codes = check_tensor(codes, "codes", ndim=2, last_dim=mean.shape[1])
    if codes.shape != mean.shape:
        raise ValueError(f"codes must have the shape of mean {tuple(mean.shape)}, got {tuple(codes.shape)}")
    if not high > low:
        raise ValueError(f"need low < high, got low={low}, high={high}")
    log_std = torch.as_tensor(log_std, dtype=mean.dtype, device=mean.device)
    log_q = -0.5 * ((codes - mean) * torch.exp(-log_std)) ** 2 - log_std - 0.5 * math.log(2 * math.pi)  # (N, L)
    return (math.log(high - low) + log_q).mean(0).sum()


__all__ = ["gaussian_information_bound", "mutual_information_bound"]
