"""Metrics that scale: the blocked MMD, median heuristic, k-NN precision/recall and Parzen windows
give the unblocked / brute-force values on small inputs, keep their gradients, and refuse NaN.

Memory and time against the sample size are measured in benchmarks/memory.py, not here."""
import math

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist, pdist
from scipy.special import logsumexp

import igmlib as igm
from igmlib.divergences import kernels
from igmlib.divergences import median_bandwidth, mmd2
from igmlib.metrics import likelihood, two_sample


def _samples(n, m, d=3, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=dtype), 0.5 + 1.5 * torch.randn(m, d, generator=g, dtype=dtype)


def unblocked_mmd2(x, y, hs, unbiased):
    """The estimator written out on whole kernel matrices (the formula before blocking)."""
    def k(a, b):
        sq = ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
        return sum(torch.exp(-sq / (2 * h * h)) for h in hs)

    n, m = len(x), len(y)
    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    if unbiased:
        return (kxx.sum() - kxx.trace()) / (n * (n - 1)) + (kyy.sum() - kyy.trace()) / (m * (m - 1)) - 2 * kxy.mean()
    return kxx.mean() + kyy.mean() - 2 * kxy.mean()


# ---------------------------------------------------------------- MMD

@pytest.mark.parametrize("unbiased", [True, False])
@pytest.mark.parametrize("block_size", [1, 4, 13, 40, 41, None])
def test_blocked_mmd2_equals_the_unblocked_formula(unbiased, block_size):
    x, y = _samples(41, 29)
    hs = (0.3, 1.0, 4.0)
    want = unblocked_mmd2(x, y, hs, unbiased)
    got = mmd2(x, y, bandwidth=hs, unbiased=unbiased, block_size=block_size)
    assert abs(float(got) - float(want)) < 1e-12
    assert got.dtype == torch.float64 and got.shape == ()


def test_blocked_path_is_taken_only_beyond_one_block(monkeypatch):
    calls = []
    real = kernels._block_sum
    monkeypatch.setattr(kernels, "_block_sum", lambda rows, *args: calls.append(len(rows)) or real(rows, *args))
    x, y = _samples(10, 7)
    mmd2(x, y, bandwidth=1.0, block_size=4)
    # x against x: rows 4, 4, 2; y against y: 4, 3; x against y: 4, 4, 2
    assert calls == [4, 4, 2, 4, 3, 4, 4, 2]
    calls.clear()
    x, y = _samples(256, 256, d=2, dtype=torch.float32)  # GMMN's batch: the one-block path
    mmd2(x, y, bandwidth=(1.0, 2.0))
    assert calls == []
    monkeypatch.setattr(kernels, "BLOCK_ENTRIES", 256 * 100)  # the default rows follow BLOCK_ENTRIES
    mmd2(x, y, bandwidth=(1.0, 2.0))
    assert calls[:3] == [100, 100, 56]


@pytest.mark.parametrize("unbiased", [True, False])
def test_blocked_mmd2_gradient_equals_the_unblocked_gradient(unbiased):
    x, y = _samples(23, 17)
    hs = (0.5, 2.0)
    grads = []
    for block_size in (None, 5):
        a, b = x.clone().requires_grad_(), y.clone().requires_grad_()
        mmd2(a, b, bandwidth=hs, unbiased=unbiased, block_size=block_size).backward()
        grads.append((a.grad, b.grad))
    a, b = x.clone().requires_grad_(), y.clone().requires_grad_()
    unblocked_mmd2(a, b, hs, unbiased).backward()
    for ga, gb in grads:
        torch.testing.assert_close(ga, a.grad, rtol=0, atol=1e-12)
        torch.testing.assert_close(gb, b.grad, rtol=0, atol=1e-12)


@pytest.mark.parametrize("checkpointed", [False, True])
def test_blocked_mmd2_gradcheck_and_checkpointing(monkeypatch, checkpointed):
    used = []
    real = kernels.checkpoint
    monkeypatch.setattr(kernels, "checkpoint", lambda *args, **kw: used.append(1) or real(*args, **kw))
    if checkpointed:
        monkeypatch.setattr(kernels, "CHECKPOINT_ENTRIES", 7 * 7 + 6 * 6 + 7 * 6 - 1)  # just over the limit
    x, y = _samples(7, 6)
    x.requires_grad_()
    assert torch.autograd.gradcheck(lambda a: mmd2(a, y, bandwidth=(0.7, 2.0), block_size=3), (x,))
    assert bool(used) == checkpointed  # blocks recomputed in the backward pass instead of kept
    used.clear()
    with torch.no_grad():
        mmd2(x, y, bandwidth=1.0, block_size=3)
    assert not used


