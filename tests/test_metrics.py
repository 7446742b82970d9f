"""Metrics: mode coverage, histogram KL, Frechet distance, inception score; the digits classifiers
of igmlib.classifiers that the image metrics take."""
import math

import numpy as np
import pytest
import torch
from scipy import stats

import igmlib as igm
from igmlib.classifiers import reference_classifier
from igmlib.metrics import (
    classifier_accuracy,
    classifier_frechet_distance,
    cluster_accuracy,
    frechet_distance,
    histogram_kl,
    inception_score,
    label_preservation,
    match_clusters,
    mode_coverage,
)


# ---------------------------------------------------------------- mode coverage

def test_mode_coverage_of_exact_ring_samples():
    torch.manual_seed(0)
    data = igm.data.ring()
    result = mode_coverage(data.sample((20000,)), data)
    assert (result.modes, result.total) == (8, 8)
    # each sample's distance to its own centre over std is chi-distributed with 2 degrees of freedom
    expected = stats.chi(2).cdf(3.0)  # 1 - exp(-4.5) = 0.98889
    assert result.high_quality == pytest.approx(expected, abs=0.004)  # 4 binomial standard errors


def test_mode_coverage_of_exact_grid_samples():
    torch.manual_seed(0)
    data = igm.data.grid()
    result = mode_coverage(data.sample((5000,)), data)
    assert (result.modes, result.total) == (25, 25)
    assert result.high_quality == pytest.approx(stats.chi(2).cdf(3.0), abs=0.007)


def test_mode_coverage_threshold_changes_quality():
    torch.manual_seed(0)
    data = igm.data.ring()
    result = mode_coverage(data.sample((20000,)), data, threshold=1.0)
    assert result.high_quality == pytest.approx(stats.chi(2).cdf(1.0), abs=0.015)


def test_mode_coverage_single_mode_and_far_away():
    data = igm.data.ring()
    centre = data.component_distribution.mean[3]
    at_one = centre + 0.01 * torch.randn(500, 2)
    assert mode_coverage(at_one, data) == (1, 1.0, 8)
    far = torch.full((100, 2), 10.0)
    assert mode_coverage(far, data) == (0, 0.0, 8)
    # between two modes: nearest mode is one of them, but too far to count
    midway = data.component_distribution.mean[:2].mean(0, keepdim=True)
    assert mode_coverage(midway, data) == (0, 0.0, 8)


def test_mode_coverage_with_explicit_centres_matches_data():
    torch.manual_seed(0)
    data = igm.data.ring()
    x = torch.cat([data.sample((300,)), 3 * torch.randn(100, 2)])
    explicit = mode_coverage(x, centres=data.component_distribution.mean, std=0.02)
    assert explicit == mode_coverage(x, data)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda d: mode_coverage(torch.zeros(10, 3), d), ValueError, r"samples must have shape \(N, 2\), got \(10, 3\)"),
        (lambda d: mode_coverage(torch.zeros(10), d), ValueError, r"samples must be 2-D, got shape \(10,\)"),
        (lambda d: mode_coverage(torch.zeros(10, 2)), ValueError, r"pass either data .* or centres= and std=, not both or neither"),
        (lambda d: mode_coverage(torch.zeros(10, 2), d, centres=torch.zeros(1, 2), std=1.0), ValueError, r"not both or neither"),
        (lambda d: mode_coverage(torch.zeros(10, 2), centres=torch.zeros(1, 2)), ValueError, r"std is required with centres="),
        (lambda d: mode_coverage(torch.zeros(10, 2), igm.data.parallel_line()), TypeError, r"data must be a mixture of Gaussians"),
        (lambda d: mode_coverage(torch.zeros(10, 2), d, threshold=0), ValueError, r"threshold must be > 0"),
    ],
)
def test_mode_coverage_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call(igm.data.ring())


# ---------------------------------------------------------------- histogram KL

