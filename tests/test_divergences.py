"""Tests of igmlib.divergences: Gaussian kernels, the median heuristic and the MMD estimators."""
import math

import numpy as np
import pytest
import torch
from scipy.spatial.distance import pdist

from igmlib import divergences as dv


def gaussian_mmd2(delta: float, s: float, h: float, d: int) -> float:
    """Population MMD^2 between N(0, s^2 I) and N(mu, s^2 I), |mu| = delta, Gaussian kernel h.

    x - x' ~ N(0, 2 s^2 I) gives E k = (h^2 / (h^2 + 2 s^2))^(d/2) * exp(-delta^2 / (2 (h^2 + 2 s^2))).
    """
    a = (h * h / (h * h + 2 * s * s)) ** (d / 2)
    return 2 * a * (1 - math.exp(-delta**2 / (2 * (h * h + 2 * s * s))))


def repeated_estimates(delta, *, unbiased, repeats=400, n=40, m=30, d=2, h=1.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    shift = torch.zeros(d, dtype=torch.float64)
    shift[0] = delta
    values = []
    for _ in range(repeats):
        x = torch.randn(n, d, generator=g, dtype=torch.float64)
        y = torch.randn(m, d, generator=g, dtype=torch.float64) + shift
        values.append(float(dv.mmd2(x, y, bandwidth=h, unbiased=unbiased)))
    return torch.tensor(values, dtype=torch.float64)


@pytest.mark.parametrize("delta", [0.0, 1.0])
def test_unbiased_mmd2_averages_to_the_population_value(delta):
    est = repeated_estimates(delta, unbiased=True)
    sem = float(est.std()) / math.sqrt(len(est))
    truth = gaussian_mmd2(delta, 1.0, 1.0, 2)
    assert abs(float(est.mean()) - truth) < 4 * sem  # two-sided, relative to the estimate's spread
    if delta == 0.0:
        assert (est < 0).any()  # unbiased: it does go negative for one distribution
    else:
        assert truth > 4 * sem  # so the average above is clearly positive


def test_biased_mmd2_is_nonnegative_and_has_the_known_bias():
    n, m, h = 40, 30, 1.0
    est = repeated_estimates(0.0, unbiased=False, n=n, m=m, h=h)
    assert bool((est >= 0).all())
    # E[V-statistic] = MMD^2 + (1 - E k(x, x')) / n + (1 - E k(y, y')) / m, and MMD^2 = 0 here.
    a = (h * h / (h * h + 2.0)) ** (2 / 2)
    expected = (1 - a) / n + (1 - a) / m
    sem = float(est.std()) / math.sqrt(len(est))
    assert abs(float(est.mean()) - expected) < 4 * sem


def test_biased_mmd2_nonnegative_on_adversarial_samples():
    g = torch.Generator().manual_seed(1)
    for _ in range(50):
        x = torch.randn(7, 3, generator=g)
        y = torch.cat([x[:3], torch.randn(2, 3, generator=g)])  # shared points
        assert float(dv.mmd2(x, y, bandwidth=(0.1, 1.0, 10.0), unbiased=False)) >= -1e-6


def test_mmd2_matches_a_double_loop():
    g = torch.Generator().manual_seed(2)
    x, y = torch.randn(5, 2, generator=g, dtype=torch.float64), torch.randn(4, 2, generator=g, dtype=torch.float64)
    hs = (0.5, 2.0)

    def k(a, b):
        return sum(math.exp(-float(((a - b) ** 2).sum()) / (2 * h * h)) for h in hs)

    n, m = len(x), len(y)
    kxx = sum(k(x[i], x[j]) for i in range(n) for j in range(n) if i != j)
    kyy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j)
    kxy = sum(k(x[i], y[j]) for i in range(n) for j in range(m))
    unbiased = kxx / (n * (n - 1)) + kyy / (m * (m - 1)) - 2 * kxy / (n * m)
    biased = (kxx + n * len(hs)) / n**2 + (kyy + m * len(hs)) / m**2 - 2 * kxy / (n * m)
    torch.testing.assert_close(dv.mmd2(x, y, bandwidth=hs), torch.tensor(unbiased, dtype=torch.float64))
    torch.testing.assert_close(dv.mmd2(x, y, bandwidth=hs, unbiased=False), torch.tensor(biased, dtype=torch.float64))
    torch.testing.assert_close(dv.mmd2(y, x, bandwidth=hs), dv.mmd2(x, y, bandwidth=hs))  # symmetric


