"""igmlib.metrics.features: kid against its closed form and torchmetrics, density_coverage against prdc."""
import math

import numpy as np
import pytest
import torch

import igmlib as igm
from igmlib.metrics import features

kid, density_coverage = igm.metrics.kid, igm.metrics.density_coverage


def gaussians(n_real, n_fake, d, *, shift=0.2, scale=1.1, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    real = torch.randn(n_real, d, generator=g, dtype=dtype)
    return real, scale * torch.randn(n_fake, d, generator=g, dtype=dtype) + shift


def mmd2_by_hand(x, y):
    """Bińkowski et al.'s unbiased MMD² with k(a, b) = (a.b / d + 1)^3, written out with full matrices."""
    m, d = len(x), x.shape[1]
    k_xx, k_yy, k_xy = ((x @ x.T / d + 1) ** 3), ((y @ y.T / d + 1) ** 3), ((x @ y.T / d + 1) ** 3)
    off = lambda k: k.sum() - k.diagonal().sum()  # noqa: E731
    return float((off(k_xx) + off(k_yy)) / (m * (m - 1)) - 2 * k_xy.sum() / m**2)


def test_kid_with_one_subset_of_every_point_is_the_closed_form_unbiased_estimate():
    real, fake = gaussians(120, 120, 7)
    out = kid(real, fake, subset_size=120, subsets=1)
    assert out.mean == pytest.approx(mmd2_by_hand(real, fake), rel=1e-12, abs=1e-15)
    assert out.std == 0.0
    # a subset_size above the sets' sizes uses all points (the authors' min(subset_size, n)); more subsets of
    # every point are permutations of the same sets: the same estimate, spread 0
    again = kid(real, fake, subset_size=10_000, subsets=5)
    assert again.mean == pytest.approx(out.mean, rel=1e-12) and again.std == pytest.approx(0.0, abs=1e-15)


@pytest.mark.filterwarnings("ignore:Metric `Kernel Inception Distance` will save")
@pytest.mark.parametrize("n_real, n_fake, d, subset_size, subsets, seed",
                         [(300, 250, 16, 100, 20, 3), (80, 200, 5, 50, 7, 0), (64, 64, 32, 64, 3, 11)])
def test_kid_agrees_with_torchmetrics_kernel_inception_distance(n_real, n_fake, d, subset_size, subsets, seed):
    from torchmetrics.image.kid import KernelInceptionDistance

    real, fake = gaussians(n_real, n_fake, d, seed=seed)
    reference = KernelInceptionDistance(feature=torch.nn.Identity(), subset_size=subset_size, subsets=subsets)
    reference.update(real, real=True)
    reference.update(fake, real=False)
    with torch.random.fork_rng():  # torchmetrics draws its subsets from the global generator
        torch.manual_seed(seed)
        mean, std = (float(v) for v in reference.compute())
    ours = kid(real, fake, subset_size=subset_size, subsets=subsets, seed=seed)  # the same draws, in the same order
    assert ours.mean == pytest.approx(mean, rel=1e-10) and ours.std == pytest.approx(std, rel=1e-10)


def test_kid_is_unbiased_across_subset_sizes_and_about_zero_for_one_distribution():
    real, fake = gaussians(2000, 2000, 4, shift=0.3)
    small, large = kid(real, fake, subset_size=25, subsets=400), kid(real, fake, subset_size=500, subsets=40)
    # the mean at m = 25 matches the mean at m = 500 within its standard error; the spread shrinks with m
    assert small.mean == pytest.approx(large.mean, abs=3 * small.std / math.sqrt(400))
    assert large.std < small.std / 4
    same = kid(real[:1000], real[1000:], subset_size=500, subsets=20)
    assert abs(same.mean) < 0.1 * large.mean


def test_kid_is_seeded_float32_works_and_the_global_random_state_is_untouched():
    real, fake = gaussians(100, 90, 6, dtype=torch.float32)
    state = torch.get_rng_state()
    first = kid(real, fake, subset_size=30, subsets=10, seed=5)
    assert torch.equal(torch.get_rng_state(), state)
    assert kid(real, fake, subset_size=30, subsets=10, seed=5) == first
    assert kid(real, fake, subset_size=30, subsets=10, seed=6) != first
    assert kid(real.double(), fake.double(), subset_size=30, subsets=10, seed=5).mean == pytest.approx(first.mean,
                                                                                                       rel=1e-6)


@pytest.mark.parametrize("n_real, n_fake, d, k, shift",
                         [(300, 250, 8, 5, 0.2), (200, 400, 2, 3, 0.5), (150, 40, 20, 1, 0.0), (100, 100, 3, 10, 1.0)])
def test_density_coverage_agree_with_the_prdc_package(n_real, n_fake, d, k, shift, capsys):
    import prdc

    real, fake = gaussians(n_real, n_fake, d, shift=shift, seed=k)
    reference = prdc.compute_prdc(real_features=real.numpy(), fake_features=fake.numpy(), nearest_k=k)
    capsys.readouterr()  # prdc prints the set sizes
    ours = density_coverage(real, fake, k=k)
    assert ours.density == pytest.approx(float(reference["density"]), rel=1e-12)
    assert ours.coverage == pytest.approx(float(reference["coverage"]), rel=1e-12)


def test_density_coverage_on_identical_far_and_collapsed_samples(monkeypatch):
    real, _ = gaussians(200, 1, 3)
    assert density_coverage(real, real, k=5) == (1.0, 1.0)  # every point at distance 0 < r; the k-th neighbour not
    assert density_coverage(real, real + 100.0, k=5) == (0.0, 0.0)
    collapsed = density_coverage(real, real[:1].expand(50, -1).clone(), k=5)
    assert collapsed.coverage <= 6 / 200  # one ball's point and the few balls that reach it
    # blocks of a few rows give the same counts as one block
    full = density_coverage(real, real * 1.3, k=4)
    monkeypatch.setattr(features, "BLOCK_ENTRIES", 7 * len(real))
    assert density_coverage(real, real * 1.3, k=4) == full


BAD = [
    (lambda: kid([[0.0]], torch.zeros(3, 2)), TypeError, "torch.Tensor"),
    (lambda: kid(torch.zeros(3, 2, dtype=torch.long), torch.zeros(3, 2)), TypeError, "floating-point"),
    (lambda: kid(torch.zeros(3, 2, 1), torch.zeros(3, 2)), ValueError, "2-D"),
    (lambda: kid(torch.zeros(3, 2), torch.zeros(3, 4)), ValueError, "same feature size d, got 2 and 4"),
    (lambda: kid(torch.tensor([[0.0], [math.nan]]), torch.zeros(2, 1)), ValueError, "real_features contains NaN"),
    (lambda: kid(torch.zeros(2, 1), torch.tensor([[0.0], [math.inf]])), ValueError, "fake_features contains NaN or inf"),
    (lambda: kid(torch.zeros(1, 2), torch.zeros(5, 2)), ValueError, "at least 2 real and 2 fake"),
    (lambda: kid(torch.zeros(5, 2), torch.zeros(5, 2), subset_size=1), ValueError, "subset_size must be at least 2"),
    (lambda: kid(torch.zeros(5, 2), torch.zeros(5, 2), subset_size=2.5), TypeError, "subset_size must be an int"),
    (lambda: kid(torch.zeros(5, 2), torch.zeros(5, 2), subsets=0), ValueError, "subsets must be > 0"),
    (lambda: kid(torch.zeros(5, 2), torch.zeros(5, 2), seed=-1), ValueError, "seed must be >= 0"),
    (lambda: density_coverage(torch.zeros(5, 2), torch.zeros(5, 3)), ValueError, "same feature size"),
    (lambda: density_coverage(torch.zeros(5, 2), torch.full((5, 2), math.nan)), ValueError, "fake_features contains"),
    (lambda: density_coverage(torch.zeros(5, 2), torch.zeros(0, 2)), ValueError, "empty"),
    (lambda: density_coverage(torch.zeros(5, 2), torch.zeros(5, 2), k=5), ValueError, "k must be smaller .* got k=5 with 5"),
    (lambda: density_coverage(torch.zeros(5, 2), torch.zeros(5, 2), k=0), ValueError, "k must be > 0"),
    (lambda: density_coverage(torch.zeros(5, 2), torch.zeros(5, 2), k=True), TypeError, "k must be an int"),
]


@pytest.mark.parametrize("call, error, match", BAD)
def test_bad_input_raises_with_a_helpful_message(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_results_are_named_tuples_of_floats():
    real, fake = gaussians(40, 30, 3)
    out, dc = kid(real, fake, subset_size=20, subsets=3), density_coverage(real, fake)
    assert out._fields == ("mean", "std") and dc._fields == ("density", "coverage")
    assert all(isinstance(v, float) and np.isfinite(v) for v in (*out, *dc))