def test_histogram_kl_near_zero_for_the_same_density_and_grows_with_mismatch():
    torch.manual_seed(0)
    density = igm.data.lognormal(0.0, 0.5)
    x = density.sample((20000,))
    same = histogram_kl(x, density)
    # the plug-in estimate's bias is about (bins - 1) / (2 N) = 0.0012 nats
    assert 2e-4 < same < 4e-3
    assert histogram_kl(x[:, 0], density) == pytest.approx(same, rel=1e-12, abs=0)  # (N,) and (N, 1) agree
    scaled, shifted = histogram_kl(1.2 * x, density), histogram_kl(x + 0.3, density)
    assert 0.02 < scaled < 0.2
    assert shifted > 0.5
    assert same < scaled < shifted


def test_histogram_kl_is_deterministic_and_leaves_the_rng_alone():
    density = igm.data.lognormal(0.0, 0.5)
    x = density.sample((2000,))
    torch.manual_seed(1)
    first = histogram_kl(x, density)
    after = torch.randn(3)
    torch.manual_seed(2)
    assert histogram_kl(x, density) == first
    torch.manual_seed(1)
    torch.testing.assert_close(torch.randn(3), after, rtol=0, atol=0)


def test_histogram_kl_with_explicit_range():
    torch.manual_seed(0)
    density = igm.data.beta(2.0, 5.0)
    x = density.sample((20000,))
    assert 2e-4 < histogram_kl(x, density, range=(0.0, 1.0), bins=50) < 4e-3


def test_histogram_kl_range_may_extend_past_the_support():
    # the density is 0 below 0: bins there carry no mass, so the KL is unchanged
    torch.manual_seed(0)
    density = igm.data.lognormal(0.0, 0.5)
    x = density.sample((20000,))
    inside = histogram_kl(x, density, range=(0.0, 4.0), bins=40)
    padded = histogram_kl(x, density, range=(-4.0, 4.0), bins=80)  # the same 40 bins plus 40 empty ones
    assert padded == pytest.approx(inside, rel=0.02)


@pytest.mark.parametrize(
    "kwargs, samples, error, match",
    [
        ({"range": (1.0, 1.0)}, torch.rand(10), ValueError, r"range must satisfy low < high"),
        ({"bins": 0}, torch.rand(10), ValueError, r"bins must be > 0"),
        ({}, torch.rand(10, 2), ValueError, r"samples must have shape \(N,\) or \(N, 1\), got \(10, 2\)"),
        ({}, torch.arange(10), TypeError, r"samples must have a floating-point dtype"),
    ],
)
def test_histogram_kl_bad_input(kwargs, samples, error, match):
    with pytest.raises(error, match=match):
        histogram_kl(samples, igm.data.beta(), **kwargs)


# ---------------------------------------------------------------- Frechet distance

def test_frechet_distance_of_identical_sets_is_zero():
    x = torch.randn(500, 4, generator=torch.Generator().manual_seed(0))
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-6)


