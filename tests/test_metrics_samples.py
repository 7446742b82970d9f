"""Sample-based and two-sample metrics: mode KL, exact 1-D W1, toy log-likelihood, the classifier
two-sample test, improved precision and recall (and the MMD of igmlib.divergences on the same cases)."""
import math

import pytest
import torch

import igmlib as igm
from igmlib.divergences import mmd2
from igmlib.metrics import (
    mode_coverage, mode_kl, precision_recall, toy_log_likelihood, two_sample_accuracy, wasserstein_1d,
)


def _seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ---------------------------------------------------------------- mode KL

@pytest.mark.parametrize("make, k", [(lambda: igm.data.ring(), 8), (lambda: igm.data.grid(), 25)])
def test_perfect_samples_cover_every_mode_with_zero_mode_kl_and_mmd(make, k):
    torch.manual_seed(0)
    data = make()
    x = data.sample((5000,))
    assert mode_coverage(x, data).modes == k
    # the histogram's sampling noise biases KL(q || u) up by about (K - 1) / (2 N) nats
    assert mode_kl(x, data) == pytest.approx((k - 1) / (2 * 5000), abs=0.01)
    mmd = float(mmd2(x[:1000], data.sample((1000,)), bandwidth="median"))
    assert mmd == pytest.approx(0.0, abs=3e-3)


def test_an_exact_spread_has_zero_mode_kl_and_a_collapse_has_log_k():
    data = igm.data.ring(modes=8)
    centres = data.component_distribution.mean  # (8, 2)
    assert mode_kl(centres.repeat(5, 1), data) == pytest.approx(0.0, abs=1e-12)
    collapsed = centres[3].expand(1000, 2) + 0.01 * torch.randn(1000, 2, generator=_seeded())
    assert mode_coverage(collapsed, data).modes == 1
    assert mode_kl(collapsed, data) == pytest.approx(math.log(8), rel=1e-6)


def test_mode_kl_of_half_the_modes_is_log_2_and_ignores_low_quality_samples():
    data = igm.data.grid()
    centres = data.component_distribution.mean  # (25, 2)
    half = centres[:5].repeat(20, 1)  # 5 of 25 modes, equally: KL = log(25 / 5)
    assert mode_kl(half, data) == pytest.approx(math.log(5), rel=1e-6)  # the mixture's float32 weights
    far = torch.full((300, 2), 50.0)  # no mode near: left out of the histogram
    assert mode_kl(torch.cat([half, far]), data) == pytest.approx(math.log(5), rel=1e-6)
    assert math.isnan(mode_kl(far, data))


def test_mode_kl_uses_the_mixture_weights_and_explicit_centres():
    weighted = igm.data.gaussian_mixture([[0.0, 0.0], [4.0, 0.0]], 0.1, weights=[3.0, 1.0])
    centres = weighted.component_distribution.mean
    at_weights = torch.cat([centres[0].expand(75, 2), centres[1].expand(25, 2)])
    assert mode_kl(at_weights, weighted) == pytest.approx(0.0, abs=1e-12)
    # with explicit centres the target is uniform: KL(3/4, 1/4 || 1/2, 1/2) = log 2 - H(3/4, 1/4)
    expected = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)
    assert mode_kl(at_weights, centres=centres, std=0.1) == pytest.approx(expected, rel=1e-12)


# ---------------------------------------------------------------- exact 1-D W1

def test_wasserstein_1d_of_a_shift_is_the_shift():
    x = torch.randn(4000, 1, generator=_seeded(), dtype=torch.float64)
    assert wasserstein_1d(x, x + 0.7) == pytest.approx(0.7, rel=1e-12)
    assert wasserstein_1d(x[:, 0], x[:, 0] - 2.5) == pytest.approx(2.5, rel=1e-12)  # (N,) works too
    # two samples of N(0, 1) and N(1, 1): the population W1 is the shift, up to O(1/sqrt(N))
    y = torch.randn(4000, generator=_seeded(1), dtype=torch.float64) + 1.0
    assert wasserstein_1d(x, y) == pytest.approx(1.0, abs=0.08)


def test_wasserstein_1d_hand_computed():
    # F_a - F_b on [0, 1): 1/2 - 0, [1, 2): 1 - 0, [2, 3): 1 - 1/2 ... integral = 1/2 + 1 + 1/2 = 2
    a, b = torch.tensor([0.0, 1.0]), torch.tensor([2.0, 3.0])
    assert wasserstein_1d(a, b) == pytest.approx(2.0, rel=1e-12)
    # unequal sizes: a = {0}, b = {0, 2}: |F_a - F_b| = 1/2 on [0, 2), so W1 = 1
    assert wasserstein_1d(torch.tensor([0.0]), torch.tensor([[0.0], [2.0]])) == pytest.approx(1.0, rel=1e-12)