def test_blocked_mmd2_in_float32_agrees_with_float64():
    x, y = _samples(300, 200, d=2)
    want = float(mmd2(x, y, bandwidth=1.0))
    got = float(mmd2(x.float(), y.float(), bandwidth=1.0, block_size=37))
    assert got == pytest.approx(want, abs=1e-6)


# ---------------------------------------------------------------- median heuristic

def test_median_bandwidth_is_exact_and_blocked_below_max_points(monkeypatch):
    x, y = _samples(120, 81)
    want = float(np.median(pdist(torch.cat([x, y]).numpy())))
    assert median_bandwidth(x, y) == pytest.approx(want, rel=1e-12)
    monkeypatch.setattr(kernels, "BLOCK_ENTRIES", 500)  # blocks of 2 rows
    assert median_bandwidth(x, y) == pytest.approx(want, rel=1e-12)
    assert median_bandwidth(x, y, max_points=201) == pytest.approx(want, rel=1e-12)  # exactly at the limit


def test_median_bandwidth_subsamples_with_a_fixed_generator():
    x, y = _samples(300, 200)
    z = torch.cat([x, y])
    for seed in (0, 5):
        keep = torch.randperm(500, generator=torch.Generator().manual_seed(seed))[:64]
        want = float(np.median(pdist(z[keep].numpy())))
        assert median_bandwidth(x, y, max_points=64, seed=seed) == pytest.approx(want, rel=1e-12)
    assert median_bandwidth(x, y, max_points=64) == median_bandwidth(x, y, max_points=64)  # deterministic
    assert median_bandwidth(x, y, max_points=64) != median_bandwidth(x, y, max_points=64, seed=5)
    exact = float(np.median(pdist(z.numpy())))
    assert median_bandwidth(x, y, max_points=None) == pytest.approx(exact, rel=1e-12)
    assert median_bandwidth(x, y, max_points=256) == pytest.approx(exact, rel=0.05)  # a subsample is close


def test_median_bandwidth_default_limit_is_documented_size():
    assert kernels.MEDIAN_MAX_POINTS == 4096
    assert "4,096" in median_bandwidth.__doc__


# ---------------------------------------------------------------- precision and recall

def brute_force_precision_recall(real, fake, k):
    r, f = real.numpy(), fake.numpy()
    radius_r = np.sort(cdist(r, r), axis=1)[:, k]
    radius_f = np.sort(cdist(f, f), axis=1)[:, k]
    precision = (cdist(f, r) <= radius_r[None, :]).any(axis=1).mean()
    recall = (cdist(r, f) <= radius_f[None, :]).any(axis=1).mean()
    return precision, recall


def test_precision_recall_blocks_equal_brute_force(monkeypatch):
    real, fake = _samples(200, 150, d=2, seed=3)
    want = brute_force_precision_recall(real, fake, 3)
    assert 0.5 < want[0] < 0.9 and 0.9 < want[1] < 1  # neither is trivially 0 or 1
    assert precision_recall_values(real, fake) == pytest.approx(want, abs=1e-12)
    assert precision_recall_values(real, fake, batch_size=7) == pytest.approx(want, abs=1e-12)
    monkeypatch.setattr(two_sample, "BLOCK_ENTRIES", 1000)  # default blocks of 5 rows
    monkeypatch.setattr(two_sample, "KNN_MIN_ROWS", 1)
    assert precision_recall_values(real, fake) == pytest.approx(want, abs=1e-12)


def precision_recall_values(real, fake, **kwargs):
    return tuple(igm.metrics.precision_recall(real, fake, k=3, **kwargs))


# ---------------------------------------------------------------- Parzen windows

def brute_force_parzen(samples, test, sigma):
    sq = cdist(test.numpy(), samples.numpy(), "sqeuclidean")
    n, d = samples.shape
    return logsumexp(-sq / (2 * sigma**2), axis=1) - math.log(n) - 0.5 * d * math.log(2 * math.pi * sigma**2)


@pytest.mark.parametrize("batch_size", [1, 9, None])
def test_parzen_blocks_equal_brute_force(batch_size):
    samples, test = _samples(97, 31, d=2, seed=4)
    for sigma in (0.05, 0.7):
        got = igm.metrics.parzen_log_likelihood(samples, test, sigma, reduction="none", batch_size=batch_size)
        np.testing.assert_allclose(got.numpy(), brute_force_parzen(samples, test, sigma), rtol=1e-12, atol=1e-10)


