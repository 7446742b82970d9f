"""Feature-space scores between real and generated samples: kernel inception distance, density and coverage.

- :func:`kid`: the unbiased MMD² with the cubic polynomial kernel, averaged over random subsets
  (the "kernel inception distance" when the features are Inception's). Unlike the Fréchet distance
  (:func:`igmlib.metrics.frechet_distance`) its expectation does not depend on the sample size.
- :func:`density_coverage`: k-NN density and coverage, the outlier-robust successors of precision
  and recall (:func:`igmlib.metrics.precision_recall`).

Both take features ``(N, d)``: raw coordinates for toys, classifier features for images (the
``features(x)`` of :func:`igmlib.classifiers.reference_classifier`).
"""
from __future__ import annotations

from typing import NamedTuple

import torch

from .._validation import check_features, check_finite, check_positive_int

#: Entries of one block of a distance or kernel matrix (256 Ki: 2 MiB in float64).
BLOCK_ENTRIES = 2**18


class KID(NamedTuple):
    """Result of :func:`kid`: the ``mean`` over subsets of the unbiased MMD² (squared feature units,
    can be slightly negative) and their population standard deviation ``std``."""

    mean: float
    std: float


class DensityCoverage(NamedTuple):
    """Result of :func:`density_coverage`: ``density`` >= 0 (about 1 when the two distributions are
    equal; above 1 when samples crowd where the data are dense) and ``coverage`` in [0, 1]."""

    density: float
    coverage: float


def _features(real, fake) -> tuple[torch.Tensor, torch.Tensor]:
    real = check_features(real, "real_features").detach()
    fake = check_features(fake, "fake_features").detach()
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"real_features and fake_features must have the same feature size d, got "
                         f"{real.shape[1]} and {fake.shape[1]}: compute both with the same feature extractor")
    check_finite(("real_features", real), ("fake_features", fake))
    return real, fake.to(real.device)


def _float64(x: torch.Tensor) -> torch.Tensor:
    return x.float() if x.device.type == "mps" else x.double()  # MPS has no float64