# ---------------------------------------------------------------- toy log-likelihood

def test_toy_log_likelihood_is_the_mean_log_prob_and_rewards_collapse():
    torch.manual_seed(0)
    data = igm.data.ring()
    x = data.sample((2000,))
    values = toy_log_likelihood(x, data, reduction="none")
    torch.testing.assert_close(values, data.log_prob(x).double())
    assert toy_log_likelihood(x, data) == pytest.approx(float(data.log_prob(x).double().mean()), rel=1e-12)
    at_one_centre = data.component_distribution.mean[0].expand(100, 2)
    # the caveat: the centre of one mode beats the data by E ||x - mu||^2 / (2 std^2) = d / 2 = 1 nat
    assert toy_log_likelihood(at_one_centre, data) - toy_log_likelihood(x, data) == pytest.approx(1.0, abs=0.1)


def test_toy_log_likelihood_outside_the_support_is_minus_inf():
    data = igm.data.beta(2.0, 5.0)
    inside = torch.tensor([[0.2], [0.5]])
    expected = float(data.log_prob(inside).double().mean())
    assert toy_log_likelihood(inside, data) == pytest.approx(expected, rel=1e-12)
    values = toy_log_likelihood(torch.tensor([[0.2], [1.5]]), data, reduction="none")
    assert values[1] == -math.inf and math.isfinite(float(values[0]))


# ---------------------------------------------------------------- classifier two-sample test

@pytest.mark.parametrize("classifier", ["logistic", "knn"])
def test_two_sample_accuracy_is_chance_for_one_distribution_and_one_for_disjoint(classifier):
    gen = _seeded()
    real, fake = torch.randn(2000, 2, generator=gen), torch.randn(2000, 2, generator=gen)
    same = two_sample_accuracy(real, fake, classifier=classifier, seed=0)
    assert same.n_test == 2000
    std = 0.5 / math.sqrt(same.n_test)  # binomial std of the accuracy under the null
    assert same.accuracy == pytest.approx(0.5, abs=3 * std)
    assert same.p_value > 1e-3
    apart = two_sample_accuracy(real, fake + 10.0, classifier=classifier, seed=0)
    assert apart.accuracy == pytest.approx(1.0, abs=1e-3)
    assert apart.p_value < 1e-100


def test_two_sample_accuracy_balances_classes_and_is_seeded():
    gen = _seeded()
    real, fake = torch.randn(1000, 3, generator=gen), torch.randn(300, 3, generator=gen) + 0.5
    result = two_sample_accuracy(real, fake, test_fraction=0.4, seed=3)
    assert result.n_test == 240  # 2 x 300 balanced points, 40% held out
    assert result == two_sample_accuracy(real, fake, test_fraction=0.4, seed=3)
    # a ring against a disc with the same mean: linear fails, 1-NN and an MLP see it
    torch.manual_seed(0)
    ring, disc = igm.data.ring(std=0.05).sample((1000,)), 2.0 * torch.rand(1000, 2, generator=gen) - 1.0
    assert two_sample_accuracy(ring, disc).accuracy == pytest.approx(0.5, abs=0.1)
    assert two_sample_accuracy(ring, disc, classifier="knn").accuracy > 0.95
    assert two_sample_accuracy(ring, disc, classifier="mlp").accuracy > 0.95
    from sklearn.neighbors import KNeighborsClassifier

    custom = two_sample_accuracy(ring, disc, classifier=KNeighborsClassifier(n_neighbors=1))  # unscaled 1-NN
    assert custom.accuracy > 0.95


# ---------------------------------------------------------------- precision and recall

def test_precision_recall_of_identical_sets_is_one_one():
    x = torch.randn(500, 4, generator=_seeded())
    assert precision_recall(x, x.clone()) == (1.0, 1.0)
    assert precision_recall(x, x.clone(), batch_size=7) == (1.0, 1.0)  # batching changes nothing