def test_frechet_distance_matches_gaussian_closed_form():
    rng = np.random.default_rng(0)
    mu_a, mu_b = np.array([0.0, 1.0, -1.0]), np.array([1.0, 0.0, 0.5])
    cov_a = np.array([[2.0, 0.5, 0.0], [0.5, 1.0, 0.3], [0.0, 0.3, 0.5]])
    cov_b = 0.5 * np.eye(3)
    # with cov_b = c I: (cov_a cov_b)^(1/2) = sqrt(c) cov_a^(1/2), whose trace is sqrt(c) sum sqrt(eig(cov_a))
    exact = ((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * math.sqrt(0.5) * np.sqrt(np.linalg.eigvalsh(cov_a)).sum()
    a = torch.tensor(rng.multivariate_normal(mu_a, cov_a, size=50000))
    b = torch.tensor(rng.multivariate_normal(mu_b, cov_b, size=50000))
    assert frechet_distance(a, b) == pytest.approx(exact, rel=0.02)
    assert frechet_distance(b, a) == pytest.approx(frechet_distance(a, b), rel=1e-6)


def test_frechet_distance_of_a_shift_is_the_squared_shift():
    x = torch.randn(1000, 3, generator=torch.Generator().manual_seed(1))
    shift = torch.tensor([1.0, -2.0, 0.5])
    assert frechet_distance(x, x + shift) == pytest.approx(float((shift**2).sum()), rel=1e-5)


@pytest.mark.parametrize(
    "a, b, match",
    [
        (torch.randn(1, 3), torch.randn(5, 3), r"need at least 2 feature vectors"),
        (torch.randn(5, 3), torch.randn(5, 4), r"features_b must have shape \(N, 3\), got \(5, 4\)"),
        (torch.randn(5), torch.randn(5, 4), r"features_a must be 2-D"),
    ],
)
def test_frechet_distance_bad_input(a, b, match):
    with pytest.raises(ValueError, match=match):
        frechet_distance(a, b)


# ---------------------------------------------------------------- inception score

@pytest.mark.parametrize("classes", [2, 10])
def test_inception_score_confident_balanced_is_number_of_classes(classes):
    labels = torch.arange(5 * classes) % classes
    logits = 50.0 * torch.nn.functional.one_hot(labels, classes).float()
    assert inception_score(logits) == pytest.approx(classes, rel=1e-6)


def test_inception_score_identical_predictions_is_one():
    logits = torch.tensor([[2.0, -1.0, 0.5]]).repeat(40, 1)
    assert inception_score(logits) == pytest.approx(1.0, abs=1e-9)
    # confident but always the same class: still 1
    assert inception_score(50.0 * torch.nn.functional.one_hot(torch.zeros(20, dtype=torch.long), 4).float()) == pytest.approx(1.0, abs=1e-9)


def test_inception_score_between_one_and_classes():
    logits = torch.randn(200, 5, generator=torch.Generator().manual_seed(0))
    score = inception_score(logits)
    assert 1.0 < score < 5.0


# ---------------------------------------------------------------- classifier

@pytest.mark.filterwarnings("ignore:Matrix is singular:scipy.linalg.LinAlgWarning")
def test_train_classifier_on_digits():
    train, test = igm.data.digits("train"), igm.data.digits("test")
    clf = igm.classifiers.train_classifier(train, steps=150, seed=0)
    assert not clf.training
    assert clf.accuracy(test.x, test.y) > 0.9
    with torch.no_grad():
        assert clf(test.x[:7]).shape == (7, 10)
        assert clf.features(test.x[:7]).shape == (7, 64)
        # features of the test set are closer to the training features than to noise images
        f_train, f_test = clf.features(train.x[:360]), clf.features(test.x)
        f_noise = clf.features(torch.rand(360, 1, 8, 8) * 2 - 1)
    assert frechet_distance(f_train, f_test) < 0.2 * frechet_distance(f_train, f_noise)


# ---------------------------------------------------------------- reference classifier and label scores

@pytest.fixture(scope="module")
def reference_cache(tmp_path_factory):
    path = tmp_path_factory.mktemp("igm_cache")
    return path, reference_classifier(cache_dir=path)


def test_reference_classifier_accuracy_and_cache(reference_cache):
    path, clf = reference_cache
    test = igm.data.digits("test")
    assert not clf.training and next(clf.parameters()).device.type == "cpu"
    assert classifier_accuracy(clf, test.x, test.y) >= 0.95
    assert clf.accuracy(test.x, test.y) == classifier_accuracy(clf, test.x, test.y)
    files = sorted(path.glob("reference_classifier_8px_seed0_*.pt"))
    assert len(files) == 1
    stamp = files[0].stat().st_mtime_ns
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    again = reference_classifier(cache_dir=path)  # loaded, not retrained: the file is untouched
    assert files[0].stat().st_mtime_ns == stamp
    for a, b in zip(clf.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)
    torch.testing.assert_close(torch.rand(3), expected_next)  # the caller's random stream is untouched


def test_reference_classifier_seed_gives_another_file(reference_cache):
    path, clf = reference_cache
    other = reference_classifier(seed=1, cache_dir=path, steps=20)
    assert len(list(path.glob("reference_classifier_8px_seed1_*.pt"))) == 1
    assert len(list(path.glob("*.pt"))) == 2
    assert not torch.equal(next(other.parameters()), next(clf.parameters()))
    # deterministic for a seed: retraining in a fresh folder gives the same weights
    fresh = reference_classifier(seed=1, cache_dir=path / "fresh", steps=20)
    for a, b in zip(other.state_dict().values(), fresh.state_dict().values()):
        assert torch.equal(a, b)


def test_reference_classifier_uses_igm_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("IGM_CACHE", str(tmp_path))
    reference_classifier(steps=5)
    assert len(list((tmp_path / "classifiers").glob("reference_classifier_8px_seed0_*.pt"))) == 1


def test_reference_classifier_says_on_stderr_when_it_trains(tmp_path, capsys):
    reference_classifier(steps=5, cache_dir=tmp_path)
    err = capsys.readouterr().err
    [path] = tmp_path.glob("reference_classifier_8px_seed0_*.pt")
    assert err.count("\n") == 1 and "training the reference classifier" in err and str(path) in err
    reference_classifier(steps=5, cache_dir=tmp_path)  # cached: loads silently
    assert capsys.readouterr().err == ""


def test_reference_classifier_leaves_the_global_random_state_alone(tmp_path):
    torch.manual_seed(5)
    np.random.seed(5)
    expected_torch, expected_numpy = torch.rand(3), np.random.rand(3)
    torch.manual_seed(5)
    np.random.seed(5)
    reference_classifier(steps=5, cache_dir=tmp_path)  # trains
    torch.testing.assert_close(torch.rand(3), expected_torch)
    np.testing.assert_array_equal(np.random.rand(3), expected_numpy)


@pytest.mark.parametrize(
    "kwargs, match",
    [({"image_size": 10}, r"image_size must be divisible by 4"), ({"steps": 0}, r"steps must be > 0"),
     ({"data": (torch.zeros(4, 1, 28, 28), torch.zeros(4, dtype=torch.long))}, r"data images must have shape \(N, C, 8, 8\)")],
)
def test_reference_classifier_bad_input(kwargs, match, tmp_path):
    with pytest.raises(ValueError, match=match):
        reference_classifier(cache_dir=tmp_path, **kwargs)


def test_label_preservation_and_frechet_distance(reference_cache):
    _, clf = reference_cache
    test, train = igm.data.digits("test"), igm.data.digits("train")
    with torch.no_grad():
        own = clf(test.x).argmax(1)
    assert label_preservation(clf, test.x, own) == 1.0
    assert label_preservation(clf, test.x, (own + 1) % 10) == 0.0
    assert classifier_frechet_distance(clf, test.x, test.x) == pytest.approx(0.0, abs=1e-6)
    noise = torch.rand(360, 1, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1
    held_out = classifier_frechet_distance(clf, train.x[:360], test.x)
    assert held_out < 0.2 * classifier_frechet_distance(clf, train.x[:360], noise)


def test_cluster_accuracy_of_permuted_labels_is_one():
    labels = torch.arange(100) % 10
    permutation = torch.randperm(10, generator=torch.Generator().manual_seed(0))
    assert cluster_accuracy(labels, permutation[labels]) == 1.0
    assert cluster_accuracy(labels.numpy(), (labels + 20).tolist()) == 1.0  # any integer ids, any container


def test_cluster_accuracy_known_confusion():
    # clusters 5 -> class 0 (2 hits), 3 -> class 1 (2 hits, beats class 2's 1), 1 -> class 2 (1 hit): 5 / 6
    true, pred = [0, 0, 1, 1, 2, 2], [5, 5, 3, 3, 3, 1]
    assert cluster_accuracy(true, pred) == pytest.approx(5 / 6)
    assert match_clusters(true, pred) == {5: 0, 3: 1, 1: 2}
    # more clusters than classes: the extra cluster's points count as errors
    assert cluster_accuracy([0, 0, 1, 1], [0, 2, 1, 1]) == pytest.approx(3 / 4)
    # fewer clusters than classes: at most the matched classes are right
    assert cluster_accuracy([0, 1, 2, 2], [0, 0, 0, 0]) == pytest.approx(2 / 4)


@pytest.mark.parametrize(
    "true, pred, error, match",
    [([0, 1], [0], ValueError, r"labels_pred must have shape \(2,\), one label per entry of labels_true"),
     (torch.zeros(3), [0, 1, 2], TypeError, r"labels_true must hold integer class labels"),
     ([[0, 1]], [0, 1], ValueError, r"labels_true must be 1-D"),
     ([], [], ValueError, r"labels_true is empty")],
)
def test_cluster_accuracy_bad_input(true, pred, error, match):
    with pytest.raises(error, match=match):
        cluster_accuracy(true, pred)


def test_histogram_kl_counts_samples_outside_the_range_as_misses():
    density = igm.data.beta(2.0, 5.0)
    torch.manual_seed(0)
    good = density.sample((5000,))
    half_far = torch.cat([good[:2500], good[2500:] + 10])  # half the samples far outside the support
    # the missing half is one bin holding 1/2 of q and ~0 of p: KL(p || q) ~ log 2 more than the good fit
    assert histogram_kl(half_far, density) == pytest.approx(histogram_kl(good[:2500], density) + math.log(2), abs=0.02)
    assert histogram_kl(good + 10, density) > 10


# ---------------------------------------------------------------- Parzen-window log-likelihood

def test_parzen_with_one_sample_is_the_gaussian_log_density():
    torch.manual_seed(0)
    mu, sigma = torch.randn(1, 3), 0.7
    test = torch.randn(50, 3)
    expected = torch.distributions.Normal(mu.double(), sigma).log_prob(test.double()).sum(1)  # log N(x; mu, sigma^2 I)
    values = igm.metrics.parzen_log_likelihood(mu, test, sigma, reduction="none", batch_size=7)
    torch.testing.assert_close(values, expected)
    torch.testing.assert_close(igm.metrics.parzen_log_likelihood(mu, test, sigma), expected.mean())


def test_parzen_equals_a_mixture_log_density_and_handles_images():
    torch.manual_seed(0)
    samples, test = torch.randn(40, 1, 2, 2), torch.randn(30, 1, 2, 2)
    mixture = torch.distributions.MixtureSameFamily(
        torch.distributions.Categorical(torch.ones(40, dtype=torch.float64)),
        torch.distributions.Independent(torch.distributions.Normal(samples.reshape(40, 4).double(), 0.5), 1))
    values = igm.metrics.parzen_log_likelihood(samples, test, 0.5, reduction="none")
    torch.testing.assert_close(values, mixture.log_prob(test.reshape(30, 4).double()))


def test_parzen_scores_data_above_a_shifted_copy():
    torch.manual_seed(0)
    data = igm.data.ring()
    samples, test = data.sample((2000,)), data.sample((500,))
    own = igm.metrics.parzen_log_likelihood(samples, test, 0.05)
    shifted = igm.metrics.parzen_log_likelihood(samples + 0.3, test, 0.05)
    assert float(own) > float(shifted) + 1.0


def test_bandwidth_selection_finds_the_right_scale():
    """Samples of N(0, s^2 I) in 2-D: the KDE bandwidth that fits best is a fraction of s."""
    torch.manual_seed(0)
    for s in (0.05, 1.0):
        samples, validation = s * torch.randn(1000, 2), s * torch.randn(500, 2)
        result = igm.metrics.select_parzen_bandwidth(samples, validation, np.logspace(-4, 2, 61))
        assert 0.1 * s < result.bandwidth < s  # Silverman's rule gives 0.32 s for N = 1000, d = 2
        assert len(result.scores) == 61 and max(result.scores) == result.scores[result.candidates.index(result.bandwidth)]


@pytest.mark.parametrize(
    "args, kwargs, error, match",
    [
        ((torch.zeros(5, 2), torch.zeros(4, 3), 1.0), {}, ValueError, "same point shape"),
        ((torch.zeros(5), torch.zeros(4), 1.0), {}, ValueError, r"shapes \(N, \.\.\.\) and \(M, \.\.\.\)"),
        ((torch.zeros(5, 2), torch.zeros(4, 2), 0.0), {}, ValueError, "bandwidth must be > 0"),
        ((torch.zeros(5, 2), torch.zeros(4, 2), 1.0), {"reduction": "sum"}, ValueError, "unknown reduction 'sum'"),
        ((np.zeros((5, 2)), torch.zeros(4, 2), 1.0), {}, TypeError, "samples must be a torch.Tensor"),
    ],
)
def test_parzen_bad_input(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        igm.metrics.parzen_log_likelihood(*args, **kwargs)


def test_bandwidth_selection_needs_candidates():
    with pytest.raises(ValueError, match="candidates is empty"):
        igm.metrics.select_parzen_bandwidth(torch.zeros(5, 2), torch.zeros(4, 2), [])
