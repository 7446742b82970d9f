"""Discrepancies between distributions known only through samples: Gaussian kernels and the MMD.

Kernel convention (used everywhere in igmlib):

.. math::  k_h(x, y) = \\exp\\left(-\\frac{\\lVert x - y \\rVert^2}{2 h^2}\\right),

with the *bandwidth* ``h`` a length in the units of ``x`` (``k = 1`` at ``x = y``, ``k = e^{-1/2}``
at distance ``h``). Li et al.'s GMMN code writes the same kernel as ``exp(-|x - y|^2 / (2 sigma))``,
so their ``sigma`` is our ``h ** 2``. A sequence of bandwidths means the *sum* of the kernels, as in
GMMN's multi-scale loss.

Samples are tensors whose first dimension indexes samples: ``(N, d)``, or ``(N, C, H, W)`` images,
which are flattened to ``(N, C * H * W)`` (every dimension after the first is flattened).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from .._validation import check_positive, shape_str

Bandwidth = float | Sequence[float] | torch.Tensor


def _flat(x, name: str) -> torch.Tensor:
    """``x`` as ``(N, features)``: every dimension after the first is flattened."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor, got {type(x).__name__}: "
            f"convert it with torch.as_tensor({name}, dtype=torch.float32)"
        )
    if not x.is_floating_point():
        raise TypeError(f"{name} must have a floating-point dtype, got {x.dtype}: use {name}.float()")
    if x.dim() < 2:
        raise ValueError(
            f"{name} must have shape (N, d) or (N, ...) with samples along the first dimension, "
            f"got {shape_str(x.shape)}: use {name}.reshape(-1, 1) for N scalars"
        )
    if x.shape[0] == 0 or x[0].numel() == 0:
        raise ValueError(f"{name} is empty (shape {shape_str(x.shape)}): pass at least one sample")
    return x.reshape(x.shape[0], -1)


def _pair(x, y) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = _flat(x, "x"), _flat(y, "y")
    if x.shape[1] != y.shape[1]:
        raise ValueError(
            f"x and y must have the same number of features per sample, got {x.shape[1]} and "
            f"{y.shape[1]} (x {shape_str(x.shape)}, y {shape_str(y.shape)} after flattening): "
            "compare samples of the same space"
        )
    if x.dtype != y.dtype or x.device != y.device:
        raise TypeError(
            f"x and y must share dtype and device, got {x.dtype} on {x.device} and {y.dtype} on "
            f"{y.device}: use y.to(x)"
        )
    return x, y


def _bandwidths(bandwidth, like: torch.Tensor) -> torch.Tensor:
    """The bandwidths as a 1-D tensor ``(B,)`` on ``like``'s device and dtype."""
    if isinstance(bandwidth, str):
        raise TypeError(
            f"bandwidth must be a number or a sequence of numbers, got the string {bandwidth!r}: "
            "for the median heuristic use mmd2(x, y, bandwidth='median') or median_bandwidth(x, y)"
        )
    if isinstance(bandwidth, torch.Tensor):
        values = [float(b) for b in bandwidth.detach().reshape(-1)]
    elif isinstance(bandwidth, Sequence):
        values = list(bandwidth)
    else:
        values = [bandwidth]
    if not values:
        raise ValueError("bandwidth is an empty sequence: pass at least one bandwidth, e.g. (0.5, 1.0, 2.0)")
    values = [check_positive(v, "bandwidth") for v in values]
    return torch.tensor(values, device=like.device, dtype=like.dtype)