def test_precision_recall_of_nested_supports():
    gen = _seeded()
    real = torch.rand(3000, 2, generator=gen)  # U([0, 1]^2)
    fake = torch.rand(3000, 2, generator=gen) * torch.tensor([0.5, 1.0])  # the left half of it
    precision, recall = precision_recall(real, fake, k=3)
    # the union of 3-NN balls leaves small holes (about 2% of a uniform square here), so precision
    # is a little below 1; recall is 1/2 less those holes plus a boundary layer of about one radius
    assert precision == pytest.approx(1.0, abs=0.04)
    assert recall == pytest.approx(0.5, abs=0.03)
    swapped = precision_recall(fake, real, k=3)  # a model that also produces the other half
    assert swapped.precision == pytest.approx(0.5, abs=0.03) and swapped.recall == pytest.approx(1.0, abs=0.04)


def test_precision_recall_batched_equals_unbatched():
    gen = _seeded()
    real, fake = torch.randn(300, 3, generator=gen), 0.5 * torch.randn(200, 3, generator=gen) + 0.5
    assert precision_recall(real, fake, batch_size=16) == precision_recall(real, fake, batch_size=10000)


# ---------------------------------------------------------------- bad input

RING = igm.data.ring()


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: mode_kl(torch.zeros(10, 3), RING), ValueError, r"samples must have shape \(N, 2\), got \(10, 3\)"),
        (lambda: mode_kl(torch.zeros(10, 2)), ValueError, r"pass either data .* not both or neither"),
        (lambda: mode_kl(torch.zeros(10, 2), igm.data.parallel_line()), TypeError, r"mixture of Gaussians"),
        (lambda: mode_kl(torch.zeros(10, 2), RING, threshold=-1.0), ValueError, r"threshold must be > 0"),
        (lambda: wasserstein_1d(torch.zeros(5, 2), torch.zeros(5)), ValueError, r"samples_a must have shape \(N,\) or \(N, 1\)"),
        (lambda: wasserstein_1d(torch.zeros(5), [1.0, 2.0]), TypeError, r"samples_b must be a torch.Tensor"),
        (lambda: wasserstein_1d(torch.zeros(5), torch.zeros(0)), ValueError, r"samples_b is empty"),
        (lambda: wasserstein_1d(torch.zeros(5, 1, 1), torch.zeros(5)), ValueError, r"samples_a must be 1-D or 2-D"),
        (lambda: toy_log_likelihood(torch.zeros(4, 2), "ring"), TypeError, r"data must be a torch.distributions"),
        (lambda: toy_log_likelihood(torch.zeros(4, 1), RING), ValueError, r"samples must have shape \(N, 2\)"),
        (lambda: toy_log_likelihood(torch.zeros(4, 2), RING, reduction="sum"), ValueError, r"unknown reduction 'sum'"),
        (lambda: two_sample_accuracy(torch.zeros(10, 2), torch.zeros(10, 3)), ValueError, r"same number of features, got 2 and 3"),
        (lambda: two_sample_accuracy(torch.zeros(10), torch.zeros(10)), ValueError, r"real must have shape \(N, F\)"),
        (lambda: two_sample_accuracy(torch.zeros(10, 2), torch.zeros(1, 2)), ValueError, r"at least 2 real and 2 fake"),
        (lambda: two_sample_accuracy(torch.zeros(10, 2), torch.zeros(10, 2), test_fraction=1.0), ValueError, r"test_fraction must be a number in \(0, 1\)"),
        (lambda: two_sample_accuracy(torch.zeros(10, 2), torch.zeros(10, 2), seed=-1), ValueError, r"seed must be an int >= 0"),
        (lambda: two_sample_accuracy(torch.zeros(10, 2), torch.zeros(10, 2), classifier="svm"), ValueError, r"unknown classifier 'svm'; choose one of: knn, logistic, mlp"),
        (lambda: two_sample_accuracy(torch.zeros(10, 2), torch.zeros(10, 2), classifier=3), TypeError, r"classifier must be one of"),
        (lambda: two_sample_accuracy(torch.zeros(10, 2, dtype=torch.long), torch.zeros(10, 2)), TypeError, r"real must have a floating-point dtype"),
        (lambda: precision_recall(torch.zeros(10, 2), torch.zeros(10, 3)), ValueError, r"same number of features"),
        (lambda: precision_recall(torch.zeros(10, 2), torch.zeros(3, 2)), ValueError, r"k must be smaller than the number of real and fake points"),
        (lambda: precision_recall(torch.zeros(10, 2), torch.zeros(10, 2), k=0), ValueError, r"k must be > 0"),
        (lambda: precision_recall(torch.zeros(10, 2), torch.zeros(10, 2), batch_size=1.5), TypeError, r"batch_size must be an int"),
    ],
)
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()
