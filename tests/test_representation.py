"""Representation metrics: the linear probe and the same-mode rate of reconstructions."""
import numpy as np
import pytest
import torch

import igmlib as igm
from igmlib.metrics import linear_probe, same_mode_rate


def blobs(n, seed, separated=True):
    """Three classes in 5-D: far-apart means (linearly separable) or features independent of the label."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 3
    means = 10.0 * torch.eye(5)[:3] if separated else torch.zeros(3, 5)
    return means[y] + torch.randn(n, 5, generator=g), y


def test_linear_probe_on_separable_features_is_perfect():
    assert linear_probe(*blobs(300, 0), *blobs(300, 1)) == pytest.approx(1.0)


def test_linear_probe_on_random_features_is_at_chance():
    # 3 balanced classes: chance is 1/3; with 3000 test points its standard error is 0.0086
    acc = linear_probe(*blobs(600, 0, separated=False), *blobs(3000, 1, separated=False))
    assert acc == pytest.approx(1 / 3, abs=0.04)


def test_linear_probe_flattens_images_and_accepts_numpy():
    train, test = igm.data.digits("train"), igm.data.digits("test")
    acc = linear_probe(train.x, train.y, test.x.numpy(), test.y.numpy())
    assert 0.9 < acc <= 1.0  # raw 8x8 pixels are nearly linearly separable


def test_linear_probe_is_invariant_to_feature_scale():
    # features are standardised with the training statistics, so rescaling them changes nothing
    xtr, ytr = blobs(300, 0, separated=False)
    xte, yte = blobs(300, 1, separated=False)
    xtr[:, 0] += 3 * ytr  # one weakly informative feature
    xte[:, 0] += 3 * yte
    scale = torch.tensor([1e3, 1e-3, 1.0, 5.0, 1.0])
    assert linear_probe(xtr * scale, ytr, xte * scale, yte) == pytest.approx(linear_probe(xtr, ytr, xte, yte), abs=0.01)


@pytest.mark.parametrize(
    "args, error, match",
    [
        ((torch.randn(10, 2), torch.zeros(9, dtype=torch.long), torch.randn(5, 2), torch.zeros(5, dtype=torch.long)),
         ValueError, r"train_labels must have shape \(10,\)"),
        ((torch.randn(10, 2), torch.arange(10) % 2, torch.randn(5, 3), torch.zeros(5, dtype=torch.long)),
         ValueError, r"same number of features, got 2 and 3"),
        ((torch.randn(10, 2), (torch.arange(10) % 2).float(), torch.randn(5, 2), torch.zeros(5, dtype=torch.long)),
         TypeError, r"integer class labels"),
        ((torch.randn(10, 2), torch.zeros(10, dtype=torch.long), torch.randn(5, 2), torch.zeros(5, dtype=torch.long)),
         ValueError, r"at least two classes"),
        ((torch.randn(10), torch.arange(10) % 2, torch.randn(5, 2), torch.zeros(5, dtype=torch.long)),
         ValueError, r"train_features must have shape \(N, F\)"),
    ],
)
def test_linear_probe_rejects_bad_input(args, error, match):
    with pytest.raises(error, match=match):
        linear_probe(*args)


def test_same_mode_rate_of_perfect_and_shuffled_reconstructions():
    torch.manual_seed(0)
    data = igm.data.grid()
    x = data.sample((2000,))
    assert same_mode_rate(x, x, data) == 1.0
    # a reconstruction that is another sample of the same mode still counts
    centres = igm.metrics.mixture_modes(data)[0]
    nearest = torch.cdist(x, centres).argmin(1)
    assert same_mode_rate(x, centres[nearest] + 0.05 * torch.randn_like(x), centres=centres) == 1.0
    # reconstructions unrelated to the input agree with it by chance: 1/25 for 25 equal modes
    rate = same_mode_rate(x, x[torch.randperm(2000)], data)
    assert rate == pytest.approx(1 / 25, abs=0.02)  # 4.5 binomial standard errors


@pytest.mark.parametrize(
    "x_rec, kwargs, match",
    [
        (torch.randn(9, 2), {"data": igm.data.grid()}, r"x_rec must have the shape of x, \(10, 2\), got \(9, 2\)"),
        (torch.randn(10, 3), {"data": igm.data.grid()}, r"x_rec must have shape \(N, 2\)"),
        (torch.randn(10, 2), {}, r"pass either data"),
        (torch.randn(10, 2), {"data": igm.data.grid(), "centres": torch.zeros(3, 2)}, r"pass either data"),
    ],
)
def test_same_mode_rate_rejects_bad_input(x_rec, kwargs, match):
    with pytest.raises(ValueError, match=match):
        same_mode_rate(torch.randn(10, 2), x_rec, **kwargs)


def test_same_mode_rate_needs_a_gaussian_mixture():
    with pytest.raises(TypeError, match=r"mixture of Gaussians"):
        same_mode_rate(torch.randn(4, 2), torch.randn(4, 2), torch.distributions.Normal(torch.zeros(2), 1.0))


def test_numpy_random_state_untouched():
    state = np.random.get_state()[1].copy()
    linear_probe(*blobs(60, 0), *blobs(60, 1))
    assert np.array_equal(np.random.get_state()[1], state)