def squared_distances(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Pairwise squared Euclidean distances ``||x_i - y_j||^2``.

    Uses the expanded form ``|x|^2 + |y|^2 - 2 x.y`` (one matrix product), clamped at 0 against
    round-off.

    Shapes:
        ``x (N, ...)``, ``y (M, ...)`` with the same number of features -> ``(N, M)``.

    Raises:
        TypeError / ValueError: see :func:`gaussian_kernel`.
    """
    x, y = _pair(x, y)
    x_sq = (x * x).sum(dim=1)  # (N,)
    y_sq = (y * y).sum(dim=1)  # (M,)
    return (x_sq[:, None] + y_sq[None, :] - 2.0 * x @ y.T).clamp_min(0.0)  # (N, M)


def gaussian_kernel(x: torch.Tensor, y: torch.Tensor, bandwidth: Bandwidth) -> torch.Tensor:
    """Gaussian kernel matrix ``k(x_i, y_j) = sum_h exp(-||x_i - y_j||^2 / (2 h^2))``.

    Args:
        x: samples ``(N, d)`` (or ``(N, ...)``, flattened).
        y: samples ``(M, d)`` with the same number of features.
        bandwidth: ``h > 0`` (a length in the units of ``x``), or a sequence / 1-D tensor of
            bandwidths: the kernel is then the sum of the single-bandwidth kernels (so
            ``k(x, x)`` equals the number of bandwidths).

    Shapes:
        ``(N, d), (M, d) -> (N, M)``.

    Returns:
        The kernel matrix, on ``x``'s device and dtype, differentiable in ``x`` and ``y``.

    Raises:
        TypeError: non-tensor or non-float inputs, mismatched dtypes/devices, a string bandwidth.
        ValueError: fewer than 2 dimensions, mismatched feature sizes, non-positive bandwidths.

    References:
        Li, Swersky, Zemel, "Generative Moment Matching Networks", ICML 2015, and their code
        (github.com/yujiali/gmmn): a sum of Gaussian kernels at several scales.
    """
    sq = squared_distances(x, y)  # (N, M)
    h = _bandwidths(bandwidth, sq)  # (B,)
    # exp underflows to ~0 below this; clamping keeps torch.exp on its fast vectorised path
    # (arguments far below it are ~10x slower) and changes no value above 1e-34 (1e-304 in float64).
    floor = -700.0 if sq.dtype == torch.float64 else -78.0
    kernel = None
    for scale in (-0.5 / (h * h)).tolist():  # a loop is faster than a (B, N, M) intermediate
        k = torch.exp((sq * scale).clamp_min(floor))  # (N, M)
        kernel = k if kernel is None else kernel + k
    return kernel


@torch.no_grad()
def median_bandwidth(x: torch.Tensor, y: torch.Tensor | None = None) -> float:
    """The median heuristic: the median Euclidean distance between distinct pooled samples.

    ``h = median{ ||z_i - z_j|| : i < j }`` over the pooled sample ``z = [x; y]`` (``y`` optional).
    Conventions vary (some use the median *squared* distance, or divide by 2); this one makes
    ``k = exp(-1/2)`` at the median distance. Computed without gradients.

    Args:
        x: samples ``(N, d)`` (or ``(N, ...)``, flattened).
        y: optional samples ``(M, d)``, pooled with ``x``.

    Returns:
        The bandwidth as a Python float (0.0 if every pooled sample is identical).

    Raises:
        TypeError / ValueError: as :func:`gaussian_kernel`; fewer than 2 pooled samples.

    References:
        Gretton et al., "A Kernel Two-Sample Test", JMLR 13, 2012, experiments (kernel size set
        to the median distance between points in the aggregate sample).
    """
    z = _flat(x, "x") if y is None else torch.cat(_pair(x, y))
    if len(z) < 2:
        raise ValueError(f"the median heuristic needs at least 2 pooled samples, got {len(z)}")
    z = z.double()
    i, j = torch.triu_indices(len(z), len(z), offset=1, device=z.device)
    distances = squared_distances(z, z)[i, j].sqrt()  # (N (N - 1) / 2,)
    return float(np.median(distances.cpu().numpy()))


def mmd2(x: torch.Tensor, y: torch.Tensor, *, bandwidth: Bandwidth | str, unbiased: bool = True) -> torch.Tensor:
    """Squared maximum mean discrepancy between the samples ``x`` and ``y`` with a Gaussian kernel.

    ``MMD^2 = E k(x, x') + E k(y, y') - 2 E k(x, y)``, estimated from ``x_1..x_N`` and ``y_1..y_M``:

    - ``unbiased=True`` (U-statistic): the within-sample averages leave out ``i = j``
      (divide by ``N (N - 1)`` and ``M (M - 1)``). Unbiased, so it averages 0 when both samples
      come from one distribution, and can be negative.
    - ``unbiased=False`` (V-statistic): every pair, ``i = j`` included (divide by ``N^2`` and
      ``M^2``). Always ``>= 0`` (it is a squared RKHS norm), biased upwards by ``O(1/N)``; the
      estimator of GMMN's training code.

    Args:
        x: samples ``(N, d)`` (or ``(N, ...)``, flattened), e.g. model samples.
        y: samples ``(M, d)`` with the same number of features, e.g. data.
        bandwidth: kernel bandwidth ``h`` (see :func:`gaussian_kernel`), a sequence of bandwidths
            (sum of kernels), or ``"median"`` (:func:`median_bandwidth` of the pooled samples,
            treated as a constant).
        unbiased: U-statistic (default) or V-statistic.

    Shapes:
        ``(N, d), (M, d) -> ()``.

    Returns:
        A scalar tensor (squared kernel units; the kernel is dimensionless), differentiable in
        ``x`` and ``y``.

    Raises:
        TypeError / ValueError: as :func:`gaussian_kernel`; an unknown bandwidth string; fewer
        than 2 samples in ``x`` or ``y`` for the unbiased estimator.

    References:
        Gretton et al., "A Kernel Two-Sample Test", JMLR 13, 2012: Lemma 6 (population MMD^2 in
        kernel form and the unbiased MMD_u^2, two U-statistics and a sample average) and the
        biased V-statistic MMD_b.
        Li, Swersky, Zemel, "Generative Moment Matching Networks", ICML 2015.
        Dziugaite, Roy, Ghahramani, "Training generative neural networks via Maximum Mean
        Discrepancy optimization", UAI 2015.
    """
    x, y = _pair(x, y)
    if isinstance(bandwidth, str):
        if bandwidth != "median":
            raise ValueError(f"unknown bandwidth {bandwidth!r}; choose 'median' or pass numbers, e.g. (0.5, 1.0, 2.0)")
        bandwidth = median_bandwidth(x, y)
        if bandwidth == 0.0:
            raise ValueError("the median heuristic gave bandwidth 0 (the pooled samples coincide): pass a bandwidth")
    n, m = len(x), len(y)
    if unbiased and (n < 2 or m < 2):
        raise ValueError(f"the unbiased MMD^2 needs at least 2 samples in x and y, got {n} and {m}: use unbiased=False")
    k_xx = gaussian_kernel(x, x, bandwidth)  # (N, N)
    k_yy = gaussian_kernel(y, y, bandwidth)  # (M, M)
    k_xy = gaussian_kernel(x, y, bandwidth)  # (N, M)
    if unbiased:
        xx = (k_xx.sum() - k_xx.diagonal().sum()) / (n * (n - 1))
        yy = (k_yy.sum() - k_yy.diagonal().sum()) / (m * (m - 1))
    else:
        xx, yy = k_xx.mean(), k_yy.mean()
    return xx + yy - 2.0 * k_xy.mean()
