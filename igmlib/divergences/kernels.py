"""Discrepancies between distributions known only through samples: Gaussian kernels and the MMD.

Kernel convention (used everywhere in igmlib):

.. math::  k_h(x, y) = \\exp\\left(-\\frac{\\lVert x - y \\rVert^2}{2 h^2}\\right),

with the *bandwidth* ``h`` a length in the units of ``x`` (``k = 1`` at ``x = y``, ``k = e^{-1/2}``
at distance ``h``). Li et al.'s GMMN code writes the same kernel as ``exp(-|x - y|^2 / (2 sigma))``,
so their ``sigma`` is our ``h ** 2``. A sequence of bandwidths means the *sum* of the kernels, as in
GMMN's multi-scale loss.

Samples are tensors whose first dimension indexes samples: ``(N, d)``, or ``(N, C, H, W)`` images,
which are flattened to ``(N, C * H * W)`` (every dimension after the first is flattened).

Memory: :func:`squared_distances` and :func:`gaussian_kernel` return whole ``(N, M)`` matrices.
:func:`mmd2` and :func:`median_bandwidth` only need sums or a median, so they work on blocks of
rows (at most ``BLOCK_ENTRIES`` kernel entries at a time) and their memory grows like ``N + M``
instead of ``N * M``; :func:`mmd2` computes each matrix whole up to 512 samples (training
batches), as fast as before, and :func:`median_bandwidth` uses at most 4,096 samples.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.checkpoint import checkpoint

from .._validation import check_positive, check_positive_int, shape_str

Bandwidth = float | Sequence[float] | torch.Tensor

#: Entries of one block of a kernel or distance matrix (256 Ki: 1 MiB in float32, 2 MiB in float64
#: per temporary, so a block's elementwise passes stay in the CPU's cache: measured faster than
#: whole matrices from 1,000 samples on). A sum over an ``(N, M)`` matrix is computed in one piece
#: when it fits (``max(N, M) <= 512``, e.g. GMMN's batches of 256), else ``BLOCK_ENTRIES // max(N, M)``
#: rows at a time.
BLOCK_ENTRIES = 2**18

#: Kernel entries (``N^2 + M^2 + N M``) beyond which a blocked :func:`mmd2` with a gradient
#: checkpoints its blocks (recomputes them in the backward pass) instead of keeping them all in the
#: autograd graph: 16 Mi entries, about 0.5 GB of saved float32 tensors.
CHECKPOINT_ENTRIES = 2**24

#: Pooled samples beyond which :func:`median_bandwidth` takes the median over a seeded subsample.
MEDIAN_MAX_POINTS = 4096


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
    return _sq(x, y, (x * x).sum(dim=1), (y * y).sum(dim=1))


def _sq(x: torch.Tensor, y: torch.Tensor, x_sq: torch.Tensor, y_sq: torch.Tensor) -> torch.Tensor:
    """``|x_i|^2 + |y_j|^2 - 2 x_i.y_j`` clamped at 0, ``(N, M)``, from the squared norms ``(N,), (M,)``."""
    return (x_sq[:, None] + y_sq[None, :] - 2.0 * x @ y.T).clamp_min(0.0)


def _floor(dtype: torch.dtype) -> float:
    # exp underflows to ~0 below this; clamping keeps torch.exp on its fast vectorised path
    # (arguments far below it are ~10x slower) and changes no value above 1e-34 (1e-304 in float64).
    return -700.0 if dtype == torch.float64 else -78.0


def _kernel_of(sq: torch.Tensor, scales: list[float], floor: float) -> torch.Tensor:
    """``sum_s exp(s * sq)`` for the scales ``s = -1 / (2 h^2)``; a loop is faster than a
    ``(B, N, M)`` intermediate."""
    kernel = None
    for scale in scales:
        k = torch.exp((sq * scale).clamp_min(floor))  # (N, M)
        kernel = k if kernel is None else kernel + k
    return kernel


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
        The kernel matrix, on ``x``'s device and dtype, differentiable in ``x`` and ``y``. It takes
        ``N * M`` entries (and a few temporaries of that size): for sums over large samples use
        :func:`mmd2`, which works in blocks.

    Raises:
        TypeError: non-tensor or non-float inputs, mismatched dtypes/devices, a string bandwidth.
        ValueError: fewer than 2 dimensions, mismatched feature sizes, non-positive bandwidths.

    References:
        Li, Swersky, Zemel, "Generative Moment Matching Networks", ICML 2015, and their code
        (github.com/yujiali/gmmn): a sum of Gaussian kernels at several scales.
    """
    sq = squared_distances(x, y)  # (N, M)
    return _kernel_of(sq, _scales(bandwidth, sq), _floor(sq.dtype))