def test_bandwidth_selection_scores_are_the_parzen_scores(monkeypatch):
    samples, validation = _samples(80, 40, d=2, seed=5)
    candidates = (0.1, 0.3, 1.0)
    monkeypatch.setattr(two_sample, "BLOCK_ENTRIES", 80 * 6)  # blocks of 6 validation points
    result = igm.metrics.select_parzen_bandwidth(samples, validation, candidates)
    want = [brute_force_parzen(samples, validation, c).mean() for c in candidates]
    np.testing.assert_allclose(result.scores, want, rtol=1e-12)
    assert result.bandwidth == candidates[int(np.argmax(want))]


# ---------------------------------------------------------------- NaN / Inf at the door

X = torch.zeros(10, 2)


def _with(value):
    x = torch.randn(10, 2, generator=torch.Generator().manual_seed(0))
    x[3, 1] = value
    return x


RING = igm.data.ring()
CALLS = {
    "precision_recall real": lambda bad: igm.metrics.precision_recall(bad, X),
    "precision_recall fake": lambda bad: igm.metrics.precision_recall(X, bad),
    "two_sample_accuracy": lambda bad: igm.metrics.two_sample_accuracy(X, bad),
    "parzen samples": lambda bad: igm.metrics.parzen_log_likelihood(bad, X, 1.0),
    "parzen test": lambda bad: igm.metrics.parzen_log_likelihood(X, bad, 1.0),
    "select_parzen_bandwidth": lambda bad: igm.metrics.select_parzen_bandwidth(X, bad, [1.0]),
    "gaussian_log_likelihood": lambda bad: igm.metrics.gaussian_log_likelihood(bad, X),
    "mode_coverage": lambda bad: igm.metrics.mode_coverage(bad, RING),
    "mode_kl": lambda bad: igm.metrics.mode_kl(bad, RING),
    "mode_kl centres": lambda bad: igm.metrics.mode_kl(X, centres=bad, std=0.1),
    "toy_log_likelihood": lambda bad: igm.metrics.toy_log_likelihood(bad, RING),
    "wasserstein_1d": lambda bad: igm.metrics.wasserstein_1d(X[:, :1], bad[:, 1:]),
    "histogram_kl": lambda bad: igm.metrics.histogram_kl(bad[:, 1:], igm.data.beta(), range=(0.0, 1.0)),
}
NAMES = {"precision_recall real": "real", "precision_recall fake": "fake", "two_sample_accuracy": "fake",
         "parzen samples": "samples", "parzen test": "test", "select_parzen_bandwidth": "test",
         "gaussian_log_likelihood": "train", "mode_coverage": "samples", "mode_kl": "samples",
         "mode_kl centres": "centres", "toy_log_likelihood": "samples", "wasserstein_1d": "samples_b",
         "histogram_kl": "samples"}


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("call", sorted(CALLS))
def test_metrics_refuse_nan_and_inf(call, value):
    name = NAMES[call]
    with pytest.raises(ValueError, match=rf"^{name} contains NaN or infinite values \(1 of \d+ entries\): metrics need "
                                         rf"finite inputs; drop them first, e\.g\. {name}\[torch\.isfinite"):
        CALLS[call](_with(value))


@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_median_bandwidth_refuses_nan(value):
    with pytest.raises(ValueError, match=r"the samples contain NaN or infinite values: the median distance is undefined"):
        median_bandwidth(X, _with(value))
    with pytest.raises(ValueError, match=r"NaN or infinite"):
        mmd2(X, _with(value), bandwidth="median")


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: mmd2(X, X, bandwidth=1.0, block_size=0), ValueError, r"block_size must be > 0, got 0"),
        (lambda: mmd2(X, X, bandwidth=1.0, block_size=2.5), TypeError, r"block_size must be an int"),
        (lambda: median_bandwidth(X, max_points=1), ValueError, r"max_points must be >= 2 \(or None for every sample\)"),
        (lambda: median_bandwidth(X, max_points="all"), TypeError, r"max_points must be an int"),
        (lambda: igm.metrics.parzen_log_likelihood(X, X, 1.0, batch_size=0), ValueError, r"batch_size must be > 0"),
        (lambda: igm.metrics.select_parzen_bandwidth(X, X, [1.0], batch_size=-1), ValueError, r"batch_size must be > 0"),
        (lambda: igm.metrics.precision_recall(X, X, batch_size=0), ValueError, r"batch_size must be > 0"),
    ],
)
def test_block_arguments_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_likelihood_uses_the_shared_block_size():
    assert likelihood.block_rows is two_sample.block_rows
    assert two_sample.block_rows(None, 2**20) == 1 and two_sample.block_rows(None, 10) == 2**18 // 10