def _rows(columns: int) -> int:
    return max(1, BLOCK_ENTRIES // max(columns, 1))


def _poly_sum(a: torch.Tensor, b: torch.Tensor, d: int) -> torch.Tensor:
    """``sum_ij (a_i . b_j / d + 1)^3`` computed ``BLOCK_ENTRIES`` kernel entries at a time."""
    rows, total = _rows(len(b)), a.new_zeros(())
    for start in range(0, len(a), rows):
        total = total + (a[start:start + rows] @ b.T / d + 1).pow(3).sum()
    return total


def _unbiased_poly_mmd2(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Unbiased MMD² of two sets of ``m`` points with ``k(x, y) = (x.y / d + 1)^3``: the mean of the
    off-diagonal ``k(x_i, x_j)`` plus that of ``k(y_i, y_j)`` minus twice the mean of all ``k(x_i, y_j)``
    (the ``"unbiased"`` estimate of Bińkowski et al.'s ``polynomial_mmd``)."""
    m, d = len(x), x.shape[1]
    diag_x = ((x * x).sum(1) / d + 1).pow(3).sum()
    diag_y = ((y * y).sum(1) / d + 1).pow(3).sum()
    within = _poly_sum(x, x, d) - diag_x + _poly_sum(y, y, d) - diag_y
    return within / (m * (m - 1)) - 2 * _poly_sum(x, y, d) / (m * m)


def kid(real_features, fake_features, *, subset_size: int = 1000, subsets: int = 100, seed: int = 0) -> KID:
    """Kernel inception distance: the unbiased MMD² with a cubic polynomial kernel, over random subsets.

    With ``k(x, y) = (x . y / d + 1)^3`` and ``m`` real points ``x_i`` and ``m`` generated ones ``y_j``,

    ``MMD²_u = 1/(m(m-1)) sum_{i != j} [k(x_i, x_j) + k(y_i, y_j)] - 2/m² sum_{i, j} k(x_i, y_j)``,

    an unbiased estimate of the squared MMD between the two feature distributions: its expectation
    does not depend on ``m`` (the Fréchet distance's does), it is about 0 (and may be slightly
    negative) when the distributions are equal, and it compares the moments of the features up to
    order 3. ``subsets`` times, ``m`` real and ``m`` fake points are drawn without replacement
    (each set independently); the result is the mean of the ``subsets`` estimates and their
    population standard deviation (a measure of the estimate's spread at this ``m``, as in the
    reference code; the standard error of the mean is smaller, but the subsets overlap).

    ``m = min(subset_size, N, M)``: like the authors' ``polynomial_mmd_averages`` (and unlike
    torchmetrics, which raises), a ``subset_size`` larger than a set uses all of the smaller set.
    With ``m = N = M`` every subset holds all points and the result is the closed-form unbiased
    estimate (``std`` 0). Compare models at the same ``m``: the mean does not depend on it, but the
    spread does.

    Subsets are drawn with a local ``torch.Generator`` seeded with ``seed`` (the global random
    state is untouched): per subset a ``randperm`` of the real indices, then one of the fake
    indices, the order torchmetrics' ``KernelInceptionDistance`` uses. Kernel sums run in float64
    (float32 on MPS) on the features' device, ``BLOCK_ENTRIES`` kernel entries at a time, so memory
    stays at ``O(BLOCK_ENTRIES + m d)``; time is ``O(subsets m² d)``.

    Args:
        real_features: ``(N, d)`` features of real (held-out) data, N >= 2.
        fake_features: ``(M, d)`` features of generated samples, M >= 2.
        subset_size: points drawn from each set per subset (capped at ``min(N, M)``), >= 2.
        subsets: number of random subsets, > 0.
        seed: seed of the subsets' generator, >= 0.

    Returns:
        :class:`KID` ``(mean, std)`` in squared feature units (papers often print ``1000 x``).

    Raises:
        TypeError: non-tensor or non-float features, a non-int ``subset_size``, ``subsets`` or ``seed``.
        ValueError: features not 2-D (raw images included), empty or with different ``d``, NaN or infinite values, fewer than
            2 points in a set, ``subset_size`` < 2, ``subsets`` < 1, ``seed`` < 0.

    References:
        Bińkowski, Sutherland, Arbel, Gretton, "Demystifying MMD GANs", ICLR 2018, the section on
        evaluation metrics (the KID, its unbiasedness, the FID's bias) and the appendix; reference code
        ``polynomial_mmd_averages`` in ``gan/compute_scores.py`` of mbinkowski/MMD-GAN, and
        torchmetrics' ``KernelInceptionDistance``.
    """
    real, fake = _features(real_features, fake_features)
    check_positive_int(subset_size, "subset_size")
    check_positive_int(subsets, "subsets")
    check_positive_int(seed, "seed", allow_zero=True)
    if subset_size < 2:
        raise ValueError(f"subset_size must be at least 2 (the unbiased estimate needs pairs), got {subset_size}")
    if min(len(real), len(fake)) < 2:
        raise ValueError(f"kid needs at least 2 real and 2 fake feature vectors, got {len(real)} and {len(fake)}")
    m = min(subset_size, len(real), len(fake))
    real, fake = _float64(real), _float64(fake)
    generator = torch.Generator().manual_seed(seed)
    values = torch.stack([
        _unbiased_poly_mmd2(real[torch.randperm(len(real), generator=generator)[:m].to(real.device)],
                            fake[torch.randperm(len(fake), generator=generator)[:m].to(fake.device)])
        for _ in range(subsets)])
    return KID(float(values.mean()), float(values.std(unbiased=False)))


def _knn_radii(x: torch.Tensor, k: int) -> torch.Tensor:
    """Distance from each point of ``x`` to its k-th nearest other point, ``(N,)``, in blocks of rows."""
    radii = torch.empty(len(x), dtype=x.dtype, device=x.device)
    rows = _rows(len(x))
    for start in range(0, len(x), rows):
        dist = torch.cdist(x[start:start + rows], x, compute_mode="donot_use_mm_for_euclid_dist")
        radii[start:start + rows] = dist.topk(k + 1, dim=1, largest=False).values[:, k]  # [:, 0]: the point itself
    return radii


def density_coverage(real_features, fake_features, *, k: int = 5) -> DensityCoverage:
    """Density and coverage of generated samples from k-NN balls around the real points.

    Each real point ``x_i`` gets the ball ``B(x_i, r_i)`` whose radius ``r_i`` is the distance to its
    ``k``-th nearest other real point (open balls, as the reference code's ``<``). With ``N`` real
    and ``M`` fake points ``y_j``:

    - ``density = 1/(k M) sum_j sum_i 1[y_j in B(x_i, r_i)]``: how many real neighbourhoods hold each
      sample, on average, divided by ``k``. About 1 when the two distributions are equal (exactly 1
      for identical sets), above 1 when samples crowd where the data are dense, below 1 for samples
      off the data. Unlike precision it has no upper bound and is not fooled by real outliers.
    - ``coverage = 1/N sum_i 1[min_j ||x_i - y_j|| < r_i]``: the fraction of real neighbourhoods that
      hold at least one sample, in [0, 1]. Unlike recall it uses only real balls, so fake outliers
      cannot inflate it.

    Only real balls are built, so the fake set needs no k-NN and may be small. Distances are exact
    differences (``torch.cdist`` without the matrix-product shortcut, so a point's distance to itself
    is 0 and ties are decided alike in every block), ``BLOCK_ENTRIES // N`` rows at a time, in
    float64 (float32 on MPS) on the real features' device: memory ``O(BLOCK_ENTRIES + N + M)``.
    Values depend on ``k`` and the sample sizes: compare models at equal ``k``, ``N`` and ``M``
    (the paper uses k = 5 and N = M = 10,000 Inception features).

    Args:
        real_features: ``(N, d)`` features of real (held-out) data, N > k.
        fake_features: ``(M, d)`` features of generated samples, M >= 1.
        k: the neighbour that sets each real radius, > 0.

    Returns:
        :class:`DensityCoverage` ``(density, coverage)``.

    Raises:
        TypeError: non-tensor or non-float features, a non-int ``k``.
        ValueError: features not 2-D, empty or with different ``d``, NaN or infinite values, ``k`` < 1
            or not smaller than N.

    References:
        Naeem, Oh, Uh, Choi, Yoo, "Reliable Fidelity and Diversity Metrics for Generative Models",
        ICML 2020, the section defining density and coverage (and their expectations); reference
        code ``compute_prdc`` of clovaai/generative-evaluation-prdc (the ``prdc`` package).
    """
    real, fake = _features(real_features, fake_features)
    check_positive_int(k, "k")
    if k >= len(real):
        raise ValueError(f"k must be smaller than the number of real feature vectors, got k={k} with {len(real)}: "
                         f"pass a smaller k or more real samples")
    real, fake = _float64(real), _float64(fake).to(real.device)
    radii = _knn_radii(real, k)
    inside = torch.zeros((), dtype=torch.int64, device=real.device)      # sum_j #{i: y_j in B(x_i, r_i)}
    nearest = torch.full((len(real),), float("inf"), dtype=real.dtype, device=real.device)  # min_j |x_i - y_j|
    rows = _rows(len(real))
    for start in range(0, len(fake), rows):
        dist = torch.cdist(fake[start:start + rows], real, compute_mode="donot_use_mm_for_euclid_dist")  # (B, N)
        inside += (dist < radii).sum()
        nearest = torch.minimum(nearest, dist.min(dim=0).values)
    density = float(inside) / (k * len(fake))
    coverage = float((nearest < radii).double().mean())
    return DensityCoverage(density, coverage)


__all__ = ["DensityCoverage", "KID", "density_coverage", "kid"]
