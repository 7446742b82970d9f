"""The MMD with any kernel: the unbiased estimate from kernel matrices, and the heavy-tailed kernels
of MMD GAN (rational quadratic) and the Wasserstein autoencoder (inverse multiquadratics).

:func:`igmlib.divergences.mmd2` is the Gaussian-kernel MMD of chapter 3 (blocked for large samples);
the kernels here decay polynomially, not exponentially, so samples far apart still pull on each
other. Build a kernel's three matrices and pass them to :func:`unbiased_mmd2`::

    k = lambda a, b: rational_quadratic_kernel(a, b, (0.2, 0.5, 1.0, 2.0, 5.0))
    value = unbiased_mmd2(k(x, x), k(y, y), k(x, y))
"""
from __future__ import annotations

from collections.abc import Sequence

import torch

from .._validation import check_positive, shape_str
from .kernels import squared_distances


def rational_quadratic_kernel(x: torch.Tensor, y: torch.Tensor, alphas: Sequence[float]) -> torch.Tensor:
    """A sum of rational-quadratic kernels ``sum_a (1 + ||x_i - y_j||^2 / (2 a))^(-a)``.

    Each term is a scale mixture of Gaussian kernels; it decays polynomially, not exponentially,
    so far-apart points still get a gradient. ``a -> inf`` gives the Gaussian kernel with ``h = 1``.

    Args:
        x: samples ``(N, d)`` (or ``(N, ...)``, flattened).
        y: samples ``(M, d)`` with the same number of features.
        alphas: the shape parameters ``a > 0`` (dimensionless; the length scale is 1 in the units
            of ``x``, which a learned feature map absorbs).

    Shapes:
        ``(N, d), (M, d) -> (N, M)``.

    Raises:
        TypeError / ValueError: as :func:`igmlib.divergences.squared_distances`; an empty or
            non-positive ``alphas``.

    References:
        Bińkowski, Sutherland, Arbel, Gretton, "Demystifying MMD GANs", ICLR 2018, experiments (the
        mixture over ``alpha in {0.2, 0.5, 1, 2, 5}``); their code ``gan/core/mmd.py``
        (``_mix_rq_kernel``, computed as ``exp(-a log(1 + d^2 / (2 a)))`` as here).
    """
    alphas = check_scales(alphas, "alphas")
    sq = squared_distances(x, y)  # (N, M)
    kernel = None
    for a in alphas:
        k = torch.exp(torch.log1p(sq * (0.5 / a)) * -a)  # (N, M); scalar products: no tensor divisions
        kernel = k if kernel is None else kernel + k
    return kernel


def inverse_multiquadratic_kernel(x: torch.Tensor, y: torch.Tensor, scales: Sequence[float]) -> torch.Tensor:
    """A sum of inverse multiquadratics kernels ``sum_c c / (c + ||x_i - y_j||^2)``.

    Args:
        x: samples ``(N, d)`` (or ``(N, ...)``, flattened).
        y: samples ``(M, d)`` with the same number of features.
        scales: the constants ``c > 0`` (squared units of ``x``; WAE uses ``c = 2 d_z sigma_z^2`` times
            a few multiples).

    Shapes:
        ``(N, d), (M, d) -> (N, M)``.

    Raises:
        TypeError / ValueError: as :func:`igmlib.divergences.squared_distances`; an empty or
            non-positive ``scales``.

    References:
        Tolstikhin, Bousquet, Gelly, Schölkopf, "Wasserstein Auto-Encoders", ICLR 2018, section 4
        (the IMQ kernel and its heavy tails).
    """
    scales = check_scales(scales, "scales")
    sq = squared_distances(x, y)  # (N, M)
    return sum(c / (c + sq) for c in scales)


def check_scales(scales, name: str) -> tuple[float, ...]:
    values = [scales] if isinstance(scales, (int, float)) else scales
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise TypeError(f"{name} must be a number or a sequence of numbers, got {type(scales).__name__} ({scales!r})")
    if not values:
        raise ValueError(f"{name} is empty: pass at least one value, e.g. (0.2, 0.5, 1.0, 2.0, 5.0)")
    return tuple(check_positive(v, name) for v in values)


def unbiased_mmd2(k_xx: torch.Tensor, k_yy: torch.Tensor, k_xy: torch.Tensor) -> torch.Tensor:
    """The unbiased estimate (U-statistic) of ``MMD^2`` from the three kernel matrices.

    ``sum_{i != j} k(x_i, x_j) / (N (N - 1)) + sum_{i != j} k(y_i, y_j) / (M (M - 1))
    - 2 sum_{i, j} k(x_i, y_j) / (N M)``, the estimator of :func:`igmlib.divergences.mmd2` for a
    kernel other than the Gaussian.

    Shapes:
        ``k_xx (N, N)``, ``k_yy (M, M)``, ``k_xy (N, M)`` -> ``()``.

    Raises:
        ValueError: fewer than 2 samples on a side, or inconsistent shapes.

    References:
        Gretton et al., "A Kernel Two-Sample Test", JMLR 13, 2012, Lemma 6 (MMD_u^2).
    """
    n, m = k_xy.shape
    if k_xx.shape != (n, n) or k_yy.shape != (m, m):
        raise ValueError(f"kernel matrices must be (N, N), (M, M), (N, M), got {shape_str(k_xx.shape)}, "
                         f"{shape_str(k_yy.shape)}, {shape_str(k_xy.shape)}")
    if n < 2 or m < 2:
        raise ValueError(f"the unbiased MMD^2 needs at least 2 samples on each side, got {n} and {m}")
    xx = (k_xx.sum() - k_xx.diagonal().sum()) / (n * (n - 1))
    yy = (k_yy.sum() - k_yy.diagonal().sum()) / (m * (m - 1))
    return xx + yy - 2.0 * k_xy.mean()