def _scales(bandwidth, like: torch.Tensor) -> list[float]:
    h = _bandwidths(bandwidth, like)  # (B,)
    return (-0.5 / (h * h)).tolist()


def _block_rows(block_size, columns: int) -> int:
    """Rows per block: ``block_size`` if given, else as many as fit in ``BLOCK_ENTRIES``."""
    if block_size is None:
        return max(1, BLOCK_ENTRIES // max(columns, 1))
    return check_positive_int(block_size, "block_size")


def _block_sum(rows, b, b_sq, scales: list[float], floor: float, start: int, symmetric: bool,
               drop_diagonal: bool) -> torch.Tensor:
    """Sum of the kernel entries of the rows ``start .. start + B`` of the first sample against ``b``.

    ``symmetric``: ``b`` is the first sample itself; only the columns ``>= start`` are computed and
    those right of the block's diagonal square count twice (``k`` is symmetric). ``drop_diagonal``
    leaves out the entries ``k(x_i, x_i)`` (the U-statistic).
    """
    if symmetric:
        b, b_sq = b[start:], b_sq[start:]
    k = _kernel_of(_sq(rows, b, (rows * rows).sum(dim=1), b_sq), scales, floor)  # (B, columns)
    if not symmetric:
        return k.sum()
    width = len(rows)
    total = k[:, :width].sum() + 2.0 * k[:, width:].sum()
    return total - k.diagonal().sum() if drop_diagonal else total


def _blocked_sum(a, b, scales, floor, rows: int, *, symmetric: bool = False, drop_diagonal: bool = False,
                 checkpointed: bool = False):
    """``sum_ij k(a_i, b_j)`` (``i != j`` with ``drop_diagonal``), ``rows`` rows of ``a`` at a time.

    ``checkpointed``: when a gradient is needed, each block is recomputed in the backward pass
    instead of kept in the autograd graph (memory bounded, one more forward pass of time).
    """
    b_sq = (b * b).sum(dim=1)
    grad = checkpointed and torch.is_grad_enabled() and (a.requires_grad or b.requires_grad)
    # A running total in float64 (float32 sums of thousands of blocks would lose digits). Not a list
    # of the block sums: small tensors kept between the blocks' large ones fragment the C heap
    # (measured: 1.2 GB of resident memory for 300 blocks of 64 x 20,000).
    acc = torch.float64 if a.device.type in ("cpu", "cuda") else a.dtype
    total = None
    for start in range(0, len(a), rows):
        args = (a[start:start + rows], b, b_sq, scales, floor, start, symmetric, drop_diagonal)
        part = checkpoint(_block_sum, *args, use_reentrant=False, preserve_rng_state=False) if grad \
            else _block_sum(*args)
        total = part.to(acc) if total is None else total + part.to(acc)
    return total.to(a.dtype)


@torch.no_grad()
def median_bandwidth(x: torch.Tensor, y: torch.Tensor | None = None, *,
                     max_points: int | None = MEDIAN_MAX_POINTS, seed: int = 0) -> float:
    """The median heuristic: the median Euclidean distance between distinct pooled samples.

    ``h = median{ ||z_i - z_j|| : i < j }`` over the pooled sample ``z = [x; y]`` (``y`` optional).
    Conventions vary (some use the median *squared* distance, or divide by 2); this one makes
    ``k = exp(-1/2)`` at the median distance. Computed without gradients, in float64.

    Large samples: with more than ``max_points`` pooled samples (default 4,096) the median is
    taken over ``max_points`` of them drawn without replacement by ``torch.randperm`` with a
    ``torch.Generator`` seeded with ``seed``, so the result is deterministic; its relative error is
    of order ``1 / sqrt(max_points)`` (measured on 10,000 Gaussian points: standard deviation over
    seeds 0.6% in 2-D, 0.1% in 64-D). With at most ``max_points`` samples every pair is used and
    the value is exact, as before. The distances are computed in blocks of rows and kept in one
    float64 array of ``P (P - 1) / 2`` entries for ``P`` points used (67 MB at 4,096).

    Args:
        x: samples ``(N, d)`` (or ``(N, ...)``, flattened).
        y: optional samples ``(M, d)``, pooled with ``x``.
        max_points: the largest number of pooled samples used (an int >= 2), or ``None`` for all
            of them (exact, but memory grows like ``(N + M)^2``: 10 GB at 50,000 points).
        seed: seed of the subsample.

    Returns:
        The bandwidth as a Python float (0.0 if every pooled sample is identical).

    Raises:
        TypeError / ValueError: as :func:`gaussian_kernel`; fewer than 2 pooled samples; NaN or
            infinite samples; ``max_points`` not an int >= 2; ``seed`` not an int >= 0.

    References:
        Gretton et al., "A Kernel Two-Sample Test", JMLR 13, 2012, experiments (kernel size set
        to the median distance between points in the aggregate sample).
    """
    z = _flat(x, "x") if y is None else torch.cat(_pair(x, y))
    if len(z) < 2:
        raise ValueError(f"the median heuristic needs at least 2 pooled samples, got {len(z)}")
    if max_points is not None and check_positive_int(max_points, "max_points") < 2:
        raise ValueError(f"max_points must be >= 2 (or None for every sample), got {max_points}")
    seed = check_positive_int(seed, "seed", allow_zero=True)  # torch.Generator refuses negative seeds
    if not bool(torch.isfinite(z).all()):
        raise ValueError("the samples contain NaN or infinite values: the median distance is undefined; "
                         "drop them first, e.g. x[torch.isfinite(x).flatten(1).all(1)]")
    if max_points is not None and len(z) > max_points:
        keep = torch.randperm(len(z), generator=torch.Generator().manual_seed(seed))[:max_points]
        z = z[keep.to(z.device)]
    z = z.double()
    n = len(z)
    z_sq = (z * z).sum(dim=1)
    distances = torch.empty(n * (n - 1) // 2, dtype=torch.float64, device=z.device)
    rows, filled = _block_rows(None, n), 0
    for start in range(0, n - 1, rows):
        stop = min(start + rows, n)
        sq = _sq(z[start:stop], z[start:], z_sq[start:stop], z_sq[start:])  # (B, n - start)
        upper = sq[torch.ones_like(sq, dtype=torch.bool).triu(1)]  # pairs i < j
        distances[filled:filled + len(upper)] = upper
        filled += len(upper)
    return float(np.median(distances.sqrt_().cpu().numpy(), overwrite_input=True))


def mmd2(x: torch.Tensor, y: torch.Tensor, *, bandwidth: Bandwidth | str, unbiased: bool = True,
         block_size: int | None = None) -> torch.Tensor:
    """Squared maximum mean discrepancy between the samples ``x`` and ``y`` with a Gaussian kernel.

    ``MMD^2 = E k(x, x') + E k(y, y') - 2 E k(x, y)``, estimated from ``x_1..x_N`` and ``y_1..y_M``:

    - ``unbiased=True`` (U-statistic): the within-sample averages leave out ``i = j``
      (divide by ``N (N - 1)`` and ``M (M - 1)``). Unbiased, so it averages 0 when both samples
      come from one distribution, and can be negative.
    - ``unbiased=False`` (V-statistic): every pair, ``i = j`` included (divide by ``N^2`` and
      ``M^2``). Always ``>= 0`` (it is a squared RKHS norm), biased upwards by ``O(1/N)``; the
      estimator of GMMN's training code.

    Memory and speed: when ``max(N, M)`` rows fit in one block (``max(N, M) <= 512`` by default:
    training batches) the three kernel matrices are computed whole, as GMMN's code does. Larger
    samples are summed ``block_size`` rows at a time (the within-sample sums over the upper
    triangle only, as the kernel is symmetric), so without a gradient memory grows like ``N + M``
    (a few MB of blocks at 50,000 samples), not ``N * M``, and the value is the same up to
    round-off. With a gradient, the blocks stay in the autograd graph up to ``CHECKPOINT_ENTRIES``
    kernel entries (16 Mi: ``N = M = 2,364``); beyond, each block is checkpointed (recomputed in
    the backward pass), so the gradient, still exact, needs bounded memory too. NaN or infinite
    samples give a NaN result (this is a training loss: no host synchronisation to check them).

    Args:
        x: samples ``(N, d)`` (or ``(N, ...)``, flattened), e.g. model samples.
        y: samples ``(M, d)`` with the same number of features, e.g. data.
        bandwidth: kernel bandwidth ``h`` (see :func:`gaussian_kernel`), a sequence of bandwidths
            (sum of kernels), or ``"median"`` (:func:`median_bandwidth` of the pooled samples,
            treated as a constant).
        unbiased: U-statistic (default) or V-statistic.
        block_size: rows of the kernel matrices per block, or ``None`` (default) for
            ``BLOCK_ENTRIES // max(N, M)`` (one block up to 512 samples).

    Shapes:
        ``(N, d), (M, d) -> ()``.

    Returns:
        A scalar tensor (squared kernel units; the kernel is dimensionless), differentiable in
        ``x`` and ``y``.

    Raises:
        TypeError / ValueError: as :func:`gaussian_kernel`; an unknown bandwidth string; fewer
        than 2 samples in ``x`` or ``y`` for the unbiased estimator; ``block_size`` not an int > 0.

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
    rows = _block_rows(block_size, max(n, m))
    if max(n, m) > rows:
        scales, floor = _scales(bandwidth, x), _floor(x.dtype)
        big = n * n + m * m + n * m > CHECKPOINT_ENTRIES
        xx = _blocked_sum(x, x, scales, floor, rows, symmetric=True, drop_diagonal=unbiased, checkpointed=big)
        yy = _blocked_sum(y, y, scales, floor, rows, symmetric=True, drop_diagonal=unbiased, checkpointed=big)
        xy = _blocked_sum(x, y, scales, floor, rows, checkpointed=big)
        pairs_x, pairs_y = (n * (n - 1), m * (m - 1)) if unbiased else (n * n, m * m)
        return xx / pairs_x + yy / pairs_y - 2.0 * xy / (n * m)
    k_xx = gaussian_kernel(x, x, bandwidth)  # (N, N)
    k_yy = gaussian_kernel(y, y, bandwidth)  # (M, M)
    k_xy = gaussian_kernel(x, y, bandwidth)  # (N, M)
    if unbiased:
        xx = (k_xx.sum() - k_xx.diagonal().sum()) / (n * (n - 1))
        yy = (k_yy.sum() - k_yy.diagonal().sum()) / (m * (m - 1))
    else:
        xx, yy = k_xx.mean(), k_yy.mean()
    return xx + yy - 2.0 * k_xy.mean()
