"""Tests of igmlib.models.moment_matching: statistics, MomentMatching and GMMN."""
import itertools

import numpy as np
import pytest
import torch
from torch import distributions as D

import igmlib as igm
from igmlib.models import GMMN, MomentMatching
from igmlib.models.moment_matching import STATISTICS


def numpy_central_moments(x: np.ndarray, order: int) -> np.ndarray:
    c = x - x.mean(0)
    return np.array([np.mean(np.prod(c[:, list(idx)], axis=1))
                     for idx in itertools.combinations_with_replacement(range(x.shape[1]), order)])


def test_named_statistics_match_numpy():
    x = torch.randn(500, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64) ** 3
    xn = x.numpy()
    np.testing.assert_allclose(STATISTICS["mean"](x).numpy(), xn.mean(0))
    cov = np.cov(xn, rowvar=False, bias=True)  # central second moments, 1/N normalised
    np.testing.assert_allclose(STATISTICS["covariance"](x).numpy(), cov[np.triu_indices(3)])
    np.testing.assert_allclose(STATISTICS["third"](x).numpy(), numpy_central_moments(xn, 3))
    np.testing.assert_allclose(STATISTICS["fourth"](x).numpy(), numpy_central_moments(xn, 4))
    assert STATISTICS["third"](x).shape == (10,) and STATISTICS["fourth"](x).shape == (15,)


def test_discrepancies_mean_and_callable_agree():
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(64, 2, generator=g), torch.randn(64, 2, generator=g) + 1.0
    model = MomentMatching(igm.nets.MLP(2, 2), 2, statistics=("mean", lambda x: x))
    errors = model.discrepancies(a, b)
    expected = ((a.mean(0) - b.mean(0)) ** 2).sum()
    torch.testing.assert_close(errors["mean"], expected)
    torch.testing.assert_close(errors["statistic_1"], expected)


def test_moment_matching_recovers_mean_and_covariance_of_a_gaussian():
    mean = torch.tensor([1.0, -2.0])
    cov = torch.tensor([[1.0, 0.6], [0.6, 0.5]])
    target = D.MultivariateNormal(mean, cov)
    torch.manual_seed(0)
    model = MomentMatching(igm.nets.MLP(2, 2, hidden=()), latent_dim=2, lr=2e-2)  # x = A z + b
    history = igm.fit(model, target, steps=400, batch_size=1024, seed=0)
    assert set(history) == {"generator", "mean", "covariance"}
    torch.manual_seed(1)
    x = model.sample(50_000)
    torch.testing.assert_close(x.mean(0), mean, atol=0.05, rtol=0)
    torch.testing.assert_close(torch.cov(x.T), cov, atol=0.05, rtol=0)


def test_gmmn_covers_the_ring():
    data = igm.data.ring()
    torch.manual_seed(0)
    model = GMMN(igm.nets.MLP(2, 2, hidden=(64, 64)), latent_dim=2, bandwidths=(0.05, 0.2, 1.0), lr=3e-3)
    history = igm.fit(model, data, steps=600, batch_size=256, seed=0)
    assert set(history) == {"generator", "mmd2"}
    # loss = sqrt of the biased MMD^2 estimate
    np.testing.assert_allclose(np.array(history["generator"]) ** 2, history["mmd2"], rtol=1e-4, atol=1e-8)
    torch.manual_seed(1)
    coverage = igm.metrics.mode_coverage(model.sample(2500), data)
    assert coverage.modes >= 7
    assert np.mean(history["mmd2"][-50:]) < 0.25 * np.mean(history["mmd2"][:10])


@pytest.mark.parametrize("options", [dict(bandwidths="median", unbiased=True), dict(bandwidths=1.0, sqrt=False)])
def test_gmmn_options_and_image_tuples(options):
    images = igm.data.digits("test")  # a tuple (x, y): the models use x
    model = GMMN(igm.nets.MLP(4, 64, hidden=(16,), out_activation="tanh"), latent_dim=4, **options)
    history = igm.fit(model, images, steps=3, batch_size=32, seed=0)
    assert all(np.isfinite(v).all() for v in history.values())
    assert model.sample(5).shape == (5, 64)
    if options.get("sqrt") is False:
        np.testing.assert_allclose(history["generator"], history["mmd2"], rtol=1e-6)


def test_players():
    for model in (MomentMatching(igm.nets.MLP(2, 2), 2), GMMN(igm.nets.MLP(2, 2), 2)):
        (player,) = model.players()
        assert player.name == "generator" and player.needs_data
        assert {id(p) for p in player.parameters()} == {id(p) for p in model.generator.parameters()}


G = igm.nets.MLP(2, 2)


def bad_statistic_run():
    model = MomentMatching(G, 2, statistics=(lambda x: x.sum(),))
    model.generator_loss(torch.zeros(8, 2))


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: MomentMatching(G, 2, statistics=("mean", "kurtosis")), ValueError,
         "unknown statistic 'kurtosis'; choose one of: mean, covariance, third, fourth"),
        (lambda: MomentMatching(G, 2, statistics=()), ValueError, "statistics is empty"),
        (lambda: MomentMatching(G, 2, statistics=("mean", "mean")), ValueError, "distinct"),
        (lambda: MomentMatching(G, 2, statistics=(3,)), TypeError, "name or a callable"),
        (lambda: MomentMatching(G, 2, weights=(1.0,)), ValueError, "one entry per statistic"),
        (lambda: MomentMatching("mlp", 2), TypeError, "torch.nn.Module"),
        (lambda: MomentMatching(G, 0), ValueError, "latent_dim must be > 0"),
        (bad_statistic_run, ValueError, r"must map x \(8, 2\) to a tensor \(8, k\)"),
        (lambda: MomentMatching(G, 2).discrepancies(torch.zeros(4, 2), torch.zeros(4, 3)), ValueError, "features"),
        (lambda: GMMN(G, 2, bandwidths="silverman"), ValueError, "unknown bandwidths 'silverman'"),
        (lambda: GMMN(G, 2, bandwidths=(1.0, -1.0)), ValueError, "bandwidth must be > 0"),
        (lambda: GMMN(G, 2, bandwidths=()), ValueError, "empty"),
        (lambda: GMMN(G, 2, lr=0), ValueError, "lr must be > 0"),
        (lambda: GMMN(G, 2).mmd2(torch.zeros(4, 2), torch.zeros(4, 3)), ValueError, "same number of features"),
    ],
)
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()