@pytest.mark.parametrize("unbiased", [True, False])
def test_mmd2_gradcheck(unbiased):
    g = torch.Generator().manual_seed(3)
    x = torch.randn(6, 3, generator=g, dtype=torch.float64, requires_grad=True)
    y = torch.randn(5, 3, generator=g, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda a: dv.mmd2(a, y, bandwidth=(0.7, 2.0), unbiased=unbiased), (x,))


def test_kernel_analytic_values():
    x = torch.tensor([[0.0, 0.0], [3.0, 4.0]])
    k = dv.gaussian_kernel(x, x, 2.0)
    torch.testing.assert_close(k.diagonal(), torch.ones(2))  # x = y -> 1
    torch.testing.assert_close(k[0, 1], torch.tensor(math.exp(-25 / 8)))  # distance 5, h = 2
    k3 = dv.gaussian_kernel(x, x, (0.5, 2.0, 8.0))
    torch.testing.assert_close(k3.diagonal(), torch.full((2,), 3.0))  # 1 per bandwidth
    assert k.dtype == x.dtype and k.shape == (2, 2)


def test_sum_of_kernels_equals_sum_of_single_kernels():
    g = torch.Generator().manual_seed(4)
    x, y = torch.randn(8, 2, generator=g), torch.randn(6, 2, generator=g)
    hs = [0.1, 0.5, 2.0, 5.0]
    total = sum(dv.gaussian_kernel(x, y, h) for h in hs)
    torch.testing.assert_close(dv.gaussian_kernel(x, y, hs), total)
    torch.testing.assert_close(dv.gaussian_kernel(x, y, torch.tensor(hs)), total)


def test_images_are_flattened():
    g = torch.Generator().manual_seed(5)
    x, y = torch.randn(6, 1, 2, 2, generator=g), torch.randn(5, 1, 2, 2, generator=g)
    torch.testing.assert_close(dv.mmd2(x, y, bandwidth=1.0), dv.mmd2(x.reshape(6, 4), y.reshape(5, 4), bandwidth=1.0))


def test_median_bandwidth_matches_numpy():
    g = torch.Generator().manual_seed(6)
    x, y = torch.randn(30, 3, generator=g), 2 + torch.randn(21, 3, generator=g)
    expected = np.median(pdist(np.concatenate([x.numpy(), y.numpy()]).astype(np.float64)))
    assert dv.median_bandwidth(x, y) == pytest.approx(expected, rel=1e-6)
    assert dv.median_bandwidth(x) == pytest.approx(np.median(pdist(x.numpy().astype(np.float64))), rel=1e-6)
    h = dv.median_bandwidth(x, y)
    torch.testing.assert_close(dv.mmd2(x, y, bandwidth="median"), dv.mmd2(x, y, bandwidth=h))


X2 = torch.zeros(4, 2)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: dv.mmd2(X2, torch.zeros(4, 3), bandwidth=1.0), ValueError, "same number of features"),
        (lambda: dv.gaussian_kernel(X2, torch.zeros(4, 1, 2, 2), 1.0), ValueError, "same number of features"),
        (lambda: dv.mmd2(torch.zeros(4), X2, bandwidth=1.0), ValueError, r"reshape\(-1, 1\)"),
        (lambda: dv.mmd2(torch.zeros(4, 2, dtype=torch.long), X2, bandwidth=1.0), TypeError, "floating-point"),
        (lambda: dv.mmd2(X2.double(), X2, bandwidth=1.0), TypeError, "share dtype"),
        (lambda: dv.mmd2(X2.numpy(), X2, bandwidth=1.0), TypeError, "torch.Tensor"),
        (lambda: dv.mmd2(X2, X2, bandwidth=0.0), ValueError, "bandwidth must be > 0"),
        (lambda: dv.mmd2(X2, X2, bandwidth=(1.0, -2.0)), ValueError, "bandwidth must be > 0"),
        (lambda: dv.mmd2(X2, X2, bandwidth=()), ValueError, "empty"),
        (lambda: dv.mmd2(X2, X2, bandwidth="silverman"), ValueError, "unknown bandwidth 'silverman'"),
        (lambda: dv.gaussian_kernel(X2, X2, "median"), TypeError, "median heuristic"),
        (lambda: dv.mmd2(X2[:1], X2, bandwidth=1.0), ValueError, "unbiased=False"),
        (lambda: dv.mmd2(X2, X2, bandwidth="median"), ValueError, "bandwidth 0"),
        (lambda: dv.median_bandwidth(X2[:1]), ValueError, "at least 2"),
    ],
)
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()
